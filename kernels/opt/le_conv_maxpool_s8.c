/* le_conv_maxpool_s8: the fused stage conv -> 2x2 stride-2 max pooling (arguments as in
 * kernels/ref/le_conv_maxpool_s8.c). The requantization is monotone non-decreasing in the
 * accumulator (M > 0, round to nearest, clamp), so the max of the four requantized codes is the
 * requantized max of the four accumulators: one requant per pooled output instead of four.
 * On x86 (SSE2) the conv rows of bands of output rows come from le_conv_band_sse2 (exact int32
 * sums, bit-identical). */
#include "le_conv_subsample_row.h"
#include "le_conv_sse2.h"

/* The requantized max of the four accumulators of one 2x2 window. */
static LE_INLINE LE_UNUSED int8_t le_maxpool_out(le_acc4_t a, le_rq_t r, int32_t zp, int wide)
{
    int32_t m = a.a0 > a.a1 ? a.a0 : a.a1;
    const int32_t m2 = a.a2 > a.a3 ? a.a2 : a.a3;
    m = m > m2 ? m : m2;
    return le_requant(m, r, zp, wide);
}

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
#if LE_SSE2
        if (le_sse2_fits(k, out_w)) { /* bands of up to LE_SSE2_MAXH output rows */
            int32_t c[LE_SSE2_MAXH][2][4 * LE_SSE2_MAXG]; /* conv rows 2oy, 2oy + 1 of the band */
            int oy0;
            for (oy0 = 0; oy0 < out_h; oy0 += LE_SSE2_MAXH) {
                const int nb = out_h - oy0 < LE_SSE2_MAXH ? out_h - oy0 : LE_SSE2_MAXH;
                le_conv_band_sse2(x + 2 * oy0 * in_w, in_w, k, w, j0, j1, in_off, bias[o], nb, out_w, c);
                for (oy = 0; oy < nb; ++oy) {
                    int8_t *yrow = y + (o * out_h + oy0 + oy) * out_w;
                    int ox;
                    for (ox = 0; ox < out_w; ++ox) {
                        const le_acc4_t a = le_band_window(c, oy, ox);
                        yrow[ox] = le_maxpool_out(a, r, zp, wide);
                    }
                }
            }
            continue;
        }
#endif
        for (oy = 0; oy < out_h; ++oy) {
            const int8_t *xrow = x + 2 * oy * in_w;
            int8_t *yrow = y + (o * out_h + oy) * out_w;
            int ox;
            for (ox = 0; ox < out_w; ++ox) {
                const le_acc4_t a = le_conv_window2x2(xrow, in_w, k, w, j0, j1, in_off, bias[o], ox);
                yrow[ox] = le_maxpool_out(a, r, zp, wide);
            }
        }
    }
}
