/* ARM semihosting (BKPT 0xAB on M-profile). Available under QEMU with -semihosting-config
 * enable=on and under a debugger; on a board with no debugger attached BKPT faults, so UART boards
 * only use it when built for QEMU (-DLE_QEMU_EXIT). */
#ifndef LE_SEMIHOST_H
#define LE_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

int le_sh_open(const char *path);                  /* binary read; returns handle or -1 */
int le_sh_flen(int fd);                            /* file length in bytes, or -1 */
int le_sh_read(int fd, void *buf, size_t n);       /* returns bytes actually read */
void le_sh_write(const char *s, size_t n);         /* to the debugger console (stdout under QEMU) */
void le_sh_exit(int code) __attribute__((noreturn)); /* SYS_EXIT_EXTENDED: QEMU exits with `code` */

#endif
