/* le_conv_sparse_s8: QLinearConv, no padding, over a sparse list of (output, input) kernels (group 1
 * with masked connections, such as C3's Table I, and depthwise layers look alike).
 *   x      [in_c][in_h][in_w] int8, NCHW (the input zero point is folded into bias)
 *   w      [stored kernels][k][k] int8; output channel o uses kernels kstart[o] .. kstart[o+1]-1
 *   kstart [out_c + 1]
 *   in_off [stored kernels] byte offset (input channel * in_h * in_w) of the map each kernel reads
 *   bias   [out_c] int32 = B - x_zp * sum(w)
 *   rq     [out_c] requant multipliers, zp the output zero point, wide: see le_requant.h
 *   y      [out_c][out_h][out_w] int8, NCHW
 * acc = bias + sum x * w is exact in int32 (checked at generation time). */
#include "le_requant.h"

static void le_conv_sparse_s8(const int8_t *x, int in_w, int k, int stride, const int8_t *w,
                              const uint16_t *kstart, const uint16_t *in_off, const int32_t *bias,
                              const le_rq_t *rq, int32_t zp, int wide, int8_t *y, int out_c, int out_h,
                              int out_w)
{
    int o;
    for (o = 0; o < out_c; ++o) {
        int oy;
        for (oy = 0; oy < out_h; ++oy) {
            int ox;
            for (ox = 0; ox < out_w; ++ox) {
                int32_t acc = bias[o];
                int j;
                for (j = kstart[o]; j < kstart[o + 1]; ++j) {
                    const int8_t *xc = x + in_off[j];       /* [in_h][in_w] */
                    const int8_t *wj = w + j * k * k;       /* [k][k] */
                    int ky;
                    for (ky = 0; ky < k; ++ky) {
                        int kx;
                        for (kx = 0; kx < k; ++kx) {
                            acc += (int32_t)xc[(oy * stride + ky) * in_w + ox * stride + kx] * (int32_t)wj[ky * k + kx];
                        }
                    }
                }
                y[(o * out_h + oy) * out_w + ox] = le_requant(acc, rq[o], zp, wide);
            }
        }
    }
}
