/* le_byo.h: helpers shared by the kernels of compiled quantize_static models (`lenet-edge compile`),
 * both kernel sets. The arithmetic is ONNX Runtime's, op by op (docs/ort-int8-ops.md).
 * Codes are int8_t or uint8_t; each kernel file defines an _s8 and a _u8 function from one body. */
#ifndef LE_BYO_H
#define LE_BYO_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "le_bits.h"

#if defined(__GNUC__)
#define LE_UNUSED __attribute__((unused))
#else
#define LE_UNUSED
#endif

#if defined(__FAST_MATH__)
#error "lenet-edge: do not build the generated C with -ffast-math or -Ofast (ORT's float steps must round exactly)"
#endif

/* A float32 value forced to memory: the compiler can neither keep it wider nor fuse the operation
 * that produced it into the next one (fma contraction). Used where ORT rounds a product before an
 * addition. */
static LE_UNUSED float le_round32(float v)
{
    volatile float t = v;
    return t;
}

/* round half to even of v clamped to [lo, hi] (integer bounds): ORT's clamp-then-cvtps2dq. */
static LE_UNUSED int32_t le_rne_clamp(float v, float lo, float hi)
{
    float r;
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    r = le_round32(v + 12582912.0f);   /* 1.5 * 2^23: the addition rounds half to even, |v| < 2^22 */
    return (int32_t)(le_round32(r - 12582912.0f));
}

/* fl(a*b + c) with one rounding (ORT's QLinearAdd uses FMA instructions). With a hardware FMA
 * (Cortex-M4F/M7 VFMA, x86 FMA3) or a host libm, C99 fmaf. Without one (Cortex-M3 soft float, or
 * -DLE_SOFT_FMA): the product is exact in double, the double sum is made round-to-odd when it is
 * inexact (Knuth's TwoSum gives the error), and the final conversion to float then rounds exactly
 * once, as a library fmaf that simply computes in double would not (double rounding). */
static LE_UNUSED float le_fmaf(float a, float b, float c)
{
#if !defined(LE_SOFT_FMA) && (defined(__ARM_FEATURE_FMA) || !defined(__arm__))
    return fmaf(a, b, c);
#else
    volatile double p = (double)a * (double)b;
    volatile double s = p + (double)c;
    volatile double bv = s - p;
    const double err = (p - (s - bv)) + ((double)c - bv);
    double r = s;
    if (err != 0.0) {
        uint64_t u;
        memcpy(&u, &r, sizeof u);
        if ((u & 1u) == 0u) {
            u = ((err > 0.0) == (r > 0.0)) ? u + 1u : u - 1u;
        }
        memcpy(&r, &u, sizeof r);
    }
    return (float)r;
#endif
}

static LE_UNUSED float le_f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- Requantization of an int32 accumulator (QLinearConv, QGemm, QLinearMatMul, the integer
 * QLinearGlobalAveragePool): code = clamp(RNE(fl(float(acc) * M)), LO - zy, HI - zy) + zy, M a
 * finite float32 (docs/ort-int8-ops.md section 3).
 *
 * LE_INT_REQUANT=1 computes that with integers only, bit for bit (an exact replay of the two float
 * roundings, as kernels/le_requant.h does for LeNet-5): on by default on Arm cores without an FPU
 * (Cortex-M0/M3, where each soft-float step is a library call), off elsewhere; -DLE_INT_REQUANT
 * forces it on (the tests build it on the host), -DLE_INT_REQUANT=0 off. */
#ifndef LE_INT_REQUANT
#if defined(__arm__) && !defined(__ARM_FP)
#define LE_INT_REQUANT 1
#else
#define LE_INT_REQUANT 0
#endif
#endif

/* One output channel's constants, made once per channel by le_rq_make. */
typedef struct {
#if LE_INT_REQUANT
    uint32_t m;          /* |M| = m * 2^e, m < 2^24 (the significand, implicit bit included) */
    int e;
    int neg;             /* sign bit of M (scales are positive: 0) */
    int32_t lo, hi, zy;  /* clamp bounds LO - zy, HI - zy, zero point */
#else
    float M, lo, hi;     /* the multiplier and the bounds as floats */
    int32_t zy;
#endif
} le_rq_t;

static LE_UNUSED le_rq_t le_rq_make(uint32_t mult_bits, int32_t zy, int32_t lo_code, int32_t hi_code)
{
    le_rq_t rq;
#if LE_INT_REQUANT
    const int bexp = (int)((mult_bits >> 23) & 0xFFu);
    rq.m = mult_bits & 0x7FFFFFu;
    if (bexp == 0xFF) {              /* inf (M is finite; kept total): saturates below */
        rq.m = 0x800000u;
        rq.e = 127;
    } else if (bexp == 0) {          /* zero or subnormal */
        rq.e = -149;
    } else {
        rq.m |= 0x800000u;
        rq.e = bexp - 150;
    }
    rq.neg = (int)(mult_bits >> 31);
    rq.lo = lo_code - zy;
    rq.hi = hi_code - zy;
#else
    rq.M = le_f32_from_bits(mult_bits);
    rq.lo = (float)(lo_code - zy);
    rq.hi = (float)(hi_code - zy);
#endif
    rq.zy = zy;
    return rq;
}

#if LE_INT_REQUANT
/* The float steps replayed exactly: a = |acc| (<= 2^31) rounded to 24 significant bits, half to
 * even (float(acc)); p = a * m exactly (< 2^49); p rounded to 24 significant bits (the float32
 * product; a product below 2^-126, where float32 rounds at a fixed step instead, is < 0.5 either
 * way and gives 0); then p * 2^e rounded to an integer, half to even, saturated at 1024 (beyond
 * every clamp bound, |LO - zy| <= 255). Float overflow to inf also saturates. */
static LE_UNUSED int32_t le_requant(int32_t acc, const le_rq_t *rq)
{
    const uint32_t a = acc < 0 ? 0u - (uint32_t)acc : (uint32_t)acc;   /* |acc| <= 2^31 */
    int32_t q = (int32_t)le_replay_abs(a, rq->m, rq->e, 1024u, 1);
    if ((acc < 0) != (rq->neg != 0)) {
        q = -q;
    }
    q = q < rq->lo ? rq->lo : q;
    q = q > rq->hi ? rq->hi : q;
    return q + rq->zy;
}
#else
/* The float steps themselves: the product rounded to float32 (le_round32: never fused, never
 * wider), then ORT's clamp and round half to even. */
static LE_UNUSED int32_t le_requant(int32_t acc, const le_rq_t *rq)
{
    return le_rne_clamp(le_round32((float)acc * rq->M), rq->lo, rq->hi) + rq->zy;
}
#endif

#endif /* LE_BYO_H */
