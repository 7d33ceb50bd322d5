/* le_conv_dot_s8: QLinearConv whose k x k window is the whole input (one output pixel per channel,
 * e.g. C5 and F6), group 1, every kernel stored: a matrix-vector product.
 *   x:     [n] int8, the NCHW input (n = in_c*k*k; the input zero point is folded into bias)
 *   w:     [out_c][n] int8 in the blocked order of ops/conv.py dot_order (kernels/ref/le_conv_dot_s8.c
 *          reads the same bytes one by one): blocks of 6 channels (3 pairs X, Y), then pairs, then
 *          one channel; per chunk of 4 inputs t0..t3 and pair, the 8 bytes
 *              X[t0] Y[t0] X[t2] Y[t2]   X[t1] Y[t1] X[t3] Y[t3]
 *          with X's bytes stored as X + 128 (unsigned), then the n % 4 last inputs,
 *          [input][channel]; a lone channel: its n weights in order
 *   bias:  [out_c] int32, B - x_zp*sum(w); rq: [out_c] requant multipliers; zp in [-128, 127]
 *   wide:  see le_requant.h; pairs_ok: 1 if |acc| + 2^17 < 2^23 in every channel, so partial sums fit too (ops/conv.py)
 *   y:     [out_c] int8
 * One weight stream serves a whole block, and every input word is loaded and sign-extended once per
 * block of 6 channels. Every path adds x * (X + 128) to X's accumulator over the chunks (the
 * portable pair path: x * (Y + 128) to Y's) and subtracts 128 * sum(x) once (le_dot_block). wide
 * and pairs_ok are literals at the inlined call.
 *
 * Cortex-M4 (LE_SIMD): SXTB16 of an input word gives (x[t0], x[t2]) and (x[t1], x[t3]). Each
 * halfword of a weight word is (X + 128) + 256 * Y of one input as an int16, so SMLAD of the RAW
 * word with the input halves adds x*(X + 128) + 256 * x*Y to a combined accumulator, and SXTB16
 * of the word rotated by 8 gives Y's halves for a second SMLAD into Y's: 4 MACs per load + 1
 * extend + 2 SMLAD; at the end X = combined - 256 * Y. Exact: SMLAD adds products of at most
 * 2^22 modulo 2^32, so the combined sum and Y's are exact modulo 2^32, and so is X, whose final
 * value is within int32 (checked at generation).
 *
 * Portable path (Cortex-M3), when pairs_ok is 1: a weight word XOR 0x80808080 holds X signed and
 * Y + 128 unsigned; rotated by 8 (or 24) with the other two bytes masked off it reads
 * (Y + 128) + 2^24 * X of input t0 (or t2) as an int32, and one 32x32->64 multiply-accumulate
 * (SMLAL) adds x*(Y + 128) to the low and x*X to the high part of a 64-bit accumulator: 2 MACs
 * per instruction, about 1.7 instructions per MAC in all (le_pair_mac). Exact in 64 bits; the
 * channels separate again because |aY| < 2^23 (pairs_ok). */

#include "le_conv_core.h"
#include "le_opt.h"

#define LE_DOT_BLOCK 6

#if LE_SIMD
/* acc[0..2) (X, Y; in and out) of one pair over the chunks of 4 inputs (stride: bytes per chunk of
 * the block); X's accumulator adds x * (X + 128). a0 is the combined X + 256 * Y (modulo 2^32). */
static LE_INLINE void le_dot_pair_simd(const int8_t *x, int chunks, const int8_t *wp, int stride,
                                       int32_t *acc)
{
    int32_t a0 = (int32_t)((uint32_t)acc[0] + 256u * (uint32_t)acc[1]), a1 = acc[1];
    int k;
    for (k = 0; k < chunks; ++k) {
        const int32_t xv = le_load4(x);
        const int32_t xe = le_even16(xv); /* (x[t0], x[t2]) */
        const int32_t xo = le_odd16(xv);  /* (x[t1], x[t3]) */
        int32_t wv = le_load4(wp);        /* X t0, Y t0, X t2, Y t2 */
        a0 = le_smlad(xe, wv, a0);
        a1 = le_smlad(xe, le_odd16(wv), a1);
        wv = le_load4(wp + 4);            /* X t1, Y t1, X t3, Y t3 */
        a0 = le_smlad(xo, wv, a0);
        a1 = le_smlad(xo, le_odd16(wv), a1);
        x += 4;
        wp += stride;
    }
    acc[0] = (int32_t)((uint32_t)a0 - 256u * (uint32_t)a1);
    acc[1] = a1;
}

/* The block asm needs Thumb-2 (LDR with negative and write-back offsets on any register) and 13
 * registers (gcc at -O0 cannot find them) */
#if defined(__thumb2__) && defined(__OPTIMIZE__)
#define LE_DOT_ASM6 1
#else
#define LE_DOT_ASM6 0
#endif

/* One weight word t (its halfwords: (X + 128) + 256 Y of one input each, as int16) against the
 * input halves xh: SMLAD of the RAW word into the combined accumulator ac, then SXTB16 of the word
 * rotated by 8 IN PLACE (Y's bytes: t is not needed raw again, so no scratch register) and SMLAD
 * into Y's accumulator ay. */
#define LE_DOT_WORD(ac, ay, xh, t) \
    "smlad  %[" ac "], %[" xh "], %[" t "], %[" ac "]\n\t" \
    "sxtb16 %[" t "], %[" t "], ror #8\n\t" \
    "smlad  %[" ay "], %[" xh "], %[" t "], %[" ay "]\n\t"

/* One chunk of 4 inputs against the block's 3 pairs: the input word (address xa) and the 6 weight
 * words w0..w5 (pair 0 words 0, 1, pair 1 words 0, 1, pair 2 words 0, 1; word 0 meets (x[t0],
 * x[t2]), word 1 (x[t1], x[t3])). Load order (Cortex-M4 TRM 3.3.2: a single LDR directly after
 * another whose result and write-back are not in its address pipelines, 1 cycle instead of 2;
 * LDRD is 3 and never pipelines): two chains, the input word and 3 weight words (2 + 1 + 1 + 1),
 * then the other 3 (2 + 1 + 1): 9 cycles for 7 words (LDR + 3 LDRD: 11). Only the first load of a
 * chain may write back its base, or the last one (its successor is no load). */
#define LE_DOT_CHUNK(xa, w0, w1, w2, w3, w4, w5) \
    "ldr    %[xe], " xa "\n\t" \
    "ldr    %[t0], " w0 "\n\t" \
    "ldr    %[t1], " w1 "\n\t" \
    "ldr    %[t2], " w2 "\n\t" \
    "sxtb16 %[xo], %[xe], ror #8\n\t"   /* (x[t1], x[t3]) */ \
    "sxtb16 %[xe], %[xe]\n\t"           /* (x[t0], x[t2]) */ \
    LE_DOT_WORD("a0", "a1", "xe", "t0") \
    LE_DOT_WORD("a0", "a1", "xo", "t1") \
    LE_DOT_WORD("a2", "a3", "xe", "t2") \
    "ldr    %[t0], " w3 "\n\t" \
    "ldr    %[t1], " w4 "\n\t" \
    "ldr    %[t2], " w5 "\n\t" \
    LE_DOT_WORD("a2", "a3", "xo", "t0") \
    LE_DOT_WORD("a4", "a5", "xe", "t1") \
    LE_DOT_WORD("a4", "a5", "xo", "t2")

/* Two chunks (8 inputs, 48 weight bytes). Both pointers point 4 bytes BEFORE the chunk pair's data
 * and step by a pre-indexed write-back load ([x, #8]!, [w, #48]!) placed where the TRM allows it: x
 * by the first load of a chain (the next loads' base is w), w by the last (no load follows it).
 * 13 registers: 6 accumulators, the input halves, 3 weight words, the 2 pointers, all pinned (local
 * register variables, their one supported use: asm operands) by le_dot6_smlad: the pointers, x's
 * word and the weight words in r0..r5, so the other 12 loads are 16-bit encodings (LDR Rt, [Rn,
 * #imm5 * 4]; 48 bytes less code); left to choose, gcc shuffles accumulators between the two asm
 * blocks (3 to 4 MOVs per pass) and has no allocation for more than 3 "l" (r0-r7) operands. r7 is
 * left free (clang's frame pointer; gcc keeps the loop end there). */
#define LE_DOT6_2CHUNKS() \
    do { \
    register int32_t xe __asm__("r2"); \
    register int32_t t0 __asm__("r3"); \
    register int32_t t1 __asm__("r4"); \
    register int32_t t2 __asm__("r5"); \
    register int32_t xo __asm__("r6"); \
    __asm__(LE_DOT_CHUNK("[%[x], #4]", "[%[w], #4]", "[%[w], #8]", "[%[w], #12]", \
                         "[%[w], #16]", "[%[w], #20]", "[%[w], #24]") \
            LE_DOT_CHUNK("[%[x], #8]!", "[%[w], #28]", "[%[w], #32]", "[%[w], #36]", \
                         "[%[w], #40]", "[%[w], #44]", "[%[w], #48]!") \
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4), \
              [a5] "+r"(a5), [x] "+r"(xa), [w] "+r"(w), [xe] "=&r"(xe), [xo] "=&r"(xo), \
              [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2) \
            : \
            : "memory"); \
    } while (0)

#if LE_DOT_ASM6 && defined(LE_REQUANT_VCVTR)
/* y[0..6) = the le_requant codes (zero point 0, `wide` needs nothing: VCVT rounds a wide acc as C's
 * (float)acc does) of the 6 accumulators q0..q5 with the float32 multipliers rq[0..6), in one
 * pass instead of 6 turns of the C loop (about 15 cycles each): 3 VMOV of two core registers
 * (2 cycles each), one VLDM of the multipliers (1 + 6), 6 VCVT, 6 VMUL, 6 VCVTR, 3 VMOV back, then
 * SSAT and STRB alternating (TRM: nothing pipelines after a store, so a store right after a store
 * costs a cycle more). s0..s11 are caller-saved in the hard-float ABI. */
static LE_INLINE void le_requant6_vcvtr(int32_t q0, int32_t q1, int32_t q2, int32_t q3, int32_t q4,
                                        int32_t q5, const le_rq_t *rq, int8_t *y)
{
    /* the codes and y in low registers (not r7: clang's frame pointer), so each STRB is a 16-bit
     * encoding */
    register int32_t c0 __asm__("r0");
    register int32_t c1 __asm__("r1");
    register int32_t c2 __asm__("r2");
    register int32_t c3 __asm__("r3");
    register int32_t c4 __asm__("r4");
    register int32_t c5 __asm__("r5");
    register int8_t *yr __asm__("r6") = y;
    __asm__ __volatile__( /* volatile: its only effect is the stores */
            "vmov   s0, s1, %[q0], %[q1]\n\t"
            "vmov   s2, s3, %[q2], %[q3]\n\t"
            "vmov   s4, s5, %[q4], %[q5]\n\t"
            "vldm   %[rq], {s6-s11}\n\t"
            "vcvt.f32.s32 s0, s0\n\t"
            "vcvt.f32.s32 s1, s1\n\t"
            "vcvt.f32.s32 s2, s2\n\t"
            "vcvt.f32.s32 s3, s3\n\t"
            "vcvt.f32.s32 s4, s4\n\t"
            "vcvt.f32.s32 s5, s5\n\t"
            "vmul.f32 s0, s0, s6\n\t"
            "vmul.f32 s1, s1, s7\n\t"
            "vmul.f32 s2, s2, s8\n\t"
            "vmul.f32 s3, s3, s9\n\t"
            "vmul.f32 s4, s4, s10\n\t"
            "vmul.f32 s5, s5, s11\n\t"
            "vcvtr.s32.f32 s0, s0\n\t"
            "vcvtr.s32.f32 s1, s1\n\t"
            "vcvtr.s32.f32 s2, s2\n\t"
            "vcvtr.s32.f32 s3, s3\n\t"
            "vcvtr.s32.f32 s4, s4\n\t"
            "vcvtr.s32.f32 s5, s5\n\t"
            "vmov   %[c0], %[c1], s0, s1\n\t"
            "vmov   %[c2], %[c3], s2, s3\n\t"
            "vmov   %[c4], %[c5], s4, s5\n\t"
            "ssat   %[c0], #8, %[c0]\n\t"
            "strb   %[c0], [%[y]]\n\t"
            "ssat   %[c1], #8, %[c1]\n\t"
            "strb   %[c1], [%[y], #1]\n\t"
            "ssat   %[c2], #8, %[c2]\n\t"
            "strb   %[c2], [%[y], #2]\n\t"
            "ssat   %[c3], #8, %[c3]\n\t"
            "strb   %[c3], [%[y], #3]\n\t"
            "ssat   %[c4], #8, %[c4]\n\t"
            "strb   %[c4], [%[y], #4]\n\t"
            "ssat   %[c5], #8, %[c5]\n\t"
            "strb   %[c5], [%[y], #5]"
            : [c0] "=r"(c0), [c1] "=r"(c1), [c2] "=r"(c2), [c3] "=r"(c3), [c4] "=r"(c4), [c5] "=r"(c5)
            : [q0] "r"(q0), [q1] "r"(q1), [q2] "r"(q2), [q3] "r"(q3), [q4] "r"(q4), [q5] "r"(q5),
              [rq] "r"(rq), [y] "r"(yr)
            : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "memory");
}
#define LE_DOT_RQ6 1
#else
#define LE_DOT_RQ6 0
#endif

#if LE_DOT_ASM6
/* The accumulators acc[0..6) = init[..] + the dot products of a block of 3 pairs over an EVEN
 * number of chunks (x .. xend, word-aligned weights at wp, 24 bytes per chunk), minus x_off for X
 * (the + 128 offsets; modulo 2^32). rq == 0: out is acc, int32_t[6]; else (LE_DOT_RQ6, zero point
 * 0, no input left after the chunks) out is y, the 6 int8 codes (le_requant6_vcvtr with the
 * multipliers rq[0..6)). One pointer for both keeps the arguments at 7 (3 on the stack).
 * The loop runs 4 chunks (two asm blocks of 2) per CMP + BNE (1 + 3 cycles); a chunk count of
 * 4k + 2 enters at the second block. 27 instructions and 29 cycles per chunk (12 SMLAD, 8 SXTB16,
 * 7 LDR in 9 cycles). Out of line: one copy serves every dot layer (C5 and F6). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void le_dot6_smlad(const int8_t *x, const int8_t *xend, const int8_t *wp, const int32_t *init,
                          uint32_t x_off, const le_rq_t *rq, void *out)
{
    /* the combined accumulators start at init X - x_off + 256 * init Y (modulo 2^32: the asm adds
     * modulo 2^32 too) */
    register int32_t a0 __asm__("r8");
    register int32_t a1 __asm__("r9");
    register int32_t a2 __asm__("r10");
    register int32_t a3 __asm__("r11");
    register int32_t a4 __asm__("r12");
    register int32_t a5 __asm__("lr");
    /* init[0..6) by one LDM (1 + 6 cycles; 6 LDR as gcc interleaves them: about 9, and 14 more
     * bytes): the pinned registers ascend as LDM's list must */
    __asm__("ldm    %[init], {%[a0], %[a1], %[a2], %[a3], %[a4], %[a5]}"
            : [a0] "=r"(a0), [a1] "=r"(a1), [a2] "=r"(a2), [a3] "=r"(a3), [a4] "=r"(a4), [a5] "=r"(a5)
            : [init] "r"(init), "m"(*(const int32_t(*)[LE_DOT_BLOCK])init));
    a0 = (int32_t)((uint32_t)a0 - x_off + 256u * (uint32_t)a1);
    a2 = (int32_t)((uint32_t)a2 - x_off + 256u * (uint32_t)a3);
    a4 = (int32_t)((uint32_t)a4 - x_off + 256u * (uint32_t)a5);
    /* 4 bytes before the inputs and the weights: see LE_DOT6_2CHUNKS */
    register uintptr_t xa __asm__("r0") = (uintptr_t)x - 4u;
    register uintptr_t w __asm__("r1") = (uintptr_t)wp - 4u;
    const uintptr_t xa_end = (uintptr_t)xend - 4u;
    if ((xend - x) % 16 != 0) { /* 4k + 2 chunks: the first pass runs the second block only */
        goto two;
    }
    while (xa != xa_end) {
        LE_DOT6_2CHUNKS();
    two:
        LE_DOT6_2CHUNKS();
    }
    {
        int32_t q0 = (int32_t)((uint32_t)a0 - 256u * (uint32_t)a1); /* X = combined - 256 * Y */
        int32_t q1 = a1;
        int32_t q2 = (int32_t)((uint32_t)a2 - 256u * (uint32_t)a3);
        int32_t q3 = a3;
        int32_t q4 = (int32_t)((uint32_t)a4 - 256u * (uint32_t)a5);
        int32_t q5 = a5;
        int32_t *acc = (int32_t *)out;
#if LE_DOT_RQ6
        if (rq != 0) {
            le_requant6_vcvtr(q0, q1, q2, q3, q4, q5, rq, (int8_t *)out);
            return;
        }
#endif
        (void)rq;
        acc[0] = q0;
        acc[1] = q1;
        acc[2] = q2;
        acc[3] = q3;
        acc[4] = q4;
        acc[5] = q5;
    }
}
#endif

/* acc[0..2*pairs) = init[..] + the dot products of a block of `pairs` (1 or 3) (X, Y) pairs over
 * the chunks of 4 inputs, minus x_off for X (the + 128 offsets; modulo 2^32). 3 pairs with
 * word-aligned weights (the array is LE_ALIGN4 and n is even): le_dot6_smlad over the even chunks,
 * the odd last chunk (if any) in C; otherwise the C loop (gcc hoists and spills, but the rest is
 * small). */
static LE_INLINE void le_dot_pairs_simd(const int8_t *x, int chunks, const int8_t *wp, int pairs,
                                        int aligned, const int32_t *init, uint32_t x_off, int32_t *acc)
{
    int p;
#if LE_DOT_ASM6
    if (pairs == 3 && aligned) {
        const int even = chunks - chunks % 2;
        le_dot6_smlad(x, x + 4 * even, wp, init, x_off, 0, acc);
        for (p = 0; p < 3 && chunks > even; ++p) { /* the odd last chunk */
            le_dot_pair_simd(x + 4 * even, 1, wp + 24 * even + 8 * p, 24, acc + 2 * p);
        }
        return;
    }
#endif
    (void)aligned;
    for (p = 0; p < pairs; ++p) {
        acc[2 * p] = init[2 * p];
        acc[2 * p + 1] = init[2 * p + 1];
        le_dot_pair_simd(x, chunks, wp + 8 * p, 8 * pairs, acc + 2 * p);
        acc[2 * p] = (int32_t)((uint32_t)acc[2 * p] - x_off);
    }
}
#else
/* p + xa * ((Y + 128) + 2^24 X) of bytes 0 (X) and 1 (Y) of the weight word v (input t0), and xb *
 * (the same) of bytes 2 and 3 (input t2): X's byte is stored as X + 128, Y's as Y; XOR 0x80 makes
 * them X (signed) and Y + 128 (unsigned in [0, 255]); rotated so that Y's byte is byte 0 and X's
 * byte 3, and masked to that pair, the word reads (Y + 128) + 2^24 * X as an int32. gcc: EOR,
 * AND with ROR #8, AND with ROR #24, 2 SMLAL. */
static LE_INLINE int64_t le_pair_mac(int64_t p, int32_t xa, int32_t xb, uint32_t v)
{
    v ^= 0x80808080u;
    p += (int64_t)xa * (int32_t)(((v >> 8) | (v << 24)) & 0xFF0000FFu);
    return p + (int64_t)xb * (int32_t)(((v >> 24) | (v << 8)) & 0xFF0000FFu);
}

/* One pair's 64-bit accumulator from (aX, aY): aY + 2^24 * aX. */
static LE_INLINE int64_t le_pair_start(int32_t ax, int32_t ay)
{
    return (int64_t)ay + (int64_t)ax * (1 << 24);
}

/* (aX, aY) back from p = aY + 2^24 * aX, |aY| < 2^23: aY is the low 24 bits, sign-extended. */
static LE_INLINE void le_pair_end(int64_t p, int32_t *acc)
{
    const int32_t ay = (int32_t)(((uint32_t)p & 0xFFFFFFu) ^ 0x800000u) - 0x800000;
    acc[1] = ay;
    acc[0] = (int32_t)(uint32_t)((uint64_t)(p - ay) >> 24);
}

/* acc[0..2) of one pair over the chunks of 4 inputs (stride: bytes per chunk of the block), one
 * 64-bit accumulator for both channels (exact: the final |aY| < 2^23, the caller checks). */
static LE_INLINE void le_dot_pair_smlal(const int8_t *x, int chunks, const int8_t *wp, int stride,
                                        int32_t *acc)
{
    int64_t p = le_pair_start(acc[0], acc[1]);
    int k;
    for (k = 0; k < chunks; ++k) {
        uint32_t wv;
        memcpy(&wv, wp, 4);                   /* word 0: inputs t0 (bytes 0, 3) and t2 (bytes 2, 1) */
        p = le_pair_mac(p, x[0], x[2], wv);
        memcpy(&wv, wp + 4, 4);               /* word 1: inputs t1 and t3 */
        p = le_pair_mac(p, x[1], x[3], wv);
        x += 4;
        wp += stride;
    }
    le_pair_end(p, acc);
}

#if defined(__GNUC__) && defined(__thumb2__) && !defined(__ARM_BIG_ENDIAN) && defined(__OPTIMIZE__)
/* ARMv7-M without DSP (Cortex-M3): le_pair_mac of one weight word (loaded from `load`) into the
 * 64-bit accumulator (lo, hi); m holds the mask 0xFF0000FF, t0 and t1 are scratch. */
#define LE_PAIR_WORD(load, lo, hi) \
    "ldr    %[t0], " load "\n\t" \
    "eor    %[t0], %[t0], #0x80808080\n\t" \
    "and    %[t1], %[m], %[t0], ror #8\n\t" \
    "smlal  %[" lo "], %[" hi "], %[t1], %[xa]\n\t" \
    "and    %[t1], %[m], %[t0], ror #24\n\t" \
    "smlal  %[" lo "], %[" hi "], %[t1], %[xb]\n\t"

/* The 3 pairs of a block of 6 channels over an EVEN number of chunks (x .. xend, weights at w, 24
 * bytes per chunk), two chunks per asm block: 6 accumulator halves, 2 inputs, the mask, 2 scratch
 * registers and 2 pointers are 13 registers, gcc's loop end the 14th (as C, gcc keeps the 64-bit
 * accumulators in register pairs and spills). The first load of each pointer steps it
 * (post-index), the others reach back: 80 instructions per 48 MACs, plus the loop's CMP and BNE
 * and (inlined in lenet5_predict, short of registers) about 3 moves and reloads. Not out of line
 * as on the M4: its 36-byte register save on top of lenet5_predict's frame would lift the
 * Cortex-M3 stack peak past 512 B; and the loop end cannot join the asm (14 operands: clang
 * cannot allocate them). */
static LE_INLINE void le_dot6_smlal(const int8_t *x, const int8_t *xend, const int8_t *wp, int32_t *acc)
{
    const int64_t p0 = le_pair_start(acc[0], acc[1]);
    const int64_t p1 = le_pair_start(acc[2], acc[3]);
    const int64_t p2 = le_pair_start(acc[4], acc[5]);
    uint32_t l0 = (uint32_t)p0, h0 = (uint32_t)((uint64_t)p0 >> 32);
    uint32_t l1 = (uint32_t)p1, h1 = (uint32_t)((uint64_t)p1 >> 32);
    uint32_t l2 = (uint32_t)p2, h2 = (uint32_t)((uint64_t)p2 >> 32);
    const uint32_t m = 0xFF0000FFu;
    while (x != xend) {
        int32_t xa;
        int32_t xb;
        uint32_t t0;
        uint32_t t1;
        __asm__("ldrsb  %[xa], [%[x]], #8\n\t"       /* chunk 0, word 0 of each pair: x[0], x[2] */
                "ldrsb  %[xb], [%[x], #-6]\n\t"
                LE_PAIR_WORD("[%[w]], #48", "l0", "h0")
                LE_PAIR_WORD("[%[w], #-40]", "l1", "h1")
                LE_PAIR_WORD("[%[w], #-32]", "l2", "h2")
                "ldrsb  %[xa], [%[x], #-7]\n\t"      /* word 1: x[1], x[3] */
                "ldrsb  %[xb], [%[x], #-5]\n\t"
                LE_PAIR_WORD("[%[w], #-44]", "l0", "h0")
                LE_PAIR_WORD("[%[w], #-36]", "l1", "h1")
                LE_PAIR_WORD("[%[w], #-28]", "l2", "h2")
                "ldrsb  %[xa], [%[x], #-4]\n\t"      /* chunk 1: x[4], x[6] */
                "ldrsb  %[xb], [%[x], #-2]\n\t"
                LE_PAIR_WORD("[%[w], #-24]", "l0", "h0")
                LE_PAIR_WORD("[%[w], #-16]", "l1", "h1")
                LE_PAIR_WORD("[%[w], #-8]", "l2", "h2")
                "ldrsb  %[xa], [%[x], #-3]\n\t"      /* x[5], x[7] */
                "ldrsb  %[xb], [%[x], #-1]\n\t"
                LE_PAIR_WORD("[%[w], #-20]", "l0", "h0")
                LE_PAIR_WORD("[%[w], #-12]", "l1", "h1")
                LE_PAIR_WORD("[%[w], #-4]", "l2", "h2")
                : [l0] "+r"(l0), [h0] "+r"(h0), [l1] "+r"(l1), [h1] "+r"(h1), [l2] "+r"(l2),
                  [h2] "+r"(h2), [x] "+r"(x), [w] "+r"(wp), [xa] "=&r"(xa), [xb] "=&r"(xb),
                  [t0] "=&r"(t0), [t1] "=&r"(t1)
                : [m] "r"(m)
                : "memory");
    }
    le_pair_end((int64_t)(((uint64_t)h0 << 32) | l0), acc);
    le_pair_end((int64_t)(((uint64_t)h1 << 32) | l1), acc + 2);
    le_pair_end((int64_t)(((uint64_t)h2 << 32) | l2), acc + 4);
}

/* acc[0..6) (in and out) of the 3 pairs of a block over the chunks: le_dot6_smlal over the even
 * chunks, the odd last one (if any) in C. */
static LE_INLINE void le_dot_pairs3_thumb2(const int8_t *x, int chunks, const int8_t *wp,
                                           int32_t *acc)
{
    const int even = chunks - chunks % 2;
    int p;
    le_dot6_smlal(x, x + 4 * even, wp, acc);
    for (p = 0; p < 3 && chunks > even; ++p) {
        le_dot_pair_smlal(x + 4 * even, chunks - even, wp + 24 * even + 8 * p, 24, acc + 2 * p);
    }
}
#define LE_DOT_THUMB2 1
#else
#define LE_DOT_THUMB2 0
#endif

#if defined(__SSE2__) && (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 9))
/* x86 hosts (SSE2, every x86-64): PMADDWD, 8 int16 products added in pairs into 4 int32 lanes.
 * GNU vector types and the compiler's builtin, so the generated C includes no intrinsics header. */
#define LE_DOT_SSE2 1
typedef short le_v8hi __attribute__((vector_size(16)));
typedef int le_v4si __attribute__((vector_size(16)));

/* ax += X's products, ay += Y's, of the pairs whose 8-byte groups are in the 16 bytes at wp (the
 * upper 8 only if two): read as int16 lanes, a group is (X t0 | Y t0 << 8, X t2 | Y t2 << 8,
 * X t1 | Y t1 << 8, X t3 | Y t3 << 8), so lane & 0xFF is X (+ 128, unsigned) and lane >> 8 is Y
 * (signed), both against xv = (x0, x2, x1, x3) per group. */
static LE_INLINE void le_dot_groups_sse2(const int8_t *wp, int two, le_v8hi xv, le_v4si *ax, le_v4si *ay)
{
    const le_v8hi low = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    le_v8hi w = {0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(&w, wp, two ? 16 : 8);
    *ax += __builtin_ia32_pmaddwd128(w & low, xv);
    *ay += __builtin_ia32_pmaddwd128(w >> 8, xv);
}

typedef unsigned short le_v8hu __attribute__((vector_size(16)));
typedef long long le_v2di __attribute__((vector_size(16)));
#if defined(__clang__)
#define LE_SHUF16(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define LE_SHUF16(a, b, ...) __builtin_shuffle(a, b, (le_v8hi){__VA_ARGS__})
#endif

/* acc[0..6) += the dot products of a block of 3 pairs over 2 * chunk2 chunks, two chunks (8 inputs,
 * 48 weight bytes = 3 vectors of 2 groups) per step. The inputs: one 8-byte load read as int16
 * lanes, split into even and odd bytes (shift pairs), then shuffled into the (x0, x2, x1, x3)
 * pattern of le_dot_groups_sse2 for chunk 0 (c0), chunk 1 (c1) and both (c01).
 * The 3 weight vectors are (c0 P0 | c0 P1), (c0 P2 | c1 P0), (c1 P1 | c1 P2): v0 meets x c0,
 * v1 x c01, v2 x c1, and each pair's lanes are summed from two accumulators at the end. */
static LE_INLINE void le_dot6_sse2(const int8_t *x, int chunk2, const int8_t *wp, int32_t *acc)
{
    const le_v8hi low = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    le_v4si ax0 = {0, 0, 0, 0}, ay0 = ax0, ax1 = ax0, ay1 = ax0, ax2 = ax0, ay2 = ax0;
    int k;
    for (k = 0; k < chunk2; ++k) {
        long long xq;
        le_v2di xd;
        le_v8hi v, e, o, x01, x00, x11, w;
        memcpy(&xq, x, 8);
        xd = (le_v2di){xq, 0};
        v = (le_v8hi)xd;                                /* lane i: x[2i] | x[2i + 1] << 8 */
        e = (le_v8hi)((le_v8hu)v << 8) >> 8;           /* x0, x2, x4, x6 (sign-extended) */
        o = v >> 8;                                     /* x1, x3, x5, x7 */
        x01 = LE_SHUF16(e, o, 0, 1, 8, 9, 2, 3, 10, 11); /* x0 x2 x1 x3 | x4 x6 x5 x7 */
        x00 = LE_SHUF16(x01, x01, 0, 1, 2, 3, 0, 1, 2, 3); /* chunk 0 twice */
        x11 = LE_SHUF16(x01, x01, 4, 5, 6, 7, 4, 5, 6, 7); /* chunk 1 twice */
        memcpy(&w, wp, 16);
        ax0 += __builtin_ia32_pmaddwd128(w & low, x00);
        ay0 += __builtin_ia32_pmaddwd128(w >> 8, x00);
        memcpy(&w, wp + 16, 16);
        ax1 += __builtin_ia32_pmaddwd128(w & low, x01);
        ay1 += __builtin_ia32_pmaddwd128(w >> 8, x01);
        memcpy(&w, wp + 32, 16);
        ax2 += __builtin_ia32_pmaddwd128(w & low, x11);
        ay2 += __builtin_ia32_pmaddwd128(w >> 8, x11);
        x += 8;
        wp += 48;
    }
    /* P0: ax0 lanes 0, 1 (c0) + ax1 lanes 2, 3 (c1); P1: ax0 2, 3 + ax2 0, 1; P2: ax1 0, 1 + ax2 2, 3 */
    acc[0] += ax0[0] + ax0[1] + ax1[2] + ax1[3];
    acc[1] += ay0[0] + ay0[1] + ay1[2] + ay1[3];
    acc[2] += ax0[2] + ax0[3] + ax2[0] + ax2[1];
    acc[3] += ay0[2] + ay0[3] + ay2[0] + ay2[1];
    acc[4] += ax1[0] + ax1[1] + ax2[2] + ax2[3];
    acc[5] += ay1[0] + ay1[1] + ay2[2] + ay2[3];
}

/* acc[0..2*pairs) of a block of `pairs` (1 or 3) pairs over the chunks of 4 inputs: PMADDWD adds
 * the products of a group in pairs into int32 lanes (lanes 0, 1: the first pair of the 16 bytes,
 * 2, 3: the second). Exact: each lane holds a partial sum of one channel's products, modulo 2^32. */
static LE_INLINE void le_dot_pairs_sse2(const int8_t *x, int chunks, const int8_t *wp, int pairs,
                                        int32_t *acc)
{
    le_v4si ax01 = {0, 0, 0, 0}, ay01 = ax01, ax2 = ax01, ay2 = ax01;
    int k;
    if (pairs == 3) { /* two chunks per step, then the odd last one (if any) below */
        le_dot6_sse2(x, chunks / 2, wp, acc);
        x += 8 * (chunks / 2);
        wp += 48 * (chunks / 2);
        chunks %= 2;
    }
    for (k = 0; k < chunks; ++k) {
        /* (x0, x2, x1, x3) as int16 pairs in int32 lanes (little-endian) */
        const uint32_t x0 = (uint16_t)x[4 * k], x1 = (uint16_t)x[4 * k + 1];
        const uint32_t x2 = (uint16_t)x[4 * k + 2], x3 = (uint16_t)x[4 * k + 3];
        const int32_t a = (int32_t)(x0 | x2 << 16), b = (int32_t)(x1 | x3 << 16);
        const le_v4si xv4 = {a, b, a, b};
        if (pairs == 3) {
            le_dot_groups_sse2(wp, 1, (le_v8hi)xv4, &ax01, &ay01);
            le_dot_groups_sse2(wp + 16, 0, (le_v8hi)xv4, &ax2, &ay2);
        } else {
            le_dot_groups_sse2(wp, 0, (le_v8hi)xv4, &ax01, &ay01);
        }
        wp += 8 * pairs;
    }
    acc[0] += ax01[0] + ax01[1];
    acc[1] += ay01[0] + ay01[1];
    if (pairs == 3) {
        acc[2] += ax01[2] + ax01[3];
        acc[3] += ay01[2] + ay01[3];
        acc[4] += ax2[0] + ax2[1];
        acc[5] += ay2[0] + ay2[1];
    }
}
#else
#define LE_DOT_SSE2 0
#endif
#endif

#ifndef LE_DOT_SSE2
#define LE_DOT_SSE2 0
#endif

/* acc[0..2*pairs) = init[..] + the 4-input chunks of a block; the plain loop when the pairs are
 * not exact. sum_x: sum of the chunked inputs. */
static LE_INLINE void le_dot_block(const int8_t *x, int chunks, const int8_t *wp, int pairs,
                                   int32_t sum_x, int use_pairs, int aligned, const int32_t *init,
                                   int32_t *acc)
{
    /* X's accumulators add x * (X + 128) over the chunks, -128 * sum_x after (uint32: it wraps, and
     * ends exact); the portable 64-bit pairs add x * (Y + 128) to Y's, -128 * sum_x before (Y's
     * part must end within 24 bits) */
    const int offset_first = !LE_SIMD && !LE_DOT_SSE2 && use_pairs;
    int p;
#if LE_SIMD
    (void)use_pairs;
    (void)offset_first;
    (void)p;
    le_dot_pairs_simd(x, chunks, wp, pairs, aligned, init, 128u * (uint32_t)sum_x, acc);
#else
    for (p = 0; p < 2 * pairs; ++p) {
        acc[p] = init[p];
    }
    for (p = 0; offset_first && p < pairs; ++p) {
        acc[2 * p + 1] -= 128 * sum_x;
    }
    (void)aligned;
    if (LE_DOT_SSE2) {
#if LE_DOT_SSE2
        (void)use_pairs;
        le_dot_pairs_sse2(x, chunks, wp, pairs, acc);
#endif
    } else if (use_pairs && pairs == 3 && LE_DOT_THUMB2) {
#if LE_DOT_THUMB2
        le_dot_pairs3_thumb2(x, chunks, wp, acc);
#endif
    } else if (use_pairs) {
        for (p = 0; p < pairs; ++p) {
            le_dot_pair_smlal(x, chunks, wp + 8 * p, 8 * pairs, acc + 2 * p);
        }
    } else {
        int k;
        for (k = 0; k < chunks; ++k) {
            for (p = 0; p < pairs; ++p) {
                const int8_t *g = wp + 8 * (pairs * k + p); /* X t0, Y t0, X t2, Y t2, X t1, Y t1, X t3, Y t3 */
                const int8_t *xk = x + 4 * k;
                /* uint32: X's running sum may leave int32 on the way in a wide layer (it carries
                 * the + 128 offsets until the end); it wraps, and ends at the exact value */
                acc[2 * p] = (int32_t)((uint32_t)acc[2 * p] +
                                       (uint32_t)(xk[0] * (uint8_t)g[0] + xk[1] * (uint8_t)g[4] +
                                                  xk[2] * (uint8_t)g[2] + xk[3] * (uint8_t)g[6]));
                acc[2 * p + 1] += xk[0] * g[1] + xk[1] * g[5] + xk[2] * g[3] + xk[3] * g[7];
            }
        }
    }
    for (p = 0; !offset_first && p < pairs; ++p) {
        acc[2 * p] = (int32_t)((uint32_t)acc[2 * p] - 128u * (uint32_t)sum_x);
    }
#endif
}

/* sum of x[0 .. 4 * chunks): the unsigned bytes x + 128 (XOR 0x80) added 4 at a time, by USADA8 on
 * the M4 (two words per step: at most 1,020 per word, so 32 bits hold any n), else in two 16-bit
 * lanes (at most 510 per word: folded every 128 words). */
static LE_INLINE int32_t le_dot_sum(const int8_t *x, int chunks)
{
    int32_t sum = -512 * chunks;
    int k = 0;
#if LE_SIMD
    uint32_t part = 0;
    for (; k + 2 <= chunks; k += 2) {
        uint32_t v0;
        uint32_t v1;
        memcpy(&v0, x + 4 * k, 4);
        memcpy(&v1, x + 4 * k + 4, 4);
        __asm__("usada8 %0, %1, %2, %0" : "+r"(part) : "r"(v0 ^ 0x80808080u), "r"(0));
        __asm__("usada8 %0, %1, %2, %0" : "+r"(part) : "r"(v1 ^ 0x80808080u), "r"(0));
    }
    if (k < chunks) {
        uint32_t v;
        memcpy(&v, x + 4 * k, 4);
        __asm__("usada8 %0, %1, %2, %0" : "+r"(part) : "r"(v ^ 0x80808080u), "r"(0));
    }
    return sum + (int32_t)part;
#else
    while (k < chunks) {
        const int end = chunks - k < 128 ? chunks : k + 128;
        uint32_t part = 0;
        for (; k < end; ++k) {
            uint32_t v;
            memcpy(&v, x + 4 * k, 4);
            v ^= 0x80808080u;
            part += (v & 0x00FF00FFu) + ((v >> 8) & 0x00FF00FFu);
        }
        part = (part & 0xFFFFu) + (part >> 16);
        sum += (int32_t)part;
    }
    return sum;
#endif
}

/* Channels o .. o + size - 1, one block of the layout (size 6, 2 or 1, a literal at each call);
 * wp: the block's weights. */
static LE_INLINE void le_dot_channels(const int8_t *x, int n, const int8_t *wp, const int32_t *bias,
                                      const le_rq_t *rq, int32_t zp, int wide, int pairs_ok,
                                      int32_t sum_x, int8_t *y, int o, int size)
{
    const int chunks = n / 4;
    int32_t acc[LE_DOT_BLOCK];
    int c;
    int t;
#if LE_DOT_RQ6
    if (size == LE_DOT_BLOCK && zp == 0 && n % 8 == 0) {
        /* an even chunk count and no last inputs (literals at the inlined call): le_dot6_smlad runs
         * the whole block, requant and store included (le_requant6_vcvtr) */
        le_dot6_smlad(x, x + n, wp, bias + o, 128u * (uint32_t)sum_x, rq + o, y + o);
        return;
    }
#endif
    if (size == 1) { /* a lone last channel: its weights in order */
        acc[0] = bias[o];
        for (t = 0; t < n; ++t) {
            acc[0] += x[t] * wp[t];
        }
    } else {
        le_dot_block(x, chunks, wp, size / 2, sum_x, pairs_ok, n % 2 == 0, bias + o, acc);
        wp += 4 * chunks * size;
        for (t = 4 * chunks; t < n; ++t) { /* the n % 4 last inputs, [input][channel] */
            for (c = 0; c < size; ++c) {
                acc[c] += x[t] * *wp++;
            }
        }
    }
    for (c = 0; c < size; ++c) { /* one requant call site */
        y[o + c] = le_requant(acc[c], rq[o + c], zp, wide);
    }
}

static LE_INLINE void le_conv_dot_s8(const int8_t *x, int n, const int8_t *w,
                                      const int32_t *bias, const le_rq_t *rq, int32_t zp, int wide,
                                      int pairs_ok, int8_t *y, int out_c)
{
    const int32_t sum_x = le_dot_sum(x, n / 4); /* |sum_x| < 2^7 n: 128 * sum_x fits for n < 2^17 */
    int o;
    for (o = 0; out_c - o >= LE_DOT_BLOCK; o += LE_DOT_BLOCK) {
        le_dot_channels(x, n, w + o * n, bias, rq, zp, wide, pairs_ok, sum_x, y, o, LE_DOT_BLOCK);
    }
    for (; out_c - o >= 2; o += 2) {
        le_dot_channels(x, n, w + o * n, bias, rq, zp, wide, pairs_ok, sum_x, y, o, 2);
    }
    if (o < out_c) {
        le_dot_channels(x, n, w + o * n, bias, rq, zp, wide, pairs_ok, sum_x, y, o, 1);
    }
}
