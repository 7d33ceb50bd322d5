/* le_conv_sparse_s8: QLinearConv without padding, any kernel k x k and stride, over a sparse list of
 * (output, input) kernels (group 1, depthwise and masked connections all look alike).
 *   x:      [in_c][in_h][in_w] int8, NCHW (the input zero point is folded into bias)
 *   w:      [stored kernels][k*k] int8; output channel o uses kernels kstart[o] .. kstart[o+1]-1
 *   in_off: [stored kernels] byte offset of the input map each kernel reads (in_channel*in_h*in_w)
 *   bias:   [out_c] int32, B - x_zp*sum(w); rq: [out_c] requant multipliers; zp in [-128, 127]
 *   y:      [out_c][out_h][out_w] int8, NCHW
 * acc = bias + sum x*w is exact in int32 (checked at generation time). Outputs of a row are computed
 * LE_BLOCK at a time (le_mac_block), the rest one by one.
 * wide: see le_requant.h (a literal at the inlined call). */

#include "le_conv_core.h"
#include "le_opt.h"

static LE_INLINE void le_conv_sparse_s8(const int8_t *x, int in_w, int k, int stride,
                                  const int8_t *w, const uint16_t *kstart, const uint16_t *in_off,
                                  const int32_t *bias, const le_rq_t *rq, int32_t zp, int wide,
                                  int8_t *y, int out_c, int out_h, int out_w)
{
    const int blocked = out_w - out_w % LE_BLOCK; /* outputs of a row done LE_BLOCK at a time */
    int o;
    for (o = 0; o < out_c; ++o) {
        const int j0 = kstart[o];
        const int j1 = kstart[o + 1];
        const int32_t b = bias[o];
        const le_rq_t r = rq[o];
        int oy;
        for (oy = 0; oy < out_h; ++oy) {
            const int8_t *xrow = x + oy * stride * in_w;
            int ox;
            for (ox = 0; ox < blocked; ox += LE_BLOCK) {
                le_acc4_t a;
                int32_t acc[LE_BLOCK];
                int i;
                int j;
                a.a0 = a.a1 = a.a2 = a.a3 = b;
                for (j = j0; j < j1; ++j) {
                    a = le_mac_block(xrow + in_off[j] + ox * stride, w + j * k * k, in_w, k, stride, a);
                }
                acc[0] = a.a0;
                acc[1] = a.a1;
                acc[2] = a.a2;
                acc[3] = a.a3;
                for (i = 0; i < LE_BLOCK; ++i) { /* one requant call site */
                    *y++ = le_requant(acc[i], r, zp, wide);
                }
            }
            for (ox = blocked; ox < out_w; ++ox) {
                int32_t acc = b;
                int j;
                for (j = j0; j < j1; ++j) {
                    acc = le_mac_one(xrow + in_off[j] + ox * stride, w + j * k * k, in_w, k, acc);
                }
                *y++ = le_requant(acc, r, zp, wide);
            }
        }
    }
}
