/* le_rbf_bits_s8: the paper's RBF head with centres +-a stored as bits,
 * scores[c] = sum_j (x[j] - p[c][j])^2 where p[c][j] = +a if bit j of row c is set, else -a.
 *   x      [n] int8
 *   bits   [classes][(n + 7) / 8] uint8, bit j % 8 of byte j / 8
 *   a      the centre magnitude (74 for the paper's +-1 glyphs at the F6 output scale)
 *   scores [classes] int32 (no overflow: checked at generation time) */
#include "le_common.h"

static void le_rbf_bits_s8(const int8_t *x, int n, const uint8_t *bits, int32_t a, int classes,
                           int32_t *scores)
{
    const int row = (n + 7) / 8;
    int c;
    for (c = 0; c < classes; ++c) {
        int32_t sum = 0;
        int j;
        for (j = 0; j < n; ++j) {
            const int32_t p = ((bits[c * row + j / 8] >> (j % 8)) & 1) ? a : -a;
            const int32_t d = (int32_t)x[j] - p;
            sum += d * d;
        }
        scores[c] = sum;
    }
}
