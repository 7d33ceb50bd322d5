/* le_rbf_s8: the paper's RBF head, scores[c] = sum_j (x[j] - centres[c][j])^2.
 *   x       [n] int8
 *   centres [classes][n] int16
 *   scores  [classes] int32 (no overflow: checked at generation time) */
#include "le_common.h"

static void le_rbf_s8(const int8_t *x, int n, const int16_t *centres, int classes, int32_t *scores)
{
    int c;
    for (c = 0; c < classes; ++c) {
        int32_t sum = 0;
        int j;
        for (j = 0; j < n; ++j) {
            const int32_t d = (int32_t)x[j] - (int32_t)centres[c * n + j];
            sum += d * d;
        }
        scores[c] = sum;
    }
}
