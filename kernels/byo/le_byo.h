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

static LE_UNUSED float le_f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif /* LE_BYO_H */
