/* Cortex-M vector table and reset handler, shared by every board. A board's startup.c defines
 * LE_IRQS (its number of external interrupts) and includes this file once.
 * Reset: on cores with an FPU (__ARM_FP), grant full access to CP10/CP11 before any floating-point
 * instruction runs (the float requant path uses VMUL/VCVT; without it the first one raises a
 * UsageFault NOCP); then le_crt0_start() sets up .data/.bss, paints the stack and calls main. */
#ifndef LE_VECTORS_H
#define LE_VECTORS_H
#include <stdint.h>

#ifndef LE_IRQS
#error "define LE_IRQS (external interrupts of the part) before including le_vectors.h"
#endif

extern uint32_t __stack_top__[];
void le_crt0_start(void) __attribute__((noreturn));
void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void MemManage_Handler(void);
void BusFault_Handler(void);
void UsageFault_Handler(void);

void Reset_Handler(void) {
#if defined(__ARM_FP)
    *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20);   /* SCB->CPACR: CP10, CP11 full access */
    __asm__ volatile("dsb\n isb" ::: "memory");
#endif
    le_crt0_start();
}

__attribute__((section(".isr_vector"), used))
static void (*const vectors[16 + LE_IRQS])(void) = {
    [0] = (void (*)(void))__stack_top__,
    [1] = Reset_Handler,
    [2] = Default_Handler,     /* NMI */
    [3] = HardFault_Handler,
    [4] = MemManage_Handler,
    [5] = BusFault_Handler,
    [6] = UsageFault_Handler,
    [11] = Default_Handler,    /* SVCall */
    [12] = Default_Handler,    /* DebugMonitor */
    [14] = Default_Handler,    /* PendSV */
    [15] = Default_Handler,    /* SysTick */
    [16 ... 16 + LE_IRQS - 1] = Default_Handler,
};
#endif
