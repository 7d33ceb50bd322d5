/* le_rbf_bits_s8: the paper's RBF head with centres +-a stored as bits (arguments as in
 * kernels/ref/le_rbf_bits_s8.c). Expanded exactly in int32:
 *   sum_j (x_j - p_j)^2 = sum_j x_j^2 + n a^2 - 2a sum_j s_j x_j,  s_j = +1 (bit set) or -1,
 *   sum_j s_j x_j = 2 * (sum over set bits of x_j) - sum_j x_j,
 * so per class only the x_j under set bits are added. Every partial sum stays below
 * n * (128 + a)^2 < 2^31 (checked at generation time), so the reordering is exact. */
#include "le_common.h"

static void le_rbf_bits_s8(const int8_t *x, int n, const uint8_t *bits, int32_t a, int classes,
                           int32_t *scores)
{
    const int row = (n + 7) / 8;
    int32_t sum_x = 0;
    int32_t sum_x2 = 0;
    int c;
    int j;
    for (j = 0; j < n; ++j) {
        sum_x += x[j];
        sum_x2 += (int32_t)x[j] * x[j];
    }
    for (c = 0; c < classes; ++c) {
        const uint8_t *b = bits + c * row;
        int32_t set = 0; /* sum of x_j where bit j is set */
        for (j = 0; j < n; ++j) {
            if ((b[j >> 3] >> (j & 7)) & 1) {
                set += x[j];
            }
        }
        scores[c] = sum_x2 + n * a * a - 2 * a * (2 * set - sum_x);
    }
}
