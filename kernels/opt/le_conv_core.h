#ifndef LE_CONV_CORE_H
#define LE_CONV_CORE_H

#include "le_common.h"

/* le_conv_core.h: conv inner loops, shared by the optimized conv kernels (kernels/opt). The
 * kernels are LE_INLINE: inlined at each call, where k, stride and the sizes are literal constants,
 * so the branches on k and stride below fold away.
 * Outputs are computed LE_BLOCK = 4 at a time (4 neighbouring outputs of a row, or 4 output channels
 * in le_conv_dot_s8) in registers, so each weight and input byte is loaded once per block. The 5x5
 * stride-1 taps (C1, C3) and the 2x2 stride-2 taps (S2, S4) are unrolled by hand; other kernels take
 * the generic loops. On ARMv7E-M (Cortex-M4: __ARM_FEATURE_DSP) the 5x5 rows and the dot products
 * use dual 16-bit multiply-accumulates (SMLAD) on sign-extended byte pairs (SXTB16): same sums,
 * exact int32 arithmetic, so bit-identical to the portable C. */
#define LE_BLOCK 4

typedef struct {
    int32_t a0, a1, a2, a3; /* accumulators of LE_BLOCK outputs */
} le_acc4_t;

#if defined(__GNUC__) && defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__ARM_BIG_ENDIAN)
#define LE_SIMD 1
/* 4 int8 bytes p[0..3] as one little-endian word (unaligned loads are fine on ARMv7-M). */
static LE_INLINE LE_UNUSED int32_t le_load4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
/* (b0, b2) and (b1, b3) of the bytes b0..b3 of v, sign-extended to 16-bit halves (low, high). */
static LE_INLINE LE_UNUSED int32_t le_even16(int32_t v)
{
    return __builtin_arm_sxtb16(v);
}
static LE_INLINE LE_UNUSED int32_t le_odd16(int32_t v)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
/* (lo[15:0], hi[31:16]) */
static LE_INLINE LE_UNUSED int32_t le_pack16(int32_t lo, int32_t hi)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}
/* acc + a.lo*b.lo + a.hi*b.hi;  _x: acc + a.lo*b.hi + a.hi*b.lo */
static LE_INLINE LE_UNUSED int32_t le_smlad(int32_t a, int32_t b, int32_t acc)
{
    return __builtin_arm_smlad(a, b, acc);
}
static LE_INLINE LE_UNUSED int32_t le_smladx(int32_t a, int32_t b, int32_t acc)
{
    return __builtin_arm_smladx(a, b, acc);
}
#else
#define LE_SIMD 0
#endif

/* One kernel row of 5 taps, 4 outputs, stride 1: a_i += sum_t xp[i + t] * wp[t]. Statements are in
 * an order that keeps few values live (no register spills at -Os). */
static LE_INLINE LE_UNUSED le_acc4_t le_row5_x4(const int8_t *xp, const int8_t *wp, le_acc4_t a)
{
#if LE_SIMD
    const int32_t wv = le_load4(wp);
    const int32_t w02 = le_even16(wv);               /* (w0, w2) */
    const int32_t w13 = le_odd16(wv);                /* (w1, w3) */
    const int32_t w4 = wp[4];
    int32_t xv = le_load4(xp);
    const int32_t x02 = le_even16(xv);
    const int32_t x13 = le_odd16(xv);
    int32_t x46;
    int32_t x57;
    a.a0 = le_smlad(x02, w02, le_smlad(x13, w13, a.a0));
    a.a1 = le_smlad(x13, w02, a.a1);
    xv = le_load4(xp + 4);
    x46 = le_even16(xv);
    x57 = le_odd16(xv);
    a.a0 += (int16_t)x46 * w4;
    a.a1 += (int16_t)x57 * w4;
    a.a3 = le_smlad(x46, w13, a.a3) + (x57 >> 16) * w4;
    a.a2 += (x46 >> 16) * w4;
    xv = le_pack16(x46, x02);                        /* (x4, x2) */
    a.a1 = le_smladx(xv, w13, a.a1);
    a.a2 = le_smladx(xv, w02, a.a2);
    xv = le_pack16(x57, x13);                        /* (x5, x3) */
    a.a2 = le_smladx(xv, w13, a.a2);
    a.a3 = le_smladx(xv, w02, a.a3);
#else
    int32_t w = wp[0];
    int32_t x0 = xp[0], x1 = xp[1], x2 = xp[2], x3 = xp[3];
    a.a0 += x0 * w;
    a.a1 += x1 * w;
    a.a2 += x2 * w;
    a.a3 += x3 * w;
    w = wp[1];
    x0 = xp[4];
    a.a0 += x1 * w;
    a.a1 += x2 * w;
    a.a2 += x3 * w;
    a.a3 += x0 * w;
    w = wp[2];
    x1 = xp[5];
    a.a0 += x2 * w;
    a.a1 += x3 * w;
    a.a2 += x0 * w;
    a.a3 += x1 * w;
    w = wp[3];
    x2 = xp[6];
    a.a0 += x3 * w;
    a.a1 += x0 * w;
    a.a2 += x1 * w;
    a.a3 += x2 * w;
    w = wp[4];
    x3 = xp[7];
    a.a0 += x0 * w;
    a.a1 += x1 * w;
    a.a2 += x2 * w;
    a.a3 += x3 * w;
#endif
    return a;
}

/* One kernel row of 2 taps, 4 outputs, stride 2: a_i += xp[2i] * wp[0] + xp[2i + 1] * wp[1]. */
static LE_INLINE LE_UNUSED le_acc4_t le_row2s2_x4(const int8_t *xp, const int8_t *wp, le_acc4_t a)
{
    const int32_t w0 = wp[0], w1 = wp[1];
    a.a0 += xp[0] * w0 + xp[1] * w1;
    a.a1 += xp[2] * w0 + xp[3] * w1;
    a.a2 += xp[4] * w0 + xp[5] * w1;
    a.a3 += xp[6] * w0 + xp[7] * w1;
    return a;
}

/* a_i += sum over ky, kx < k of xp[ky*in_w + i*stride + kx] * wp[ky*k + kx], i < 4: 4 neighbouring
 * outputs of one row. xp: top-left input byte of output 0; wp: [k][k]. */
static LE_INLINE LE_UNUSED le_acc4_t le_mac_block(const int8_t *xp, const int8_t *wp, int in_w, int k, int stride,
                                        le_acc4_t a)
{
    int ky;
    if (LE_SIMD && k == 5 && stride == 1) { /* rows unrolled: offsets become immediates (the portable
                                                path keeps the loop: unrolled, gcc hoists every load and
                                                spills) */
        a = le_row5_x4(xp, wp, a);
        a = le_row5_x4(xp + in_w, wp + 5, a);
        a = le_row5_x4(xp + 2 * in_w, wp + 10, a);
        a = le_row5_x4(xp + 3 * in_w, wp + 15, a);
        return le_row5_x4(xp + 4 * in_w, wp + 20, a);
    }
    for (ky = 0; ky < k; ++ky) {
        if (k == 5 && stride == 1) {
            a = le_row5_x4(xp, wp, a);
        } else if (k == 2 && stride == 2) {
            a = le_row2s2_x4(xp, wp, a);
        } else {
            int kx;
            for (kx = 0; kx < k; ++kx) {
                const int32_t wv = wp[kx];
                a.a0 += xp[kx] * wv;
                a.a1 += xp[stride + kx] * wv;
                a.a2 += xp[2 * stride + kx] * wv;
                a.a3 += xp[3 * stride + kx] * wv;
            }
        }
        xp += in_w;
        wp += k;
    }
    return a;
}

/* One output: returns acc + sum over ky, kx < k of xp[ky*in_w + kx] * wp[ky*k + kx]. */
static LE_INLINE LE_UNUSED int32_t le_mac_one(const int8_t *xp, const int8_t *wp, int in_w, int k, int32_t acc)
{
    int ky;
    for (ky = 0; ky < k; ++ky) {
        if (k == 5) {
            acc += xp[0] * wp[0] + xp[1] * wp[1] + xp[2] * wp[2] + xp[3] * wp[3] + xp[4] * wp[4];
        } else {
            int kx;
            for (kx = 0; kx < k; ++kx) {
                acc += xp[kx] * wp[kx];
            }
        }
        xp += in_w;
        wp += k;
    }
    return acc;
}

/* Dot products of x[0..n) with 4 weight rows w[i*n ..], i < 4 (LE_BLOCK output channels). */
static LE_INLINE LE_UNUSED le_acc4_t le_dot_x4(const int8_t *x, const int8_t *w, int n, le_acc4_t a)
{
    int t = 0;
#if LE_SIMD
    for (; t + 4 <= n; t += 4) {
        const int32_t xv = le_load4(x + t);
        const int32_t xe = le_even16(xv);
        const int32_t xo = le_odd16(xv);
        int32_t wv = le_load4(w + t);
        a.a0 = le_smlad(xe, le_even16(wv), le_smlad(xo, le_odd16(wv), a.a0));
        wv = le_load4(w + n + t);
        a.a1 = le_smlad(xe, le_even16(wv), le_smlad(xo, le_odd16(wv), a.a1));
        wv = le_load4(w + 2 * n + t);
        a.a2 = le_smlad(xe, le_even16(wv), le_smlad(xo, le_odd16(wv), a.a2));
        wv = le_load4(w + 3 * n + t);
        a.a3 = le_smlad(xe, le_even16(wv), le_smlad(xo, le_odd16(wv), a.a3));
    }
#endif
    for (; t < n; ++t) {
        const int32_t xv = x[t];
        a.a0 += xv * w[t];
        a.a1 += xv * w[n + t];
        a.a2 += xv * w[2 * n + t];
        a.a3 += xv * w[3 * n + t];
    }
    return a;
}

#endif /* LE_CONV_CORE_H */
