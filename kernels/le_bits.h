/* le_bits.h: the exact 64-bit integer steps of the integer-only requantization (FPU-less cores),
 * shared by both kernel families: kernels/le_requant.h (export --target c) and kernels/byo/le_byo.h
 * (lenet-edge compile). Unsigned arithmetic only; no float. */
#ifndef LE_BITS_H
#define LE_BITS_H

#include <stdint.h>

#if defined(__GNUC__)
#define LE_BITS_UNUSED __attribute__((unused)) /* not every build calls both */
#else
#define LE_BITS_UNUSED
#endif

/* x >> s rounded half to even; 1 <= s <= 63. */
static LE_BITS_UNUSED uint64_t le_shr_rne(uint64_t x, int s)
{
    const uint64_t q = x >> s;
    const uint64_t rem = x & ((((uint64_t)1) << s) - 1u);
    const uint64_t half = ((uint64_t)1) << (s - 1);
    return q + (uint64_t)(rem > half || (rem == half && (q & 1u)));
}

/* Number of significant bits of x (0 for 0). */
static LE_BITS_UNUSED int le_bitlen(uint64_t x)
{
#if defined(__GNUC__)
    return x ? 64 - __builtin_clzll(x) : 0;
#else
    int n = 0;
    while (x) {
        x >>= 1;
        ++n;
    }
    return n;
#endif
}

/* The float requantization's magnitude, replayed with integers (docs/int8-arithmetic.md section 3b;
 * kernels/le_requant.h and kernels/byo/le_byo.h both call it): a = |acc| (< 2^32), if round_a
 * rounded to 24 significant bits first (float(acc); a caller whose |acc| never exceeds 2^24 passes
 * 0); times m (< 2^24, exact in 64 bits) rounded to 24 significant bits (the float32 product);
 * times 2^e rounded to an integer; every rounding half to even. The result saturates at cap, a
 * power of two above every clamp bound the caller applies after. */
static LE_BITS_UNUSED uint32_t le_replay_abs(uint64_t a, uint32_t m, int e, uint32_t cap, int round_a)
{
    uint64_t p = a;
    int d = le_bitlen(p) - 24;
    if (round_a && d > 0) {
        p = le_shr_rne(p, d); /* may reach 2^24: still exact */
        e += d;
    }
    p *= m;
    d = le_bitlen(p) - 24;
    if (d > 0) {
        p = le_shr_rne(p, d);
        e += d;
    }
    if (p == 0) {
        return 0;
    }
    if (e < 0) {
        return -e > 62 ? 0u : (uint32_t)le_shr_rne(p, -e); /* p <= 2^24 */
    }
    return (e >= 31 || (p << e) > cap) ? cap : (uint32_t)(p << e);
}

#endif /* LE_BITS_H */
