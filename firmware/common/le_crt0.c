/* C runtime start, shared by every board: copy .data, zero .bss, paint the stack, run main.
 * The board's Reset_Handler (startup.c) does the CPU-specific part first (FPU enable) and then
 * calls le_crt0_start(). Symbols come from the board's linker.ld. */
#include <stdint.h>

#include "le_board.h"
#include "le_stack.h"

extern uint32_t __data_load__[], __data_start__[], __data_end__[];
extern uint32_t __bss_start__[], __bss_end__[];
extern uint32_t __stack_limit__[], __stack_top__[];

int main(void);

/* Fill the whole stack region below the current SP with LE_STACK_PAINT; le_stack_peak() later
 * finds the lowest word that was overwritten. Runs before main, so only this frame is live. */
static void paint_stack(void) {
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = __stack_limit__; p < sp - 8; p++) *p = LE_STACK_PAINT;
}

uint32_t le_stack_peak(void) {
    const uint32_t *p = __stack_limit__;
    while (p < __stack_top__ && *p == LE_STACK_PAINT) p++;
    return (uint32_t)((const char *)__stack_top__ - (const char *)p);
}

uint32_t le_stack_size(void) {
    return (uint32_t)((const char *)__stack_top__ - (const char *)__stack_limit__);
}

/* Word loops, not memcpy/memset: gcc -Os would turn these loops into calls to newlib's memcpy
 * (308 B of flash on the M4, nothing else in the default firmware calls it) and memset; the empty
 * asm keeps each loop a loop. */
void le_crt0_start(void) {
    for (uint32_t *src = __data_load__, *dst = __data_start__; dst < __data_end__;) {
        *dst++ = *src++;
        __asm__ volatile("" ::: "memory");
    }
    for (uint32_t *dst = __bss_start__; dst < __bss_end__;) {
        *dst++ = 0;
        __asm__ volatile("" ::: "memory");
    }
    paint_stack();
    le_board_init();
    le_exit(main());
}
