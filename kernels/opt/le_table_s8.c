/* le_table_s8: x[i] = table[x[i] & 0xFF] in place (arguments as in kernels/ref/le_table_s8.c): the
 * reference loop, kept out of line, one copy for all table layers. Inlined, gcc -O2 turns it into
 * about 100 bytes of 8-byte-word code per layer for about 20% fewer instructions; the default
 * firmware's flash (70,000 B) has not the room. */
#include "le_common.h"

#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void le_table_s8(int8_t *x, const int8_t *table, int n)
{
    int i;
    for (i = 0; i < n; ++i) {
        x[i] = table[(uint8_t)x[i]];
    }
}
