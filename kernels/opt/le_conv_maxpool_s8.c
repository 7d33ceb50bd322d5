/* le_conv_maxpool_s8: the fused stage conv -> 2x2 stride-2 max pooling (arguments as in
 * kernels/ref/le_conv_maxpool_s8.c). The requantization is monotone non-decreasing in the
 * accumulator (M > 0, round to nearest, clamp), so the max of the four requantized codes is the
 * requantized max of the four accumulators: one requant per pooled output instead of four. */
#include "le_conv_subsample_row.h"

static LE_INLINE void le_conv_maxpool_s8(const int8_t *x, int in_w, int k, const int8_t *w,
                                         const uint16_t *kstart, const uint16_t *in_off, const int32_t *bias,
                                         const le_rq_t *rq, int32_t zp, int wide, int8_t *y, int out_c,
                                         int out_h, int out_w)
{
    int o;
    for (o = 0; o < out_c; ++o) {
        const int j0 = kstart[o];
        const int j1 = kstart[o + 1];
        const le_rq_t r = rq[o];
        int oy;
        for (oy = 0; oy < out_h; ++oy) {
            const int8_t *xrow = x + 2 * oy * in_w;
            int8_t *yrow = y + (o * out_h + oy) * out_w;
            int ox;
            for (ox = 0; ox < out_w; ++ox) {
                const le_acc4_t a = le_conv_window2x2(xrow, in_w, k, w, j0, j1, in_off, bias[o], ox);
                int32_t m = a.a0 > a.a1 ? a.a0 : a.a1;
                const int32_t m2 = a.a2 > a.a3 ? a.a2 : a.a3;
                m = m > m2 ? m : m2;
                yrow[ox] = le_requant(m, r, zp, wide);
            }
        }
    }
}
