/* Stack high-water mark by painting: le_crt0 fills the stack with a pattern before main. */
#ifndef LE_STACK_H
#define LE_STACK_H

#include <stdint.h>

#define LE_STACK_PAINT 0xA5A5A5A5u

uint32_t le_stack_peak(void);   /* bytes of stack ever used since reset (including crt0) */
uint32_t le_stack_size(void);   /* bytes reserved by the linker script */

#endif
