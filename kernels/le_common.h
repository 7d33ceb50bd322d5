/* le_common.h: what every lenet-edge kernel needs, in both kernel sets (kernels/ref, kernels/opt).
 * The generated lenet5_weights.h carries a copy of this file. */
#ifndef LE_COMMON_H
#define LE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* -ffast-math (and -Ofast) lets the compiler reassociate and drop the exact float rounding the
 * float requant path relies on (docs/int8-arithmetic.md, section 3a): refuse rather than answer
 * wrong. FMA contraction (-ffp-contract=fast, the GNU default) is harmless: the only float multiply
 * feeds a clamp, never an add. */
#if defined(__FAST_MATH__)
#error "lenet-edge: do not build the generated C with -ffast-math or -Ofast (the float requant path must round exactly; use -O2/-O3/-Os, or -DLENET5_INT_REQUANT)"
#endif

/* A gcc build that reserves a core register (-fno-omit-frame-pointer keeps r7 for the frame;
 * -ffixed-r9, -frwpi or -msingle-pic-base keep r9) leaves the opt kernels' widest asm loop (C3's,
 * 14 registers) too few, and gcc stops with "'asm' operand has impossible constraints". No
 * predefined macro reveals those flags, so such builds add -DLENET5_RESERVED_REGISTER: the same
 * answers, through a loop in C around a 13-register block (clang, which keeps r7, always takes it). */

/* The requant path: float32 (needs an FPU) or the integer-only replay (FPU-less Cortex-M, or
 * -DLENET5_INT_REQUANT). Both give identical codes. */
#ifndef LENET5_REQUANT_INT
#if defined(LENET5_INT_REQUANT) || (defined(__arm__) && !defined(__ARM_FP))
#define LENET5_REQUANT_INT 1
#else
#define LENET5_REQUANT_INT 0
#endif
#endif

#if LENET5_REQUANT_INT
/* a != 0: q = clamp(sign(acc) * floor((|acc| * a + r) / 2^(32 + sh)) + zp, -128, 127);
 * a == 0: r = m, sh = e with M = m * 2^e, 2^23 <= m < 2^24 (the exact replay, le_requant.h). */
typedef struct {
    int64_t r;
    int32_t a;
    int32_t sh;
} le_rq_t;
#else
typedef uint32_t le_rq_t; /* float32 bit pattern of M */
#endif

/* Kernels marked LE_INLINE are inlined at their call, where sizes, k and stride are literal
 * constants, so branches on them fold away. */
#if defined(__GNUC__)
#define LE_INLINE inline __attribute__((always_inline))
#define LE_UNUSED __attribute__((unused)) /* shared helpers: not every kernel calls all of them */
#else
#define LE_INLINE inline
#define LE_UNUSED
#endif

/* Constant arrays a kernel reads with LDRD (word-aligned loads only) are 4-byte aligned. */
#if defined(__GNUC__)
#define LE_ALIGN4 __attribute__((aligned(4)))
#else
#define LE_ALIGN4
#endif

#endif /* LE_COMMON_H */
