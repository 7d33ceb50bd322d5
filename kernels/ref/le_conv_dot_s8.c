/* le_conv_dot_s8: QLinearConv whose k x k window is the whole input (one output pixel per channel,
 * such as C5 and F6): a matrix-vector product.
 *   x    [n] int8, the NCHW input, n = in_c * k * k (the input zero point is folded into bias)
 *   w    [out_c][n] int8, OIHW
 *   bias [out_c] int32 = B - x_zp * sum(w)
 *   rq   [out_c] requant multipliers, zp the output zero point, wide: see le_requant.h
 *   y    [out_c] int8 */
#include "le_requant.h"

static void le_conv_dot_s8(const int8_t *x, int n, const int8_t *w, const int32_t *bias,
                           const le_rq_t *rq, int32_t zp, int wide, int8_t *y, int out_c)
{
    int o;
    for (o = 0; o < out_c; ++o) {
        int32_t acc = bias[o];
        int t;
        for (t = 0; t < n; ++t) {
            acc += (int32_t)x[t] * (int32_t)w[o * n + t];
        }
        y[o] = le_requant(acc, rq[o], zp, wide);
    }
}
