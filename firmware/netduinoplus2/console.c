/* STM32F405 clocks and USART1 console (polled, 115200 8N1 on PA9 TX / PA10 RX, AF7).
 *
 * Clock: HSE crystal (LE_HSE_HZ, 25 MHz on the Netduino Plus 2) -> PLL -> 168 MHz SYSCLK,
 * APB2 = 84 MHz (USART1), APB1 = 42 MHz, flash 5 wait states. Every wait on a ready flag is
 * bounded: if the crystal or PLL never reports ready (no crystal fitted, or QEMU, whose 7.2 model
 * has no RCC), the chip stays on its 16 MHz HSI and the baud divider is computed for that. */
#include <stdint.h>

#include "le_board.h"
#include "le_semihost.h"

#ifndef LE_HSE_HZ
#define LE_HSE_HZ 25000000u
#endif
#define HSI_HZ 16000000u
#define BAUD 115200u
#define READY_TRIES 200000u

#define REG(addr) (*(volatile uint32_t *)(addr))
#define RCC_CR       REG(0x40023800u)
#define RCC_PLLCFGR  REG(0x40023804u)
#define RCC_CFGR     REG(0x40023808u)
#define RCC_AHB1ENR  REG(0x40023830u)
#define RCC_APB2ENR  REG(0x40023844u)
#define FLASH_ACR    REG(0x40023C00u)
#define GPIOA_MODER  REG(0x40020000u)
#define GPIOA_PUPDR  REG(0x4002000Cu)
#define GPIOA_AFRH   REG(0x40020024u)
#define USART1_SR    REG(0x40011000u)
#define USART1_DR    REG(0x40011004u)
#define USART1_BRR   REG(0x40011008u)
#define USART1_CR1   REG(0x4001100Cu)

#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define USART_SR_TC (1u << 6)
#define USART_SR_TXE (1u << 7)

const char le_board_name[] = "netduinoplus2 stm32f405 cortex-m4f requant="
#if defined(LENET5_INT_REQUANT)
    "int";
#else
    "float";
#endif

static int wait_set(volatile uint32_t *reg, uint32_t mask, uint32_t want) {
    for (uint32_t i = 0; i < READY_TRIES; i++)
        if ((*reg & mask) == want) return 1;
    return 0;
}

/* Returns the APB2 clock in Hz. */
static uint32_t clock_init(void) {
    RCC_CR |= RCC_CR_HSEON;
    if (!wait_set(&RCC_CR, RCC_CR_HSERDY, RCC_CR_HSERDY)) {
        RCC_CR &= ~RCC_CR_HSEON;
        return HSI_HZ;                      /* APB2 = SYSCLK = HSI after reset */
    }
    /* VCO in = HSE / M = 1 MHz; VCO out = 336 MHz; SYSCLK = VCO / 2 = 168 MHz; USB = VCO / 7. */
    const uint32_t m = LE_HSE_HZ / 1000000u, n = 336u, p_bits = 0u /* /2 */, q = 7u;
    RCC_PLLCFGR = m | (n << 6) | (p_bits << 16) | (1u << 22) /* PLLSRC = HSE */ | (q << 24);
    RCC_CR |= RCC_CR_PLLON;
    if (!wait_set(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY)) {
        RCC_CR &= ~(RCC_CR_PLLON | RCC_CR_HSEON);
        return HSI_HZ;
    }
    FLASH_ACR = 5u | (1u << 8) | (1u << 9) | (1u << 10);  /* 5 WS, prefetch, I-cache, D-cache */
    RCC_CFGR = (RCC_CFGR & ~0xFCF3u) | (5u << 10) /* APB1 /4 */ | (4u << 13) /* APB2 /2 */;
    RCC_CFGR = (RCC_CFGR & ~3u) | 2u;                     /* SW = PLL */
    if (!wait_set(&RCC_CFGR, 0xCu, 0x8u)) {               /* SWS = PLL */
        RCC_CFGR &= ~3u;
        return HSI_HZ;
    }
    return 84000000u;
}

void le_board_init(void) {
    uint32_t pclk2 = clock_init();
    RCC_AHB1ENR |= 1u << 0;                               /* GPIOA clock */
    RCC_APB2ENR |= 1u << 4;                               /* USART1 clock */
    /* PA9, PA10: alternate function 7 (USART1); pull-up on RX. */
    GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 18)) | (0xAu << 18);
    GPIOA_PUPDR = (GPIOA_PUPDR & ~(0x3u << 20)) | (0x1u << 20);
    GPIOA_AFRH = (GPIOA_AFRH & ~(0xFFu << 4)) | (0x77u << 4);
    USART1_BRR = (pclk2 + BAUD / 2u) / BAUD;              /* 16x oversampling: BRR = f / baud */
    USART1_CR1 = (1u << 13) | (1u << 3) | (1u << 2);      /* UE, TE, RE */
}

void le_console_write(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        wait_set(&USART1_SR, USART_SR_TXE, USART_SR_TXE);  /* bounded: never hangs */
        USART1_DR = (uint8_t)s[i];
    }
}

void le_exit(int code) {
    wait_set(&USART1_SR, USART_SR_TC, USART_SR_TC);       /* last byte out of the shifter */
#ifdef LE_QEMU_EXIT
    le_sh_exit(code);
#else
    (void)code;                                           /* real board: nobody to return to */
    for (;;) __asm__ volatile("wfi");
#endif
}
