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

#endif /* LE_BITS_H */
