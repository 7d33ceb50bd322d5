/* le_conv_subsample_s8: the fused LeNet-5 stage conv -> table -> 2x2 stride-2 depthwise conv
 * (subsampling) -> table; arguments and layouts as in kernels/ref/le_conv_subsample_s8.c. Only the
 * subsampled output is written.
 * Per output (o, oy, ox) the four conv outputs (2oy + dy, 2ox + dx) are accumulated together over
 * each stored kernel. For 5x5 kernels on Arm (C3): window by window, each window's input bytes of
 * every input map prepared once in the arena scratch and read by all the output maps that use that
 * map (LeCun's Table I: 10 of 16); on ARMv7E-M split into int16 pairs for SMLAD, on the Cortex-M3
 * as X words for SMLAL column-pair sums (le_conv_subsample_s8_windows below). Elsewhere output map
 * by output map (le_conv_window2x2): on x86 (SSE2) the two conv rows of a whole output row at once,
 * 4 columns per vector, PMADDWD over pairs of input rows (le_conv_sse2.h); on other hosts two
 * columns per 64-bit sum. All give the exact int32 sums of the ref kernel
 * (le_conv_subsample_row.h and le_conv_sse2.h give the bounds): bit-identical. */
#include "le_conv_subsample_row.h"
#include "le_conv_sse2.h"

#if LE_SSE2
/* One output channel o on x86: bands of up to LE_SSE2_MAXH output rows from le_conv_band_sse2. */
static LE_INLINE LE_UNUSED void le_conv_subsample_chan_sse2(const int8_t *x, int in_w, int k, const int8_t *w,
                                                            int j0, int j1, const uint16_t *in_off, int32_t b,
                                                            le_rq_t r, int32_t zp, int wide, const int8_t *table,
                                                            const int8_t *swo, int32_t sb, le_rq_t sr,
                                                            int32_t szp, int swide, const int8_t *stable,
                                                            int8_t *y, int out_h, int out_w)
{
    int oy0;
    for (oy0 = 0; oy0 < out_h; oy0 += LE_SSE2_MAXH) {
        const int nb = out_h - oy0 < LE_SSE2_MAXH ? out_h - oy0 : LE_SSE2_MAXH;
        le_subsample_band_sse2(x + 2 * oy0 * in_w, in_w, k, w, j0, j1, in_off, b, nb, out_w, r, zp, wide, table, swo,
                               sb, sr, szp, swide, stable, y + oy0 * out_w);
    }
}
#endif

/* The window paths (k == 5, ARMv7-M and later): on ARMv7E-M (LE_SIMD) split int16 pairs and SMLAD
 * (le_cs_kernels5s), on other Thumb-2 cores (Cortex-M3) X words and SMLAL (le_cs_kernel5x). Their
 * asm needs 13 free registers (le_cs_kernels5s under gcc 14): only in optimizing builds, where gcc
 * omits the frame pointer (at -O0 it keeps r7 and the constraints are impossible; so does
 * -fno-omit-frame-pointer). Elsewhere the map-by-map path below. */
#if defined(__OPTIMIZE__) && (LE_SIMD || defined(LE_CS_XWORDS))
#define LE_CS_WINDOWS 1
#if LE_SIMD
#define LE_CS_WORDS LE_CS_SPLIT /* scratch words per input map */
#else
#define LE_CS_WORDS LE_CS_XWORDS
#endif
#else
#define LE_CS_WINDOWS 0
#endif

#if LE_CS_WINDOWS
/* k == 5, window by window. The window's input bytes of every input map are prepared once in the
 * scratch ([in_c][LE_CS_WORDS] int32 from a 4-byte boundary: le_cs_split6 or le_cs_xrows5), then
 * each output map runs its kernels on them and stores its output. On ARMv7E-M the kernel loop
 * (le_cs_kernels5s) finds each kernel's map by kstep[j], the byte step from where the previous
 * kernel left the split-window pointer (made at generation time: ops/conv_subsample.py), and
 * ends each output map at the step with bit 0 set. On the Cortex-M3 in_off[j], input map c's
 * offset c * in_h * in_w, gives its words at word c * LE_CS_WORDS, found as (in_off[j] * m) >> 16
 * bytes with m = ceil(4 LE_CS_WORDS 2^16 / plane): exact, since in_off[j] < 2^16 makes the error
 * c * plane * (m - 4 LE_CS_WORDS 2^16 / plane) < 2^16. Without SIMD the pair sums hold at most
 * LE_CS_PAIR_KERNELS kernels per output map (le_conv_subsample_s8 checks). */
static LE_INLINE void le_conv_subsample_s8_windows(const int8_t *x, int in_c, int in_h, int in_w, const int8_t *w,
                                                   const uint16_t *kstart, const uint16_t *in_off,
                                                   const int16_t *kstep, const int32_t *bias, const le_rq_t *rq,
                                                   int32_t zp, int wide,
                                                   const int8_t *table, const int8_t *sw, const int32_t *sbias,
                                                   const le_rq_t *srq, int32_t szp, int swide,
                                                   const int8_t *stable, int8_t *scratch, int8_t *y, int out_c,
                                                   int out_h, int out_w)
{
    const uint32_t plane = (uint32_t)in_h * (uint32_t)in_w;
#if !LE_SIMD
    const uint32_t m = (4u * LE_CS_WORDS * 65536u + plane - 1u) / plane;
    (void)kstep;
#else
    (void)in_off;
#endif
    int8_t *sb = scratch + ((4u - ((uintptr_t)scratch & 3u)) & 3u);
    int oy, ox;
    le_hide(sb); /* one register, not a constant address rebuilt for every kernel */
    for (oy = 0; oy < out_h; ++oy) {
        for (ox = 0; ox < out_w; ++ox) {
            const int8_t *xw = x + 2 * oy * in_w + 2 * ox;
#if !LE_SIMD
            const int8_t *x5 = xw + 5 * in_w; /* input row 5 of the window in map 0 */
#endif
            int8_t *yo = y + oy * out_w + ox;
            const int8_t *wp = w + 25 * kstart[0];
            int32_t *s = (int32_t *)(void *)sb;
#if LE_SIMD
            const int32_t *ks = s; /* the kernel loop's split-window pointer: kstep moves it */
            const int16_t *kp = kstep;
#else
            const uint16_t *off = in_off + kstart[0];
#endif
            int c, o;
            for (c = 0; c < in_c; ++c) { /* after the first window of a row, half of it is there */
                const int8_t *xc = xw + c * (int)plane;
#if LE_SIMD
                s = ox ? le_cs_split6_next(xc, in_w, s) : le_cs_split6(xc, in_w, s);
#else
                s = ox ? le_cs_xrows5_next(xc, in_w, s) : le_cs_xrows5(xc, in_w, s);
#endif
            }
            for (o = 0; o < out_c; ++o) {
#if LE_SIMD
                int oi = o; /* opaque: gcc indexes the arrays, no pointer per array kept on the stack */
                le_acc4_t a;
                le_hide(oi);
                a.a0 = bias[oi];
                a.a1 = a.a0;
                a.a2 = a.a0;
                a.a3 = a.a0;
                a = le_cs_kernels5s(&ks, &kp, &wp, a); /* kstart[o] .. kstart[o + 1] - 1 */
#if defined(LE_REQUANT_VCVTR)
                if (zp == 0 && szp == 0) { /* literals at the inlined call */
                    (void)wide;
                    float mo; /* rq[oi]: the float32 bit pattern of M */
                    memcpy(&mo, &rq[oi], sizeof mo);
                    *yo = le_subsample_out_vcvtr_z(a, mo, table, le_load4(sw + 4 * oi), sbias[oi], srq[oi], swide,
                                                   stable);
                } else {
                    float mo; /* rq[o]: the float32 bit pattern of M; `wide` changes nothing here */
                    (void)wide;
                    memcpy(&mo, &rq[o], sizeof mo);
                    *yo = le_subsample_out_vcvtr(a, mo, zp, table, le_load4(sw + 4 * o), sbias[o], srq[o], szp,
                                                 swide, stable);
                }
#else
                *yo = le_subsample_out(a, rq[o], zp, wide, table, sw[4 * o], sw[4 * o + 1], sw[4 * o + 2],
                                       sw[4 * o + 3], sbias[o], srq[o], szp, swide, stable);
#endif
#else
                const int32_t b = bias[o];
                le_acc4_t a;
                const uint16_t *end = in_off + kstart[o + 1];
                uint32_t tl = 0, bl = 0;
                int32_t th = 0, bh = 0;
                for (; off != end; ++off) { /* kstart rises: off reaches end exactly */
                    le_cs_kernel5x(sb, m, x5, *off, &wp, &tl, &th, &bl, &bh);
                }
                a = le_cs_pairs_out(tl, th, bl, bh, b);
                *yo = le_subsample_out_late(a, rq[o], zp, wide, table, sw + 4 * o, sbias[o], srq + o, szp, swide,
                                            stable);
#endif
                yo += out_h * out_w;
            }
        }
    }
}
#endif

#if LE_CS_WINDOWS
/* 1 if the layer fits the window path: at most LE_CS_MAX_IN input maps (so in_off[j] * m stays
 * below 2^31: c * 4 LE_CS_WORDS 2^16 + 2^16 with c < 256) and, without SIMD, at most
 * LE_CS_PAIR_KERNELS kernels per output map (the pair sums). */
#define LE_CS_MAX_IN 256
static LE_INLINE int le_cs_windows_fit(int in_c, const uint16_t *kstart, const int16_t *kstep, int out_c)
{
#if LE_SIMD
    (void)kstart;
    (void)out_c;
    return in_c <= LE_CS_MAX_IN && kstep != 0; /* kstep: emitted for every layer the loop can run */
#else
    int o;
    (void)kstep;
    for (o = 0; o < out_c; ++o) {
        if (kstart[o + 1] - kstart[o] > LE_CS_PAIR_KERNELS) {
            return 0;
        }
    }
    return in_c <= LE_CS_MAX_IN;
#endif
}
#endif

static LE_INLINE void le_conv_subsample_s8(const int8_t *x, int in_c, int in_h, int in_w, int k, const int8_t *w,
                                           const uint16_t *kstart, const uint16_t *in_off,
                                           const int16_t *kstep, const int32_t *bias, const le_rq_t *rq,
                                           int32_t zp, int wide,
                                           const int8_t *table, const int8_t *sw, const int32_t *sbias,
                                           const le_rq_t *srq, int32_t szp, int swide,
                                           const int8_t *stable, int8_t *scratch, int8_t *y, int out_c, int out_h,
                                           int out_w)
{
    int o;
#if LE_CS_WINDOWS
    if (k == 5 && le_cs_windows_fit(in_c, kstart, kstep, out_c)) {
        le_conv_subsample_s8_windows(x, in_c, in_h, in_w, w, kstart, in_off, kstep, bias, rq, zp, wide, table, sw, sbias,
                                     srq, szp, swide, stable, scratch, y, out_c, out_h, out_w);
        return;
    }
#endif
    (void)in_c;
    (void)in_h;
    (void)scratch;
    (void)kstep;
    for (o = 0; o < out_c; ++o) {
        int oy;
#if LE_SSE2
        if (le_sse2_fits(k, out_w)) {
            le_conv_subsample_chan_sse2(x, in_w, k, w, kstart[o], kstart[o + 1], in_off, bias[o], rq[o], zp, wide,
                                        table, sw + 4 * o, sbias[o], srq[o], szp, swide, stable,
                                        y + o * out_h * out_w, out_h, out_w);
            continue;
        }
#endif
        for (oy = 0; oy < out_h; ++oy) {
            le_conv_subsample_row(x + 2 * oy * in_w, in_w, k, w, kstart[o], kstart[o + 1], in_off, bias[o],
                                  rq[o], zp, wide, table, sw + 4 * o, sbias[o], srq[o], szp, swide, stable,
                                  y + (o * out_h + oy) * out_w, out_w);
        }
    }
}
