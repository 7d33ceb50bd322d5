/* le_conv_maxpool_s8: the fused stage conv -> 2x2 stride-2 max pooling (the modern LeNet-5's
 * C1 -> S2 and C3 -> S4; the ReLU is the conv's requant clamp). Only the pooled output is written.
 *   x    [in_c][in_h][in_w] int8, NCHW (the input zero point is folded into bias)
 *   conv k x k, stride 1, over a sparse list of (output, input) kernels, as le_conv_sparse_s8:
 *        w [stored kernels][k][k], kstart [out_c + 1], in_off [stored kernels],
 *        bias [out_c], rq [out_c], zp, wide
 *   y    [out_c][out_h][out_w] int8: the max of the conv codes (2oy + dy, 2ox + dx), dy, dx < 2 */
#include "le_requant.h"

static void le_conv_maxpool_s8(const int8_t *x, int in_w, int k, const int8_t *w, const uint16_t *kstart,
                               const uint16_t *in_off, const int32_t *bias, const le_rq_t *rq, int32_t zp,
                               int wide, int8_t *y, int out_c, int out_h, int out_w)
{
    int o;
    for (o = 0; o < out_c; ++o) {
        int oy;
        for (oy = 0; oy < out_h; ++oy) {
            int ox;
            for (ox = 0; ox < out_w; ++ox) {
                int8_t m = -128;
                int dy;
                for (dy = 0; dy < 2; ++dy) {
                    int dx;
                    for (dx = 0; dx < 2; ++dx) {
                        const int cy = 2 * oy + dy; /* conv output pixel */
                        const int cx = 2 * ox + dx;
                        int32_t acc = bias[o];
                        int8_t q;
                        int j;
                        for (j = kstart[o]; j < kstart[o + 1]; ++j) {
                            const int8_t *xc = x + in_off[j]; /* [in_h][in_w] */
                            const int8_t *wj = w + j * k * k; /* [k][k] */
                            int ky;
                            for (ky = 0; ky < k; ++ky) {
                                int kx;
                                for (kx = 0; kx < k; ++kx) {
                                    acc += (int32_t)xc[(cy + ky) * in_w + cx + kx] * (int32_t)wj[ky * k + kx];
                                }
                            }
                        }
                        q = le_requant(acc, rq[o], zp, wide);
                        m = q > m ? q : m;
                    }
                }
                y[(o * out_h + oy) * out_w + ox] = m;
            }
        }
    }
}
