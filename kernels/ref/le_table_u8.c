/* le_table_u8: out[i] = table[image[i]], the input quantization as a lookup.
 *   image [n] uint8, raw pixels (the caller's buffer)
 *   table [256] int8
 *   out   [n] int8 */
#include "le_common.h"

static void le_table_u8(const uint8_t *image, const int8_t *table, int8_t *out, int n)
{
    int i;
    for (i = 0; i < n; ++i) {
        out[i] = table[image[i]];
    }
}
