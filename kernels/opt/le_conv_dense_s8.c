/* le_conv_dense_s8: QLinearConv without padding, group 1, every (output, input) kernel stored.
 *   x:    [in_c][in_h][in_w] int8, NCHW (the input zero point is folded into bias)
 *   w:    [out_c][in_c][k][k] int8, OIHW
 *   bias: [out_c] int32, B - x_zp*sum(w); rq: [out_c] requant multipliers; zp in [-128, 127]
 *   y:    [out_c][out_h][out_w] int8, NCHW
 * acc = bias + sum x*w is exact in int32 (checked at generation time). Outputs of a row are computed
 * LE_BLOCK at a time (le_mac_block), the rest one by one.
 * wide: see le_requant.h (a literal at the inlined call). */

#include "le_conv_core.h"
#include "le_opt.h"

static LE_INLINE void le_conv_dense_s8(const int8_t *x, int in_c, int in_h, int in_w, int k,
                                        int stride, const int8_t *w, const int32_t *bias,
                                        const le_rq_t *rq, int32_t zp, int wide,
                                        int8_t *y, int out_c, int out_h, int out_w)
{
    const int in_hw = in_h * in_w;
    const int kk = k * k;
    const int blocked = out_w - out_w % LE_BLOCK; /* outputs of a row done LE_BLOCK at a time */
    int o;
    for (o = 0; o < out_c; ++o) {
        const int8_t *wo = w + o * in_c * kk;
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
                int c;
                a.a0 = a.a1 = a.a2 = a.a3 = b;
                for (c = 0; c < in_c; ++c) {
                    a = le_mac_block(xrow + c * in_hw + ox * stride, wo + c * kk, in_w, k, stride, a);
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
                int c;
                for (c = 0; c < in_c; ++c) {
                    acc = le_mac_one(xrow + c * in_hw + ox * stride, wo + c * kk, in_w, k, acc);
                }
                *y++ = le_requant(acc, r, zp, wide);
            }
        }
    }
}
