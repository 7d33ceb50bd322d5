/* MPS2 AN386 (Cortex-M4F) vector table and reset. CMSDK-M4 has 32 external interrupts. */
#include <stdint.h>

extern uint32_t __stack_top__[];
void le_crt0_start(void) __attribute__((noreturn));
void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void MemManage_Handler(void);
void BusFault_Handler(void);
void UsageFault_Handler(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

void Reset_Handler(void) {
    /* FPU: full access for CP10 and CP11 before any floating-point instruction runs (the float
     * requant path uses VMUL/VCVT; without this the first one raises a UsageFault NOCP). */
    SCB_CPACR |= (0xFu << 20);
    __asm__ volatile("dsb\n isb" ::: "memory");
    le_crt0_start();
}

#define IRQS 32
__attribute__((section(".isr_vector"), used))
static void (*const vectors[16 + IRQS])(void) = {
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
    [16 ... 16 + IRQS - 1] = Default_Handler,
};
