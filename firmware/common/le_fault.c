/* Fault handlers: print one line naming the fault, the faulting PC and the fault status registers,
 * then stop through le_exit (SYS_EXIT with code LE_EXIT_FAULT under QEMU; spin on a real board).
 * A fault never hangs silently. MemManage, BusFault and UsageFault are enabled in SHCSR by
 * le_fault_enable() so they report as themselves instead of escalating to HardFault. */
#include <stdint.h>

#include "le_board.h"
#include "le_print.h"

#define LE_EXIT_FAULT 3

#define SCB_SHCSR (*(volatile uint32_t *)0xE000ED24u)
#define SCB_CFSR  (*(volatile uint32_t *)0xE000ED28u)  /* MMFSR | BFSR << 8 | UFSR << 16 */
#define SCB_HFSR  (*(volatile uint32_t *)0xE000ED2Cu)
#define SCB_MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define SCB_BFAR  (*(volatile uint32_t *)0xE000ED38u)
#define SCB_CCR   (*(volatile uint32_t *)0xE000ED14u)

static const char *const fault_names[] = {
    [0] = "HardFault", [1] = "MemManage", [2] = "BusFault", [3] = "UsageFault",
};

void le_fault_enable(void) {
    SCB_SHCSR |= (1u << 16) | (1u << 17) | (1u << 18);  /* MEMFAULTENA, BUSFAULTENA, USGFAULTENA */
    SCB_CCR |= (1u << 4);                                /* DIV_0_TRP: divide by zero faults */
}

/* frame: the exception stack frame r0, r1, r2, r3, r12, lr, pc, xpsr. */
void le_fault_report(const uint32_t *frame, uint32_t kind) __attribute__((used, noreturn));
void le_fault_report(const uint32_t *frame, uint32_t kind) {
    le_line_begin();
    le_line_str("FAULT ");
    le_line_str(fault_names[kind & 3u]);
    le_line_str(" pc=");
    le_line_hex(frame[6]);
    le_line_str(" lr=");
    le_line_hex(frame[5]);
    le_line_str(" cfsr=");
    le_line_hex(SCB_CFSR);
    le_line_str(" hfsr=");
    le_line_hex(SCB_HFSR);
    le_line_str(" mmfar=");
    le_line_hex(SCB_MMFAR);
    le_line_str(" bfar=");
    le_line_hex(SCB_BFAR);
    le_line_end();
    le_exit(LE_EXIT_FAULT);
}

/* Pick the stack the frame was pushed on (bit 2 of EXC_RETURN), pass it and the fault kind. */
#define LE_FAULT_STUB(name, kind)                                   \
    __attribute__((naked)) void name(void) {                        \
        __asm__ volatile("tst lr, #4\n"                             \
                         "ite eq\n"                                 \
                         "mrseq r0, msp\n"                          \
                         "mrsne r0, psp\n"                          \
                         "movs r1, #" #kind "\n"                    \
                         "b le_fault_report\n");                    \
    }

LE_FAULT_STUB(HardFault_Handler, 0)
LE_FAULT_STUB(MemManage_Handler, 1)
LE_FAULT_STUB(BusFault_Handler, 2)
LE_FAULT_STUB(UsageFault_Handler, 3)

/* Any other exception or interrupt we did not expect. */
void Default_Handler(void) {
    le_puts("FAULT unexpected interrupt");
    le_exit(LE_EXIT_FAULT);
}
