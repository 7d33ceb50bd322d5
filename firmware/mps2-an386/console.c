/* MPS2 AN386: console through semihosting (QEMU prints it on stdout). */
#include "le_board.h"
#include "le_semihost.h"

const char le_board_name[] = "mps2-an386 cortex-m4f requant="
#if defined(LENET5_INT_REQUANT)
    "int";
#else
    "float";
#endif

void le_board_init(void) {}

void le_console_write(const char *s, size_t n) { le_sh_write(s, n); }

void le_exit(int code) { le_sh_exit(code); }
