/* le_byo.h: helpers shared by the kernels of compiled quantize_static models (`lenet-edge compile`),
 * both kernel sets. The arithmetic is ONNX Runtime's, op by op (docs/ort-int8-ops.md).
 * Codes are int8_t or uint8_t; each kernel file defines an _s8 and a _u8 function from one body. */
#ifndef LE_BYO_H
#define LE_BYO_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

#endif /* LE_BYO_H */
