/* le_dense_s8: the modern head, scores[c] = bias[c] + sum_j x[j] * w[c][j] (MatMulInteger -> Add).
 *   x      [n] int8 (the input zero point is folded into bias)
 *   w      [classes][n] int8
 *   bias   [classes] int32
 *   scores [classes] int32 */
#include "le_common.h"

static void le_dense_s8(const int8_t *x, int n, const int8_t *w, const int32_t *bias, int classes,
                        int32_t *scores)
{
    int c;
    for (c = 0; c < classes; ++c) {
        int32_t acc = bias[c];
        int j;
        for (j = 0; j < n; ++j) {
            acc += (int32_t)x[j] * (int32_t)w[c * n + j];
        }
        scores[c] = acc;
    }
}
