/* le_conv_subsample_row.h (kernels/opt): the inner loops of the fused conv + 2x2/2 kernels
 * (le_conv_subsample_s8, le_conv_subsample_u8, le_conv_maxpool_s8): the four conv accumulators
 * under one 2x2 window, and one subsampled output row of one channel. */
#ifndef LE_CONV_SUBSAMPLE_ROW_H
#define LE_CONV_SUBSAMPLE_ROW_H

#include "le_conv_core.h"
#include "le_opt.h"

/* p unchanged, but the compiler no longer knows where it points (no instruction). */
#if defined(__GNUC__)
#define le_hide(p) __asm__("" : "+r"(p))
#else
#define le_hide(p) ((void)0)
#endif

#if LE_SIMD
/* A 5x5 kernel on ARMv7E-M, input row by input row: each of the 6 input rows under a 2x2 window
 * is loaded and split once (le_cs_x5), then multiplied with the kernel row below it (conv row 1:
 * a2, a3) and the one at its level (conv row 0: a0, a1); the kernel row (le_cs_w5) is split once
 * and kept for the next input row. At most 13 values live: 4 sums, 4 input pairs, 3 weight values,
 * 2 pointers. Per kernel: 6 x (2 LDR + 4 SXTB16) + 5 x (LDR + 2 SXTB16 + LDRSB) + 40 SMLAD +
 * 20 SMLATB = 116 instructions for 100 MACs (measured: about 128 per kernel and window at -O2). */
typedef struct {
    int32_t e, o, e2, o2; /* (x0,x2) (x1,x3) (x2,x4) (x3,x5) of the input bytes x0..x5 at c */
} le_cs_x5_t;
typedef struct {
    int32_t w02, w13, w4; /* (w0,w2) (w1,w3), w4 of one kernel row */
} le_cs_w5_t;

static LE_INLINE LE_UNUSED le_cs_x5_t le_cs_x5(const int8_t *xp)
{
    le_cs_x5_t x;
    int32_t v = le_load4(xp);
    x.e = le_even16(v);
    x.o = le_odd16(v);
    v = le_load4(xp + 2);
    x.e2 = le_even16(v);
    x.o2 = le_odd16(v);
    return x;
}

static LE_INLINE LE_UNUSED le_cs_w5_t le_cs_w5(const int8_t *wp)
{
    le_cs_w5_t w;
    const int32_t v = le_load4(wp);
    w.w02 = le_even16(v);
    w.w13 = le_odd16(v);
    w.w4 = wp[4];
    return w;
}

/* acc + a[31:16] * b[15:0] */
static LE_INLINE LE_UNUSED int32_t le_smlatb(int32_t a, int32_t b, int32_t acc)
{
    return __builtin_arm_smlatb(a, b, acc);
}

/* *c0 += sum_t x[t] * w[t] (column c), *c1 += sum_t x[t + 1] * w[t] (column c + 1), t < 5 */
static LE_INLINE LE_UNUSED void le_cs_mac5(le_cs_x5_t x, le_cs_w5_t w, int32_t *c0, int32_t *c1)
{
    *c0 = le_smlatb(x.e2, w.w4, le_smlad(x.o, w.w13, le_smlad(x.e, w.w02, *c0)));
    *c1 = le_smlatb(x.o2, w.w4, le_smlad(x.e2, w.w13, le_smlad(x.o, w.w02, *c1)));
}

/* The 4 sums of le_conv_window2x2 for one 5x5 kernel wp; xp: its input map at (2oy, 2ox). */
static LE_INLINE LE_UNUSED le_acc4_t le_cs_kernel5(const int8_t *xp, const int8_t *wp, int in_w, le_acc4_t a)
{
    le_cs_w5_t w = le_cs_w5(wp);
    le_cs_x5_t x = le_cs_x5(xp);
    le_cs_mac5(x, w, &a.a0, &a.a1);
    x = le_cs_x5(xp + in_w);
    le_cs_mac5(x, w, &a.a2, &a.a3);
    w = le_cs_w5(wp + 5);
    le_cs_mac5(x, w, &a.a0, &a.a1);
    x = le_cs_x5(xp + 2 * in_w);
    le_cs_mac5(x, w, &a.a2, &a.a3);
    w = le_cs_w5(wp + 10);
    le_cs_mac5(x, w, &a.a0, &a.a1);
    x = le_cs_x5(xp + 3 * in_w);
    le_cs_mac5(x, w, &a.a2, &a.a3);
    w = le_cs_w5(wp + 15);
    le_cs_mac5(x, w, &a.a0, &a.a1);
    x = le_cs_x5(xp + 4 * in_w);
    le_cs_mac5(x, w, &a.a2, &a.a3);
    w = le_cs_w5(wp + 20);
    le_cs_mac5(x, w, &a.a0, &a.a1);
    x = le_cs_x5(xp + 5 * in_w);
    le_cs_mac5(x, w, &a.a2, &a.a3);
    return a;
}

/* The window-major C3 path (le_conv_subsample_s8, k == 5): the 6 input rows under one 2x2 window
 * of one input map, split once per window into le_cs_x5_t words and kept in the arena scratch,
 * then read by every output map that has a kernel on that input map (LeCun's Table I: 10 of the
 * 16). One map's split: [6 rows][4] int32 = 96 bytes, LE_CS_SPLIT words. */
#define LE_CS_SPLIT 24

/* One input row's 6 bytes (v: bytes 0..3, v2: bytes 2..5) split and stored at *s, s advanced by
 * 16: 4 SXTB16 + one STM. STM takes its registers in ascending order, so the four words get fixed
 * ones, and v, v2 arrive in two of them (each split in place after its odd half is taken). */
static LE_INLINE LE_UNUSED int32_t *le_cs_split_row(int32_t v, int32_t v2, int32_t *s)
{
    register int32_t e __asm__("r0") = v;
    register int32_t o __asm__("r1");
    register int32_t e2 __asm__("r2") = v2;
    register int32_t o2 __asm__("r3");
    __asm__ __volatile__("sxtb16 %[o], %[e], ror #8\n\t" /* volatile: its result is memory, not s */
                         "sxtb16 %[e], %[e]\n\t"
                         "sxtb16 %[o2], %[e2], ror #8\n\t"
                         "sxtb16 %[e2], %[e2]\n\t"
                         "stmia %[s]!, {%[e], %[o], %[e2], %[o2]}"
                         : [e] "+r"(e), [o] "=&r"(o), [e2] "+r"(e2), [o2] "=&r"(o2), [s] "+r"(s)
                         :
                         : "memory");
    return s;
}

/* Input rows xp .. xp + 5 in_w (6 bytes each, at the window's column) -> s[6][4], each row
 * (x0,x2) (x1,x3) (x2,x4) (x3,x5): 6 x (2 LDR + 4 SXTB16 + STM). Returns s + 24. Only the first
 * window of each output row takes it (le_cs_split6_next the others); unrolled: 84 B of flash for
 * about 600 instructions per inference (measured). */
static LE_INLINE LE_UNUSED int32_t *le_cs_split6(const int8_t *xp, int in_w, int32_t *s)
{
    s = le_cs_split_row(le_load4(xp), le_load4(xp + 2), s);
    s = le_cs_split_row(le_load4(xp + in_w), le_load4(xp + in_w + 2), s);
    s = le_cs_split_row(le_load4(xp + 2 * in_w), le_load4(xp + 2 * in_w + 2), s);
    s = le_cs_split_row(le_load4(xp + 3 * in_w), le_load4(xp + 3 * in_w + 2), s);
    s = le_cs_split_row(le_load4(xp + 4 * in_w), le_load4(xp + 4 * in_w + 2), s);
    return le_cs_split_row(le_load4(xp + 5 * in_w), le_load4(xp + 5 * in_w + 2), s);
}

/* The same for the next window to the right (input columns + 2): a row's new (x0,x2) (x1,x3) are
 * its old (x2,x4) (x3,x5), already at s + 8; only v2 (new bytes 2..5) is split. 2 LDR + 2 SXTB16 +
 * STM: two LDRs, not one LDRD, because on the Cortex-M4 LDRD takes 3 cycles and does not pipeline,
 * while the two LDRs after v2's LDR pipeline (1 cycle each; TRM load timing). */
static LE_INLINE LE_UNUSED int32_t *le_cs_split_row_next(int32_t v2, int32_t *s)
{
    register int32_t e __asm__("r0");
    register int32_t o __asm__("r1");
    register int32_t e2 __asm__("r2") = v2;
    register int32_t o2 __asm__("r3");
    __asm__ __volatile__("ldr %[e], [%[s], #8]\n\t" /* volatile: its result is memory, not s */
                         "ldr %[o], [%[s], #12]\n\t"
                         "sxtb16 %[o2], %[e2], ror #8\n\t"
                         "sxtb16 %[e2], %[e2]\n\t"
                         "stmia %[s]!, {%[e], %[o], %[e2], %[o2]}"
                         : [e] "=&r"(e), [o] "=&r"(o), [e2] "+r"(e2), [o2] "=&r"(o2), [s] "+r"(s)
                         :
                         : "memory");
    return s;
}

/* le_cs_split6 for window ox + 1 when s still holds window ox's split of the same map. */
static LE_INLINE LE_UNUSED int32_t *le_cs_split6_next(const int8_t *xp, int in_w, int32_t *s)
{
    s = le_cs_split_row_next(le_load4(xp + 2), s);
    s = le_cs_split_row_next(le_load4(xp + in_w + 2), s);
    s = le_cs_split_row_next(le_load4(xp + 2 * in_w + 2), s);
    s = le_cs_split_row_next(le_load4(xp + 3 * in_w + 2), s);
    s = le_cs_split_row_next(le_load4(xp + 4 * in_w + 2), s);
    return le_cs_split_row_next(le_load4(xp + 5 * in_w + 2), s);
}

/* The pieces of le_cs_kernels5s, per input row: XROW loads the row's four split words (s advances
 * 16 bytes); BOT adds it times the kernel row held from the previous input row to conv row 1
 * (a2, a3); WROW loads the next kernel row (w advances 5 bytes) and TOP splits it and adds the
 * input row times it to conv row 0 (a0, a1). The first input row has no BOT, the last no WROW/TOP.
 * WROW's order is the Cortex-M4's (TRM, load timing): LDRSB of w4 first, at w + 4, then the LDR
 * that writes w back: independent, the LDR pipelines after it (1 cycle, not 2). The other way
 * round the LDRSB's address is the base the LDR just wrote back, and it cannot pipeline. */
#define LE_CS_XROW "ldmia %[s]!, {%[e], %[o], %[e2], %[o2]}\n\t"
#define LE_CS_BOT                                                                                 \
    "smlad %[a2], %[e], %[w02], %[a2]\n\t"                                                        \
    "smlad %[a3], %[o], %[w02], %[a3]\n\t"                                                        \
    "smlad %[a2], %[o], %[w13], %[a2]\n\t"                                                        \
    "smlad %[a3], %[e2], %[w13], %[a3]\n\t"                                                       \
    "smlatb %[a2], %[e2], %[w4], %[a2]\n\t"                                                       \
    "smlatb %[a3], %[o2], %[w4], %[a3]\n\t"
#define LE_CS_WROW                                                                                \
    "ldrsb %[w4], [%[w], #4]\n\t"                                                                 \
    "ldr %[w13], [%[w]], #5\n\t"
#define LE_CS_TOP                                                                                 \
    "sxtb16 %[w02], %[w13]\n\t"                                                                   \
    "sxtb16 %[w13], %[w13], ror #8\n\t"                                                           \
    LE_CS_MACS_TOP
#define LE_CS_MACS_TOP                                                                            \
    "smlad %[a0], %[e], %[w02], %[a0]\n\t"                                                        \
    "smlad %[a1], %[o], %[w02], %[a1]\n\t"                                                        \
    "smlad %[a0], %[o], %[w13], %[a0]\n\t"                                                        \
    "smlad %[a1], %[e2], %[w13], %[a1]\n\t"                                                       \
    "smlatb %[a0], %[e2], %[w4], %[a0]\n\t"                                                       \
    "smlatb %[a1], %[o2], %[w4], %[a1]\n\t"

/* One kernel after its first kernel row's loads (LE_CS_WROW): an SXTB16 between the instruction
 * that sets s and the first LDM from s (an address written by the instruction just before costs a
 * cycle, TRM), then the 6 input rows; s advances 96 bytes, w 25. */
#define LE_CS_KERNEL                                                                              \
    "sxtb16 %[w02], %[w13]\n\t"                                                                   \
    LE_CS_XROW                                                                                    \
    "sxtb16 %[w13], %[w13], ror #8\n\t"                                                           \
    LE_CS_MACS_TOP                                                                                \
    LE_CS_XROW LE_CS_BOT LE_CS_WROW LE_CS_TOP                                                     \
    LE_CS_XROW LE_CS_BOT LE_CS_WROW LE_CS_TOP                                                     \
    LE_CS_XROW LE_CS_BOT LE_CS_WROW LE_CS_TOP                                                     \
    LE_CS_XROW LE_CS_BOT LE_CS_WROW LE_CS_TOP                                                     \
    LE_CS_XROW LE_CS_BOT

/* All the kernels of one output map on the split windows (le_cs_split6; [in_c][6][4] int32 from a
 * 4-byte boundary), one asm loop: per kernel and input row one LDM instead of 2 LDR + 4 SXTB16, so
 * 6 LDM + 5 x (LDR + LDRSB + 2 SXTB16) + 40 SMLAD + 20 SMLATB for 100 MACs, plus 4 instructions of
 * loop (LDRSH + ASRS + ADD + BCC). 14 registers: 4 sums, 4 input words, 3 weight words and 3
 * pointers: *sp the split-window pointer, *kp the kernel steps (ops/conv_subsample.py's kstep),
 * *wpp the weights; all three advance past this output map's kernels. Each kernel's step (LDRSH)
 * moves s to its input map, ASRS takes bit 0 (last kernel of the map) into the carry, which no
 * later instruction of the loop changes (SMLAD/SMLATB set only Q), and BCC loops. Written with a
 * C loop around one kernel, gcc kept the scratch base and the loop end on the stack and made the
 * address with LDRH + MOVW + MUL + LDR + ADD (13 cycles of loop per kernel, now 7 with the
 * pipelined LDRSB). Order (Cortex-M4 TRM): the LDRSH of the step, then the LDRSB and LDR of the
 * first kernel row (independent single loads, pipelined: 1 cycle each), and an SXTB16 between
 * the ADD that moves s and the LDM from s (an address written by the instruction just before costs
 * a cycle). At least one kernel per call (kstep is only emitted when every map has one). */
static LE_INLINE LE_UNUSED le_acc4_t le_cs_kernels5s(const int32_t **sp, const int16_t **kp, const int8_t **wpp,
                                                     le_acc4_t a)
{
    const int32_t *s = *sp;
    const int16_t *k = *kp;
    const int8_t *wp = *wpp;
    /* LDM takes its registers in ascending order: the four input words get fixed ones */
    register int32_t e __asm__("r0");
    register int32_t o __asm__("r1");
    register int32_t e2 __asm__("r2");
    register int32_t o2 __asm__("r3");
    int32_t w02, w13, w4;
#if !defined(__clang__) && !defined(LENET5_RESERVED_REGISTER)
    __asm__("1:\n\t"
            "ldrsh %[e], [%[k]], #2\n\t"         /* the step, bit 0: last kernel of the map */
            LE_CS_WROW                              /* pipelined after the LDRSH (other base) */
            "asrs %[e], %[e], #1\n\t"            /* C = bit 0; e = step / 2 */
            "add %[s], %[s], %[e], lsl #1\n\t"   /* no flags */
            LE_CS_KERNEL
            "bcc 1b"
            : [a0] "+r"(a.a0), [a1] "+r"(a.a1), [a2] "+r"(a.a2), [a3] "+r"(a.a3), [e] "=&r"(e), [o] "=&r"(o),
              [e2] "=&r"(e2), [o2] "=&r"(o2), [w02] "=&r"(w02), [w13] "=&r"(w13), [w4] "=&r"(w4), [s] "+r"(s),
              [w] "+r"(wp), [k] "+r"(k)
            :
            : "cc", "memory");
#else
    /* clang keeps r7 for its frame pointer even at -O2; a gcc build that reserves a register defines
     * LENET5_RESERVED_REGISTER (le_common.h): 13 registers, so the loop in C around one kernel (the
     * same arithmetic; kstep's step without its bit 0) */
    int32_t step;
    do {
        step = *k++;
        s = (const int32_t *)(const void *)((const int8_t *)s + (step - (step & 1)));
        __asm__(LE_CS_WROW LE_CS_KERNEL
                : [a0] "+r"(a.a0), [a1] "+r"(a.a1), [a2] "+r"(a.a2), [a3] "+r"(a.a3), [e] "=&r"(e), [o] "=&r"(o),
                  [e2] "=&r"(e2), [o2] "=&r"(o2), [w02] "=&r"(w02), [w13] "=&r"(w13), [w4] "=&r"(w4), [s] "+r"(s),
                  [w] "+r"(wp)
                :
                : "memory");
    } while (!(step & 1));
#endif
    *sp = s;
    *kp = k;
    *wpp = wp;
    return a;
}
#undef LE_CS_XROW
#undef LE_CS_BOT
#undef LE_CS_WROW
#undef LE_CS_TOP
#undef LE_CS_MACS_TOP
#undef LE_CS_KERNEL
#else
/* One 5x5 kernel row without SIMD (Cortex-M3, host), for windows over more kernels than the
 * column-pair sums below allow: the 5 taps unrolled as a sliding window, so
 * per tap one weight and the two new input bytes (rows xp and xp + in_w, column kx + 1) are loaded
 * and 4 multiply-accumulates done: 7 instructions per 4 MACs on the M3, with only 9 values live
 * (4 sums, 4 inputs, 1 weight) so nothing spills. t0/t1: row xp at columns kx, kx + 1;
 * b0/b1: row xp + in_w. */
static LE_INLINE LE_UNUSED le_acc4_t le_cs_krow5(const int8_t *xp, const int8_t *wp, int in_w, le_acc4_t a)
{
    const int8_t *xb = xp + in_w;
    int32_t w = wp[0];
    int32_t t0 = xp[0], t1 = xp[1], b0 = xb[0], b1 = xb[1];
    a.a0 += t0 * w;
    a.a1 += t1 * w;
    a.a2 += b0 * w;
    a.a3 += b1 * w;
    w = wp[1];
    t0 = xp[2];
    b0 = xb[2];
    a.a0 += t1 * w;
    a.a1 += t0 * w;
    a.a2 += b1 * w;
    a.a3 += b0 * w;
    w = wp[2];
    t1 = xp[3];
    b1 = xb[3];
    a.a0 += t0 * w;
    a.a1 += t1 * w;
    a.a2 += b0 * w;
    a.a3 += b1 * w;
    w = wp[3];
    t0 = xp[4];
    b0 = xb[4];
    a.a0 += t1 * w;
    a.a1 += t0 * w;
    a.a2 += b1 * w;
    a.a3 += b0 * w;
    w = wp[4];
    t1 = xp[5];
    b1 = xb[5];
    a.a0 += t0 * w;
    a.a1 += t1 * w;
    a.a2 += b0 * w;
    a.a3 += b1 * w;
    return a;
}

/* Two columns in one 64-bit sum (Cortex-M3: one SMLAL does 2 MACs; x86-64: one IMUL). For
 * columns c and c + 1 of one conv row, s = a_c + a_c1 * 2^23: input byte x[c + t] (t = 0..5) is
 * multiplied once by W_t = w[t] + w[t - 1] * 2^23 (w[-1] = w[5] = 0), which feeds w[t] to column
 * c and w[t - 1] to column c + 1. Exact: |x * w| <= 2^14, so a sum of at most LE_CS_PAIR_KERNELS
 * 5x5 kernels has |a_c| <= 10 * 25 * 2^14 < 2^22 and the low field is recovered by sign-extending
 * the low 23 bits; |W| < 2^31 and |s| < 2^45 never overflow. */
#define LE_CS_PAIR_KERNELS 10
#define LE_CS_PAIR_SHIFT 23

/* The type of W: 32 bits on 32-bit cores (SMLAL multiplies two 32-bit registers into the 64-bit
 * sum), 64 bits on 64-bit hosts (there a 32-bit W is sign-extended before every multiply). */
#if defined(__x86_64__) || defined(__aarch64__) || defined(_M_X64) || defined(_M_ARM64)
typedef int64_t le_cs_w_t;
#else
typedef int32_t le_cs_w_t;
#endif

/* One 5x5 kernel row: *top (conv row 0) += input row xp, *bot (conv row 1) += row xp + in_w,
 * both as column pairs. Per tap: one weight, two input bytes, 2 multiply-accumulates, and one
 * add to build W. */
static LE_INLINE LE_UNUSED void le_cs_prow5(const int8_t *xp, const int8_t *wp, int in_w, int64_t *top,
                                            int64_t *bot)
{
    const int8_t *xb = xp + in_w;
    const le_cs_w_t f = (le_cs_w_t)1 << LE_CS_PAIR_SHIFT;
    le_cs_w_t w0 = wp[0], w1 = wp[1], wt;
    int64_t t = *top, u = *bot;
    t += (int64_t)xp[0] * w0;
    u += (int64_t)xb[0] * w0;
    wt = w1 + w0 * f;
    t += (int64_t)xp[1] * wt;
    u += (int64_t)xb[1] * wt;
    w0 = wp[2];
    wt = w0 + w1 * f;
    t += (int64_t)xp[2] * wt;
    u += (int64_t)xb[2] * wt;
    w1 = wp[3];
    wt = w1 + w0 * f;
    t += (int64_t)xp[3] * wt;
    u += (int64_t)xb[3] * wt;
    w0 = wp[4];
    wt = w0 + w1 * f;
    t += (int64_t)xp[4] * wt;
    u += (int64_t)xb[4] * wt;
    wt = w0 * f;
    t += (int64_t)xp[5] * wt;
    u += (int64_t)xb[5] * wt;
    *top = t;
    *bot = u;
}

/* The low field of a column-pair sum: its low 23 bits, sign-extended (gcc and clang shift signed
 * values arithmetically). */
static LE_INLINE LE_UNUSED int32_t le_cs_pair_lo(int64_t s)
{
    return (int32_t)((uint32_t)s << (32 - LE_CS_PAIR_SHIFT)) >> (32 - LE_CS_PAIR_SHIFT);
}

/* le_conv_window2x2 for k = 5 and at most LE_CS_PAIR_KERNELS kernels, with column-pair sums. */
static LE_INLINE LE_UNUSED le_acc4_t le_cs_window5_pairs(const int8_t *xw, int in_w, const int8_t *w, int j0,
                                                         int j1, const uint16_t *in_off, int32_t b)
{
    int64_t top = 0, bot = 0;
    le_acc4_t a;
    int32_t lo;
    int j;
    for (j = j0; j < j1; ++j) {
        const int8_t *xp = xw + in_off[j];
        const int8_t *wp = w + j * 25;
        int ky;
        for (ky = 0; ky < 5; ++ky) { /* here gcc carrying row ky + 1's inputs to the next row pays */
            le_cs_prow5(xp, wp, in_w, &top, &bot);
            xp += in_w;
            wp += 5;
        }
    }
    lo = le_cs_pair_lo(top);
    a.a0 = b + lo;
    a.a1 = b + (int32_t)((top - lo) >> LE_CS_PAIR_SHIFT);
    lo = le_cs_pair_lo(bot);
    a.a2 = b + lo;
    a.a3 = b + (int32_t)((bot - lo) >> LE_CS_PAIR_SHIFT);
    return a;
}

/* The four conv sums from the column-pair sums top (conv row 0) and bottom (conv row 1) given as
 * 32-bit halves (lo, hi), plus b. s = a_c + a_c1 2^23 with |a_c| < 2^22, so a_c1 = floor((s + 2^22)
 * / 2^23) (bits 23..54 of s + 2^22) and a_c = the low word of s - a_c1 2^23. */
static LE_INLINE LE_UNUSED int32_t le_cs_pair_hi(uint32_t lo, int32_t hi)
{
    const uint32_t l = lo + (1u << (LE_CS_PAIR_SHIFT - 1));
    const uint32_t h = (uint32_t)hi + (l < lo); /* the carry */
    return (int32_t)((l >> LE_CS_PAIR_SHIFT) | (h << (32 - LE_CS_PAIR_SHIFT)));
}

static LE_INLINE LE_UNUSED le_acc4_t le_cs_pairs_out(uint32_t tl, int32_t th, uint32_t bl, int32_t bh, int32_t b)
{
    le_acc4_t a;
    int32_t h = le_cs_pair_hi(tl, th);
    a.a0 = b + (int32_t)(tl - ((uint32_t)h << LE_CS_PAIR_SHIFT));
    a.a1 = b + h;
    h = le_cs_pair_hi(bl, bh);
    a.a2 = b + (int32_t)(bl - ((uint32_t)h << LE_CS_PAIR_SHIFT));
    a.a3 = b + h;
    return a;
}

#if defined(__GNUC__) && defined(__thumb2__)
/* The window-major C3 path on Thumb-2 cores without DSP (Cortex-M3; le_conv_subsample_s8): the
 * column pairs the other way round. For columns c, c + 1 of a window's input row, the 5 words
 * X_t = x[c + t] + x[c + t + 1] * 2^23 (t = 0..4) give the same pair sum with the plain weights:
 * sum_t w[t] X_t = a_c + a_c1 * 2^23 (exact as le_cs_prow5 above: |X_t| < 2^31). Built once per
 * window and input map into the scratch, shared by the output maps that read it, a kernel row is
 * then 5 weight loads and 5 SMLAL per conv row. Rows 0..4 are kept ([5][5] int32, LE_CS_XWORDS),
 * so the arena budget holds; row 5 (conv row 1's last) is built per kernel from its bytes. */
#define LE_CS_XWORDS 25

/* X_t of the 6 bytes at p into the fixed registers x0..x4 (t: a temporary). */
#define LE_CS_XBUILD                                                                              \
    "ldrsb %[x0], [%[p]]\n\t"                                                                      \
    "ldrsb %[x1], [%[p], #1]\n\t"                                                                  \
    "add %[x0], %[x0], %[x1], lsl #23\n\t"                                                         \
    "ldrsb %[x2], [%[p], #2]\n\t"                                                                  \
    "add %[x1], %[x1], %[x2], lsl #23\n\t"                                                         \
    "ldrsb %[x3], [%[p], #3]\n\t"                                                                  \
    "add %[x2], %[x2], %[x3], lsl #23\n\t"                                                         \
    "ldrsb %[x4], [%[p], #4]\n\t"                                                                  \
    "add %[x3], %[x3], %[x4], lsl #23\n\t"                                                         \
    "ldrsb %[t], [%[p], #5]\n\t"                                                                   \
    "add %[x4], %[x4], %[t], lsl #23\n\t"

/* Input rows p .. p + 4 in_w of one map -> s[5][5] X words, one STM per row (its registers
 * ascending, so fixed ones); returns s + 25. Per row 6 LDRSB + 5 ADD + STM + 1. */
static LE_INLINE LE_UNUSED int32_t *le_cs_xrows5(const int8_t *p, int in_w, int32_t *s)
{
    register int32_t x0 __asm__("r0");
    register int32_t x1 __asm__("r1");
    register int32_t x2 __asm__("r2");
    register int32_t x3 __asm__("r3");
    register int32_t x4 __asm__("r4");
    int32_t t;
#define LE_CS_XSTORE LE_CS_XBUILD "stmia %[s]!, {%[x0], %[x1], %[x2], %[x3], %[x4]}\n\t"
#define LE_CS_XNEXT "add %[p], %[p], %[n]\n\t"
    __asm__ __volatile__(LE_CS_XSTORE LE_CS_XNEXT LE_CS_XSTORE LE_CS_XNEXT LE_CS_XSTORE LE_CS_XNEXT
                         LE_CS_XSTORE LE_CS_XNEXT LE_CS_XSTORE /* volatile: its result is memory */
                         : [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3), [x4] "=&r"(x4),
                           [t] "=&r"(t), [s] "+r"(s), [p] "+r"(p)
                         : [n] "r"(in_w)
                         : "memory");
#undef LE_CS_XSTORE
#undef LE_CS_XNEXT
    return s;
}

/* le_cs_xrows5 for window ox + 1 when s still holds window ox's X words of the same map: a row's
 * new X0..X2 are its old X2..X4 (at s + 8), only X3, X4 are built from bytes 3..5. Per row LDRD +
 * LDR + 3 LDRSB + 2 ADD + STM + 1. */
static LE_INLINE LE_UNUSED int32_t *le_cs_xrows5_next(const int8_t *p, int in_w, int32_t *s)
{
    register int32_t x0 __asm__("r0");
    register int32_t x1 __asm__("r1");
    register int32_t x2 __asm__("r2");
    register int32_t x3 __asm__("r3");
    register int32_t x4 __asm__("r4");
    int32_t t;
#define LE_CS_XSHIFT                                                                              \
    "ldrd %[x0], %[x1], [%[s], #8]\n\t"                                                           \
    "ldr %[x2], [%[s], #16]\n\t"                                                                  \
    "ldrsb %[x3], [%[p], #3]\n\t"                                                                 \
    "ldrsb %[x4], [%[p], #4]\n\t"                                                                 \
    "add %[x3], %[x3], %[x4], lsl #23\n\t"                                                        \
    "ldrsb %[t], [%[p], #5]\n\t"                                                                  \
    "add %[x4], %[x4], %[t], lsl #23\n\t"                                                         \
    "stmia %[s]!, {%[x0], %[x1], %[x2], %[x3], %[x4]}\n\t"
#define LE_CS_XNEXT "add %[p], %[p], %[n]\n\t"
    __asm__ __volatile__(LE_CS_XSHIFT LE_CS_XNEXT LE_CS_XSHIFT LE_CS_XNEXT LE_CS_XSHIFT LE_CS_XNEXT
                         LE_CS_XSHIFT LE_CS_XNEXT LE_CS_XSHIFT /* volatile: its result is memory */
                         : [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3), [x4] "=&r"(x4),
                           [t] "=&r"(t), [s] "+r"(s), [p] "+r"(p)
                         : [n] "r"(in_w)
                         : "memory");
#undef LE_CS_XSHIFT
#undef LE_CS_XNEXT
    return s;
}

/* One weight tap t of kernel row R (byte offset R + t) into conv row 0's pair sum, and of kernel
 * row R - 5 into conv row 1's. */
#define LE_CS_TAP_T(R, T, X)                                                                      \
    "ldrsb %[t], [%[w], #" R "+" T "-25]\n\t"                                                     \
    "smlal %[tl], %[th], %[" X "], %[t]\n\t"
#define LE_CS_TAP_B(R, T, X)                                                                      \
    "ldrsb %[t], [%[w], #" R "-30+" T "]\n\t"                                                     \
    "smlal %[bl], %[bh], %[" X "], %[t]\n\t"
#define LE_CS_XLOAD "ldmia %[s]!, {%[x0], %[x1], %[x2], %[x3], %[x4]}\n\t"
#define LE_CS_ROW_T(R)                                                                            \
    LE_CS_TAP_T(R, "0", "x0") LE_CS_TAP_T(R, "1", "x1") LE_CS_TAP_T(R, "2", "x2")                 \
    LE_CS_TAP_T(R, "3", "x3") LE_CS_TAP_T(R, "4", "x4")
#define LE_CS_ROW_B(R)                                                                            \
    LE_CS_TAP_B(R, "0", "x0") LE_CS_TAP_B(R, "1", "x1") LE_CS_TAP_B(R, "2", "x2")                 \
    LE_CS_TAP_B(R, "3", "x3") LE_CS_TAP_B(R, "4", "x4")

/* One 5x5 kernel *wpp (advanced by 25) on one window, reading input map v (its offset in_off[j]):
 * rows 0..4 of X words from the scratch at sb + (v m >> 16) (le_conv_subsample_s8_windows), row 5
 * built from its bytes at x5 + v; adds conv row 0 to (tl, th) and conv row 1 to (bl, bh), the
 * 32-bit halves of the two pair sums. Per kernel 3 (addresses) + 5 LDM + 11 (row 5) + 50 (LDRSB +
 * SMLAL pairs) = 119 instructions for 100 MACs. One asm block: 13 registers (5 fixed X words, which
 * bring v, sb, m, x5 in, a weight, 4 sum halves, 3 pointers). */
static LE_INLINE LE_UNUSED void le_cs_kernel5x(const int8_t *sb, uint32_t m, const int8_t *x5, uint32_t v,
                                               const int8_t **wpp, uint32_t *tl, int32_t *th, uint32_t *bl,
                                               int32_t *bh)
{
    register uint32_t x0 __asm__("r0") = v;
    register const int8_t *x1 __asm__("r1") = sb;
    register uint32_t x2 __asm__("r2") = m;
    register const int8_t *x3 __asm__("r3") = x5;
    register int32_t x4 __asm__("r4");
    const int8_t *wp = *wpp;
    const int32_t *s;
    const int8_t *p;
    int32_t t;
    uint32_t l0 = *tl, l1 = *bl;
    int32_t h0 = *th, h1 = *bh;
    __asm__("mul %[x2], %[x0], %[x2]\n\t"
            "add %[s], %[x1], %[x2], lsr #16\n\t"
            "add %[p], %[x3], %[x0]\n\t"
            LE_CS_XLOAD "ldrsb %[t], [%[w]], #25\n\t" /* w[0], and w moves to the next kernel */
            "smlal %[tl], %[th], %[x0], %[t]\n\t"
            LE_CS_TAP_T("0", "1", "x1") LE_CS_TAP_T("0", "2", "x2") LE_CS_TAP_T("0", "3", "x3")
            LE_CS_TAP_T("0", "4", "x4")
            LE_CS_XLOAD LE_CS_ROW_T("5") LE_CS_ROW_B("5")
            LE_CS_XLOAD LE_CS_ROW_T("10") LE_CS_ROW_B("10")
            LE_CS_XLOAD LE_CS_ROW_T("15") LE_CS_ROW_B("15")
            LE_CS_XLOAD LE_CS_ROW_T("20") LE_CS_ROW_B("20")
            LE_CS_XBUILD LE_CS_ROW_B("25")
            : [x0] "+r"(x0), [x1] "+r"(x1), [x2] "+r"(x2), [x3] "+r"(x3), [x4] "=&r"(x4), [t] "=&r"(t),
              [tl] "+r"(l0), [th] "+r"(h0), [bl] "+r"(l1), [bh] "+r"(h1), [s] "=&r"(s), [p] "=&r"(p),
              [w] "+r"(wp)
            :
            : "memory");
    *wpp = wp;
    *tl = l0;
    *th = h0;
    *bl = l1;
    *bh = h1;
}
#undef LE_CS_TAP_T
#undef LE_CS_TAP_B
#undef LE_CS_XLOAD
#undef LE_CS_ROW_T
#undef LE_CS_ROW_B
#undef LE_CS_XBUILD
#endif
#endif

#if LE_SIMD && defined(LE_REQUANT_VCVTR)
/* The 16 instructions of le_img_vcvtr4 (a0..a3: core registers, m: a single register; s0..s3
 * clobbered), also the first part of le_subsample_out_vcvtr_z's block. */
#define LE_VCVTR4_ASM                                               \
    "vmov s0, s1, %[a0], %[a1]\n\t"                                 \
    "vmov s2, s3, %[a2], %[a3]\n\t"                                 \
    "vcvt.f32.s32 s0, s0\n\t"                                       \
    "vcvt.f32.s32 s1, s1\n\t"                                       \
    "vcvt.f32.s32 s2, s2\n\t"                                       \
    "vcvt.f32.s32 s3, s3\n\t"                                       \
    "vmul.f32 s0, s0, %[m]\n\t"                                     \
    "vmul.f32 s1, s1, %[m]\n\t"                                     \
    "vmul.f32 s2, s2, %[m]\n\t"                                     \
    "vmul.f32 s3, s3, %[m]\n\t"                                     \
    "vcvtr.s32.f32 s0, s0\n\t"                                      \
    "vcvtr.s32.f32 s1, s1\n\t"                                      \
    "vcvtr.s32.f32 s2, s2\n\t"                                      \
    "vcvtr.s32.f32 s3, s3\n\t"                                      \
    "vmov %[a0], %[a1], s0, s1\n\t"                                 \
    "vmov %[a2], %[a3], s2, s3\n\t"

/* The float requant of kernels/le_requant.h (LE_REQUANT_VCVTR), four conv outputs at once, up to the
 * zero point: a_i -> RNE(fl(float(a_i) * m)) as int32 (VCVT rounds like C's (float)a for a wide
 * |a| > 2^24, VMUL rounds to float32, VCVTR to the nearest int32, ties to even; FPSCR default
 * mode). One VMOV moves two core registers into two consecutive single registers (and back), so
 * 16 instructions for 4 outputs instead of 20; gcc, left to itself, also spills around them.
 * Shared by le_conv_subsample_u8 (C1's passes) and le_subsample_out_vcvtr below (C3). */
static LE_INLINE LE_UNUSED le_acc4_t le_img_vcvtr4(le_acc4_t a, float m)
{
    __asm__(LE_VCVTR4_ASM
            : [a0] "+r"(a.a0), [a1] "+r"(a.a1), [a2] "+r"(a.a2), [a3] "+r"(a.a3)
            : [m] "t"(m)
            : "s0", "s1", "s2", "s3");
    return a;
}
#endif

/* The four conv accumulators (2oy + dy, 2ox + dx) under one 2x2 pooling window, over the stored
 * kernels j0 .. j1 - 1: a.a0 = (dy 0, dx 0), a1 = (0, 1), a2 = (1, 0), a3 = (1, 1). */
static LE_INLINE LE_UNUSED le_acc4_t le_conv_window2x2(const int8_t *xrow, int in_w, int k, const int8_t *w,
                                                      int j0, int j1, const uint16_t *in_off, int32_t b,
                                                      int ox)
{
    int32_t a00 = b, a01 = b, a10 = b, a11 = b;
    le_acc4_t out;
    const int8_t *xw = xrow + 2 * ox; /* the window's top-left byte in input map 0 */
    int j;
    le_hide(xw); /* one register, not a constant address rebuilt for every kernel */
#if !LE_SIMD
    if (k == 5 && j1 - j0 <= LE_CS_PAIR_KERNELS) {
        return le_cs_window5_pairs(xw, in_w, w, j0, j1, in_off, b);
    }
#endif
    for (j = j0; j < j1; ++j) {
        const int8_t *xp = xw + in_off[j];
        const int8_t *wp = w + j * k * k;
        int ky;
        if (k == 5) {
            le_acc4_t a;
            a.a0 = a00;
            a.a1 = a01;
            a.a2 = a10;
            a.a3 = a11;
#if LE_SIMD
            a = le_cs_kernel5(xp, wp, in_w, a);
#else
            /* a loop over the rows (unrolled, gcc schedules loads across rows and spills: measured
             * +60% on the M3); the empty asm hides that row ky + 1 reads the bytes row ky read as
             * its second row, else gcc carries 6 inputs from row to row in registers and spills */
            for (ky = 0; ky < 5; ++ky) {
                le_hide(xp);
                a = le_cs_krow5(xp, wp, in_w, a);
                xp += in_w;
                wp += 5;
            }
#endif
            a00 = a.a0;
            a01 = a.a1;
            a10 = a.a2;
            a11 = a.a3;
            continue;
        }
        for (ky = 0; ky < k; ++ky) {
            int kx;
            for (kx = 0; kx < k; ++kx) {
                const int32_t wv = wp[kx];
                a00 += xp[kx] * wv;
                a01 += xp[kx + 1] * wv;
                a10 += xp[in_w + kx] * wv;
                a11 += xp[in_w + kx + 1] * wv;
            }
            xp += in_w;
            wp += k;
        }
    }
    out.a0 = a00;
    out.a1 = a01;
    out.a2 = a10;
    out.a3 = a11;
    return out;
}

/* One subsampled output from the four conv accumulators a of its 2x2 window: the table after the
 * conv, the 2x2 depthwise conv sw [2][2] = (sw0 sw1; sw2 sw3) with bias sb, its requant and the
 * table after it. The weights come as values: loaded once per row (y may alias them). */
static LE_INLINE LE_UNUSED int8_t le_subsample_out(le_acc4_t a, le_rq_t r, int32_t zp, int wide,
                                                   const int8_t *table, int32_t sw0, int32_t sw1, int32_t sw2,
                                                   int32_t sw3, int32_t sb, le_rq_t sr, int32_t szp, int swide,
                                                   const int8_t *stable)
{
    int32_t sacc = sb;
    sacc += table[(uint8_t)le_requant(a.a0, r, zp, wide)] * sw0;
    sacc += table[(uint8_t)le_requant(a.a1, r, zp, wide)] * sw1;
    sacc += table[(uint8_t)le_requant(a.a2, r, zp, wide)] * sw2;
    sacc += table[(uint8_t)le_requant(a.a3, r, zp, wide)] * sw3;
    return stable[(uint8_t)le_requant(sacc, sr, szp, swide)];
}

#if LE_SIMD && defined(LE_REQUANT_VCVTR)
/* le_requant32's float path after its product (kernels/le_requant.h): + zp with QADD
 * (saturating), then SSAT to [-128, 127]; the zero point is a literal at an inlined call. */
static LE_INLINE LE_UNUSED int32_t le_sat8_zp(int32_t q, int32_t zp)
{
    if (zp != 0) {
        __asm__("qadd %0, %0, %1" : "+r"(q) : "r"(zp));
    }
    __asm__("ssat %0, #8, %0" : "+r"(q));
    return q;
}

/* (lo[15:0], hi[15:0]): one PKHBT */
static LE_INLINE LE_UNUSED int32_t le_pack_lo16(int32_t lo, int32_t hi)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}

/* le_subsample_out on the Cortex-M4F/M7 float path: the same arithmetic, vectorized. The four conv
 * requants in one le_img_vcvtr4 (m: rq's float32 multiplier), SSAT, the table (indexed by the
 * code's byte, (uint8_t)), then the subsampling as two SMLAD: sw4 holds the bytes sw0..sw3
 * (one unaligned LDR), SXTB16 splits them into (sw0, sw2) and (sw1, sw3), PKHBT pairs the table
 * values the same way; |t|, |sw| <= 128, so sb + 4 * 2^14 is the exact int32 sum. `wide` needs
 * nothing here: VCVT rounds a wide accumulator as C's (float)acc does. */
static LE_INLINE LE_UNUSED int8_t le_subsample_out_vcvtr(le_acc4_t a, float m, int32_t zp, const int8_t *table,
                                                        int32_t sw4, int32_t sb, le_rq_t sr, int32_t szp,
                                                        int swide, const int8_t *stable)
{
    int32_t t02, t13, sacc;
    a = le_img_vcvtr4(a, m);
    t02 = le_pack_lo16(table[(uint8_t)le_sat8_zp(a.a0, zp)], table[(uint8_t)le_sat8_zp(a.a2, zp)]);
    t13 = le_pack_lo16(table[(uint8_t)le_sat8_zp(a.a1, zp)], table[(uint8_t)le_sat8_zp(a.a3, zp)]);
    sacc = le_smlad(t02, le_even16(sw4), sb);
    sacc = le_smlad(t13, le_odd16(sw4), sacc);
    return stable[(uint8_t)le_requant32(sacc, sr, szp, swide)];
}

/* le_subsample_out_vcvtr with both zero points 0 (literals at the inlined call): the four conv
 * requants, the table and the subsampling sum in one asm block with every instruction placed
 * (gcc's own order reloaded the table address 4 times and paid the TRM's address and load-use
 * stalls). Order (Cortex-M4 TRM): the 4 table LDRSB back to back (after the first each pipelines),
 * separated by an SXTB16 from the UXTBs that make their indexes (an address written by the
 * instruction just before costs a cycle). m: rq's float32 multiplier; sw4: the bytes sw0..sw3;
 * sb: the subsampling bias. The same arithmetic as le_subsample_out_vcvtr. Few operands (7 core
 * registers): at the C3 call site, after the 13-register kernel loop, gcc found no allocation
 * for 10. */
static LE_INLINE LE_UNUSED int8_t le_subsample_out_vcvtr_z(le_acc4_t a, float m, const int8_t *table, int32_t sw4,
                                                           int32_t sb, le_rq_t sr, int swide, const int8_t *stable)
{
    int32_t a0 = a.a0, a1 = a.a1, a2 = a.a2, a3 = a.a3;
    __asm__(LE_VCVTR4_ASM
            "ssat %[a0], #8, %[a0]\n\t"
            "ssat %[a1], #8, %[a1]\n\t"
            "ssat %[a2], #8, %[a2]\n\t"
            "ssat %[a3], #8, %[a3]\n\t"
            "uxtb %[a0], %[a0]\n\t"                   /* the code's byte indexes the table */
            "uxtb %[a1], %[a1]\n\t"
            "uxtb %[a2], %[a2]\n\t"
            "uxtb %[a3], %[a3]\n\t"
            "ldrsb %[a0], [%[tb], %[a0]]\n\t"         /* a0's index was made 3 instructions before */
            "ldrsb %[a1], [%[tb], %[a1]]\n\t"
            "ldrsb %[a2], [%[tb], %[a2]]\n\t"
            "ldrsb %[a3], [%[tb], %[a3]]\n\t"
            "pkhbt %[a0], %[a0], %[a2], lsl #16\n\t"  /* (t0, t2) */
            "pkhbt %[a1], %[a1], %[a3], lsl #16\n\t"  /* (t1, t3) */
            "sxtb16 %[a2], %[w]\n\t"                  /* (sw0, sw2) */
            "sxtb16 %[a3], %[w], ror #8\n\t"          /* (sw1, sw3) */
            "smlad %[sb], %[a0], %[a2], %[sb]\n\t"    /* |t|, |sw| <= 128: exact */
            "smlad %[sb], %[a1], %[a3], %[sb]"
            : [a0] "+&r"(a0), [a1] "+&r"(a1), [a2] "+&r"(a2), [a3] "+&r"(a3), [sb] "+r"(sb)
            : [m] "t"(m), [w] "r"(sw4), [tb] "r"(table)
            : "s0", "s1", "s2", "s3", "memory");
    return stable[(uint8_t)le_requant32(sb, sr, 0, swide)];
}
#endif

/* le_subsample_out with the subsampling's requant constants *sr loaded only after the four conv
 * codes (le_hide): on the Cortex-M3, whose integer requant constants are 16 bytes, gcc otherwise
 * loads them first and keeps them on the stack (measured: 14 instructions more per output). */
static LE_INLINE LE_UNUSED int8_t le_subsample_out_late(le_acc4_t a, le_rq_t r, int32_t zp, int wide,
                                                        const int8_t *table, const int8_t *swo, int32_t sb,
                                                        const le_rq_t *sr, int32_t szp, int swide,
                                                        const int8_t *stable)
{
    int32_t sacc = sb;
    sacc += table[(uint8_t)le_requant(a.a0, r, zp, wide)] * swo[0];
    sacc += table[(uint8_t)le_requant(a.a1, r, zp, wide)] * swo[1];
    sacc += table[(uint8_t)le_requant(a.a2, r, zp, wide)] * swo[2];
    sacc += table[(uint8_t)le_requant(a.a3, r, zp, wide)] * swo[3];
    le_hide(sr);
    return stable[(uint8_t)le_requant(sacc, *sr, szp, swide)];
}

/* One subsampled output row of one channel: y[ox] for ox < out_w from the k + 1 conv input rows
 * starting at xrow (conv rows 2oy and 2oy + 1). Inlined at each fused layer, where k and in_w are
 * constants (measured: out of line it costs about 57,000 more instructions per inference on the M4
 * for 444 B less code). */
static LE_INLINE LE_UNUSED void le_conv_subsample_row(const int8_t *xrow, int in_w, int k, const int8_t *w,
                                                      int j0, int j1, const uint16_t *in_off, int32_t b,
                                                      le_rq_t r, int32_t zp, int wide, const int8_t *table,
                                                      const int8_t *swo, int32_t sb, le_rq_t sr, int32_t szp,
                                                      int swide, const int8_t *stable, int8_t *y, int out_w)
{
    const int32_t sw0 = swo[0], sw1 = swo[1], sw2 = swo[2], sw3 = swo[3];
    int ox;
    for (ox = 0; ox < out_w; ++ox) {
        const le_acc4_t a = le_conv_window2x2(xrow, in_w, k, w, j0, j1, in_off, b, ox);
        y[ox] = le_subsample_out(a, r, zp, wide, table, sw0, sw1, sw2, sw3, sb, sr, szp, swide, stable);
    }
}

#endif /* LE_CONV_SUBSAMPLE_ROW_H */
