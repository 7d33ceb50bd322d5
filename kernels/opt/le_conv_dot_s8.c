/* le_conv_dot_s8: QLinearConv whose k x k window is the whole input (one output pixel per channel,
 * e.g. C5 and F6), group 1, every kernel stored: a matrix-vector product.
 *   x:    [n] int8, the NCHW input (n = in_c*k*k; the input zero point is folded into bias)
 *   w:    [out_c][n] int8, OIHW
 *   bias: [out_c] int32, B - x_zp*sum(w); rq: [out_c] requant multipliers; zp in [-128, 127]
 *   y:    [out_c] int8
 * LE_BLOCK output channels at a time share each input load; the rest one by one.
 * wide: see le_requant.h (a literal at the inlined call). */

#include "le_conv_core.h"
#include "le_opt.h"

static LE_INLINE void le_conv_dot_s8(const int8_t *x, int n, const int8_t *w,
                                      const int32_t *bias, const le_rq_t *rq, int32_t zp, int wide,
                                      int8_t *y, int out_c)
{
    const int blocked = out_c - out_c % LE_BLOCK; /* channels done LE_BLOCK at a time */
    const int8_t *wo = w;                          /* weight row of output channel o */
    int o;
    for (o = 0; o < blocked; o += LE_BLOCK) {
        le_acc4_t a;
        int32_t acc[LE_BLOCK];
        int i;
        a.a0 = bias[o];
        a.a1 = bias[o + 1];
        a.a2 = bias[o + 2];
        a.a3 = bias[o + 3];
        a = le_dot_x4(x, wo, n, a);
        acc[0] = a.a0;
        acc[1] = a.a1;
        acc[2] = a.a2;
        acc[3] = a.a3;
        for (i = 0; i < LE_BLOCK; ++i) { /* one requant call site */
            y[o + i] = le_requant(acc[i], rq[o + i], zp, wide);
        }
        wo += LE_BLOCK * n;
    }
    for (o = blocked; o < out_c; ++o) {
        int32_t acc = bias[o];
        int t;
        for (t = 0; t < n; ++t) {
            acc += (int32_t)x[t] * (int32_t)wo[t];
        }
        y[o] = le_requant(acc, rq[o], zp, wide);
        wo += n;
    }
}
