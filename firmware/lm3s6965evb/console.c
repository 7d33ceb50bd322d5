/* LM3S6965 clock and UART0 console (polled, 115200 8N1 on PA0 RX / PA1 TX).
 *
 * Clock: the EK-LM3S6965's 8 MHz crystal, PLL bypassed (RCC: XTAL = 8 MHz, OSCSRC = main,
 * BYPASS = 1, no system divider), so SYSCLK = 8 MHz and the UART divider is exact to 0.2 %. */
#include <stdint.h>

#include "le_board.h"
#include "le_semihost.h"

#define SYSCLK_HZ 8000000u
#define BAUD 115200u
#define TX_TRIES 200000u

#define REG(addr) (*(volatile uint32_t *)(addr))
#define SYSCTL_RCC   REG(0x400FE060u)
#define SYSCTL_RCGC1 REG(0x400FE104u)
#define SYSCTL_RCGC2 REG(0x400FE108u)
#define GPIOA_AFSEL  REG(0x40004420u)
#define GPIOA_DEN    REG(0x4000451Cu)
#define UART0_DR     REG(0x4000C000u)
#define UART0_FR     REG(0x4000C018u)
#define UART0_IBRD   REG(0x4000C024u)
#define UART0_FBRD   REG(0x4000C028u)
#define UART0_LCRH   REG(0x4000C02Cu)
#define UART0_CTL    REG(0x4000C030u)

#define UART_FR_BUSY (1u << 3)
#define UART_FR_TXFF (1u << 5)

const char le_board_name[] = "lm3s6965evb cortex-m3 requant="
#if defined(LENET5_INT_REQUANT) || !defined(__ARM_FP)
    "int";
#else
    "float";
#endif

void le_board_init(void) {
    /* RCC: XTAL field (bits 9:6) = 0xE (8 MHz), OSCSRC (5:4) = main, BYPASS (11) = 1,
     * USESYSDIV (22) = 0, main oscillator enabled (MOSCDIS, bit 0, = 0). */
    SYSCTL_RCC = (SYSCTL_RCC & ~((0xFu << 6) | (0x3u << 4) | (1u << 22) | 1u)) | (0xEu << 6) | (1u << 11);
    SYSCTL_RCGC1 |= 1u << 0;                 /* UART0 clock */
    SYSCTL_RCGC2 |= 1u << 0;                 /* GPIO port A clock */
    __asm__ volatile("nop\n nop\n nop");     /* a few cycles before touching the peripherals */
    GPIOA_AFSEL |= 0x3u;                     /* PA0, PA1: UART0 */
    GPIOA_DEN |= 0x3u;
    UART0_CTL = 0;
    /* Divisor = SYSCLK / (16 * baud) = 4.340: integer 4, fraction round(0.340 * 64) = 22. */
    const uint32_t div64 = (4u * SYSCLK_HZ + BAUD / 2u) / BAUD;  /* divisor * 64, rounded */
    UART0_IBRD = div64 / 64u;
    UART0_FBRD = div64 % 64u;
    UART0_LCRH = (0x3u << 5) | (1u << 4);    /* 8 bits, FIFOs on */
    UART0_CTL = (1u << 0) | (1u << 8) | (1u << 9);  /* UARTEN, TXE, RXE */
}

void le_console_write(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        for (uint32_t t = 0; t < TX_TRIES && (UART0_FR & UART_FR_TXFF); t++) {}  /* bounded */
        UART0_DR = (uint8_t)s[i];
    }
}

void le_exit(int code) {
    for (uint32_t t = 0; t < TX_TRIES && (UART0_FR & UART_FR_BUSY); t++) {}
#ifdef LE_QEMU_EXIT
    le_sh_exit(code);
#else
    (void)code;
    for (;;) __asm__ volatile("wfi");
#endif
}
