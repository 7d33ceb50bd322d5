/* Tiny line formatter for the console: no printf, no heap, no syscalls (keeps newlib's stdio out
 * of the image). A line is built in a buffer and written with one console call. */
#ifndef LE_PRINT_H
#define LE_PRINT_H

#include <stdint.h>

void le_line_begin(void);
void le_line_str(const char *s);
void le_line_i32(int32_t v);        /* decimal, with '-' when negative */
void le_line_hex(uint32_t v);       /* 0x%08x */
void le_line_end(void);             /* appends '\n' and writes the line */

void le_puts(const char *s);        /* one whole line: s + '\n' */

#endif
