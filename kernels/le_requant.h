/* le_requant: int32 accumulator -> int8 code, bit-exact with ONNX Runtime's QLinearConv
 * (docs/int8-arithmetic.md, section 3). Shared by both kernel sets.
 *   q = clamp(RNE(fl(float(acc) * M)) + zp, -128, 127)
 * rq:   the per-channel multiplier M (float path: its float32 bit pattern; integer path: le_rq_t)
 * zp:   output zero point in [-128, 127]
 * wide: 0 if the layer's |acc| never exceeds 2^24 (float(acc) exact), else 1: float(acc) then rounds
 *       acc to 24 significant bits, half to even (ORT's cvtepi32_ps, C's (float)acc in the default
 *       rounding mode); the integer path does that rounding itself first. Kernels pass it through;
 *       at an inlined call it is a literal, so the unused branch disappears. */
#ifndef LE_REQUANT_H
#define LE_REQUANT_H

#include "le_bits.h"
#include "le_common.h"

#if LENET5_REQUANT_INT
/* Integer replay of the float path (int8-arithmetic.md section 3b; le_replay_abs in
 * kernels/le_bits.h, r = m, sh = e), acc > INT32_MIN. wide 0: |acc| <= 2^24, float(acc) exact;
 * wide 1: |acc| is first rounded to 24 significant bits, as float(acc) does. |q| >= 256 saturates
 * below anyway. */
static int8_t le_requant_exact(int32_t acc, le_rq_t rq, int32_t zp, int wide)
{
    const uint32_t a = acc < 0 ? 0u - (uint32_t)acc : (uint32_t)acc;
    int32_t q = (int32_t)le_replay_abs(a, (uint32_t)rq.r, rq.sh, 256u, wide);
    q = (acc < 0 ? -q : q) + zp;
    return (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
}

/* The same staircase in one 32x32->64 multiply-accumulate (requant.py fast_constants, checked at
 * every step over the layer's whole accumulator range): the float path is odd in acc, so
 * raw = floor((|acc| * a + r) / 2^(32 + sh)) and q = clamp(sign(acc) * raw + zp). Channels without
 * such constants (a == 0) replay section 3b. */
static LE_INLINE int32_t le_requant32(int32_t acc, le_rq_t rq, int32_t zp, int wide)
{
    int32_t s;
    int32_t u;
    int32_t q;
    if (rq.a == 0) {
        return le_requant_exact(acc, rq, zp, wide);
    }
    s = -(int32_t)((uint32_t)acc >> 31);                      /* -1 if acc < 0, else 0 */
    u = (acc ^ s) - s;                                         /* |acc| */
    q = (int32_t)(((int64_t)u * rq.a + rq.r) >> 32) >> rq.sh; /* < 2^30: M < 1/2 */
    q = ((q ^ s) - s) + zp;                                    /* sign(acc) * q + zp */
#if defined(__GNUC__) && defined(__ARM_FEATURE_SAT)
    __asm__("ssat %0, #8, %1" : "=r"(q) : "r"(q)); /* the clamp in one instruction (ARMv6, ARMv7-M) */
    return q;
#else
    return q < -128 ? -128 : (q > 127 ? 127 : q);
#endif
}
#elif defined(LE_REQUANT_VCVTR)
/* Float path (section 3a) on Cortex-M4F/M7 (kernels/opt/le_opt.h turns it on): the binary32
 * product, VCVTR rounds it to the nearest int32, ties to even (FPSCR default mode; saturating),
 * QADD adds the zero point without overflow, SSAT clamps to [-128, 127]. The product only feeds the
 * asm, so it cannot be fused into an addition. */
static LE_INLINE int32_t le_requant32(int32_t acc, le_rq_t rq, int32_t zp, int wide)
{
    float m;
    float v;
    int32_t q;
    (void)wide;
    memcpy(&m, &rq, sizeof m);
    v = (float)acc * m;
    __asm__("vcvtr.s32.f32 %0, %0" : "+t"(v));
    memcpy(&q, &v, sizeof q);
    if (zp != 0) { /* a literal at an inlined call: zp 0 (symmetric outputs) costs nothing */
        __asm__("qadd %0, %0, %1" : "+r"(q) : "r"(zp));
    }
    __asm__("ssat %0, #8, %0" : "+r"(q));
    return q;
}
#else
/* Float path (section 3a): one binary32 multiply, clamp to the integer bounds (so clamping before
 * rounding is exact), then round half to even by adding 1.5 * 2^23 and reading the low mantissa
 * bits (valid for |v| < 2^22; needs the default round-to-nearest mode). (float)acc already rounds a
 * wide acc the way ORT does, so `wide` changes nothing here. */
static LE_INLINE int32_t le_requant32(int32_t acc, le_rq_t rq, int32_t zp, int wide)
{
    float m;
    float v;
    uint32_t bits;
    const float lo = (float)(-128 - zp);
    const float hi = (float)(127 - zp);
    (void)wide;
    memcpy(&m, &rq, sizeof m);
    v = (float)acc * m;
    v = v < lo ? lo : (v > hi ? hi : v);
    v += 12582912.0f; /* 1.5 * 2^23: bits 0x4B400000 */
    memcpy(&bits, &v, sizeof bits);
    return (int32_t)bits - (int32_t)0x4B400000 + zp;
}
#endif

/* le_requant32 returns the code as an int32 already in [-128, 127] (so a table indexed by code + 128
 * needs no extension instruction); le_requant as an int8_t. */
static LE_INLINE int8_t le_requant(int32_t acc, le_rq_t rq, int32_t zp, int wide)
{
    return (int8_t)le_requant32(acc, rq, zp, wide);
}

#endif /* LE_REQUANT_H */
