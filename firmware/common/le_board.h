/* The board interface main.c is written against. Each firmware/<board>/ folder implements it in
 * console.c (clocks, pins, console) and startup.c (vector table, reset). */
#ifndef LE_BOARD_H
#define LE_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Clocks and console pins; called once by le_crt0 before main. */
void le_board_init(void);

/* Write n bytes to the console (semihosting or a polled UART, per board). */
void le_console_write(const char *s, size_t n);

/* End of the program. Under QEMU (semihosting available): SYS_EXIT with `code`. On a real board
 * without a debugger: spin forever (the sentinel line has already been printed). */
void le_exit(int code) __attribute__((noreturn));

/* Board name, CPU and requant path, printed on the boot line. */
extern const char le_board_name[];

#endif
