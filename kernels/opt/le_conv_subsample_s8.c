/* le_conv_subsample_s8: the fused LeNet-5 stage conv -> table -> 2x2 stride-2 depthwise conv
 * (subsampling) -> table; arguments and layouts as in kernels/ref/le_conv_subsample_s8.c. Only the
 * subsampled output is written.
 * Per output (o, oy, ox) the four conv outputs (2oy + dy, 2ox + dx) are accumulated together over
 * each stored kernel: the two conv rows share every weight row, the two columns share the input
 * words. For 5x5 kernels on ARMv7E-M (__ARM_FEATURE_DSP), per kernel row: one weight word split by
 * SXTB16 into (w0,w2) (w1,w3) plus (0,w4); per input row the unaligned words at c and c + 2 split
 * into (x0,x2) (x1,x3) (x2,x4) (x3,x5); 6 SMLAD give the 10 MACs of outputs c and c + 1 (after the
 * kproto prototype's le_convpool_core.h). Elsewhere (Cortex-M3, host, other k) plain C with the
 * same exact int32 sums: bit-identical. */
#include "le_conv_core.h"
#include "le_opt.h"

static LE_INLINE void le_conv_subsample_s8(const int8_t *x, int in_w, int k, const int8_t *w,
                                           const uint16_t *kstart, const uint16_t *in_off,
                                           const int32_t *bias, const le_rq_t *rq, int32_t zp, int wide,
                                           const int8_t *table, const int8_t *sw, const int32_t *sbias,
                                           const le_rq_t *srq, int32_t szp, int swide,
                                           const int8_t *stable, int8_t *y, int out_c, int out_h,
                                           int out_w)
{
    int o;
    for (o = 0; o < out_c; ++o) {
        const int j0 = kstart[o];
        const int j1 = kstart[o + 1];
        const int32_t b = bias[o];
        const le_rq_t r = rq[o];
        const int32_t sw0 = sw[4 * o], sw1 = sw[4 * o + 1], sw2 = sw[4 * o + 2], sw3 = sw[4 * o + 3];
        int oy;
        for (oy = 0; oy < out_h; ++oy) {
            const int8_t *xrow = x + 2 * oy * in_w;
            int ox;
            for (ox = 0; ox < out_w; ++ox) {
                int32_t a00 = b, a01 = b, a10 = b, a11 = b; /* conv (2oy + dy, 2ox + dx): a<dy><dx> */
                int32_t sacc;
                int j;
                for (j = j0; j < j1; ++j) {
                    const int8_t *xp = xrow + in_off[j] + 2 * ox;
                    const int8_t *wp = w + j * k * k;
                    int ky;
#if LE_SIMD
                    if (k == 5) {
                        for (ky = 0; ky < 5; ++ky) {
                            const int32_t wv = le_load4(wp);
                            const int32_t w02 = le_even16(wv);
                            const int32_t w13 = le_odd16(wv);
                            const int32_t w4 = (int32_t)((uint32_t)(int32_t)wp[4] << 16); /* (0, w4) */
                            int32_t v = le_load4(xp);
                            int32_t e = le_even16(v), od = le_odd16(v);
                            int32_t e2, o2;
                            v = le_load4(xp + 2);
                            e2 = le_even16(v);
                            o2 = le_odd16(v);
                            a00 = le_smlad(e2, w4, le_smlad(od, w13, le_smlad(e, w02, a00)));
                            a01 = le_smlad(o2, w4, le_smlad(e2, w13, le_smlad(od, w02, a01)));
                            v = le_load4(xp + in_w);
                            e = le_even16(v);
                            od = le_odd16(v);
                            v = le_load4(xp + in_w + 2);
                            e2 = le_even16(v);
                            o2 = le_odd16(v);
                            a10 = le_smlad(e2, w4, le_smlad(od, w13, le_smlad(e, w02, a10)));
                            a11 = le_smlad(o2, w4, le_smlad(e2, w13, le_smlad(od, w02, a11)));
                            xp += in_w;
                            wp += 5;
                        }
                        continue;
                    }
#endif
                    for (ky = 0; ky < k; ++ky) {
                        int kx;
                        for (kx = 0; kx < k; ++kx) {
                            const int32_t wv = wp[kx];
                            a00 += xp[kx] * wv;
                            a01 += xp[kx + 1] * wv;
                            a10 += xp[in_w + kx] * wv;
                            a11 += xp[in_w + kx + 1] * wv;
                        }
                        xp += in_w;
                        wp += k;
                    }
                }
                sacc = sbias[o];
                sacc += table[(uint8_t)le_requant(a00, r, zp, wide)] * sw0;
                sacc += table[(uint8_t)le_requant(a01, r, zp, wide)] * sw1;
                sacc += table[(uint8_t)le_requant(a10, r, zp, wide)] * sw2;
                sacc += table[(uint8_t)le_requant(a11, r, zp, wide)] * sw3;
                y[(o * out_h + oy) * out_w + ox] = stable[(uint8_t)le_requant(sacc, srq[o], szp, swide)];
            }
        }
    }
}
