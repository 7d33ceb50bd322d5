#include "le_print.h"

#include "le_board.h"

#define LE_LINE_MAX 160  /* longest line: "R <idx> <label> <10 x int32>" < 140 chars */

static char line[LE_LINE_MAX];
static unsigned len;

static void put(char c) {
    if (len < LE_LINE_MAX - 1) line[len++] = c;
}

void le_line_begin(void) { len = 0; }

void le_line_str(const char *s) {
    while (*s) put(*s++);
}

void le_line_i32(int32_t v) {
    char digits[11];
    int n = 0;
    uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;  /* INT32_MIN safe */
    if (v < 0) put('-');
    do { digits[n++] = (char)('0' + u % 10u); u /= 10u; } while (u);
    while (n) put(digits[--n]);
}

void le_line_hex(uint32_t v) {
    put('0'); put('x');
    for (int shift = 28; shift >= 0; shift -= 4) put("0123456789abcdef"[(v >> shift) & 0xFu]);
}

void le_line_end(void) {
    put('\n');
    le_console_write(line, len);
    len = 0;
}

void le_puts(const char *s) {
    le_line_begin();
    le_line_str(s);
    le_line_end();
}
