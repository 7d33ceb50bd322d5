/* le_table_s8: x[i] = table[x[i] & 0xFF] in place (ONNX Gather after Cast: code -128 is entry 128).
 *   x     [n] int8, overwritten
 *   table [256] int8 */
#include "le_common.h"

static void le_table_s8(int8_t *x, const int8_t *table, int n)
{
    int i;
    for (i = 0; i < n; ++i) {
        x[i] = table[(uint8_t)x[i]];
    }
}
