/* le_conv_dense_s8: QLinearConv, group 1, no padding, every (output, input) kernel stored.
 *   x    [in_c][in_h][in_w] int8, NCHW (the input zero point is folded into bias)
 *   w    [out_c][in_c][k][k] int8, OIHW
 *   bias [out_c] int32 = B - x_zp * sum(w)
 *   rq   [out_c] requant multipliers, zp the output zero point, wide: see le_requant.h
 *   y    [out_c][out_h][out_w] int8, NCHW
 * acc = bias + sum x * w is exact in int32 (checked at generation time). */
#include "le_requant.h"

static void le_conv_dense_s8(const int8_t *x, int in_c, int in_h, int in_w, int k, int stride,
                             const int8_t *w, const int32_t *bias, const le_rq_t *rq, int32_t zp,
                             int wide, int8_t *y, int out_c, int out_h, int out_w)
{
    int o;
    for (o = 0; o < out_c; ++o) {
        int oy;
        for (oy = 0; oy < out_h; ++oy) {
            int ox;
            for (ox = 0; ox < out_w; ++ox) {
                int32_t acc = bias[o];
                int c;
                for (c = 0; c < in_c; ++c) {
                    int ky;
                    for (ky = 0; ky < k; ++ky) {
                        int kx;
                        for (kx = 0; kx < k; ++kx) {
                            const int8_t xv = x[(c * in_h + oy * stride + ky) * in_w + ox * stride + kx];
                            const int8_t wv = w[((o * in_c + c) * k + ky) * k + kx];
                            acc += (int32_t)xv * (int32_t)wv;
                        }
                    }
                }
                y[(o * out_h + oy) * out_w + ox] = le_requant(acc, rq[o], zp, wide);
            }
        }
    }
}
