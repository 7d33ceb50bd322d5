/* le_conv_subsample_u8: le_conv_subsample_s8 reading the caller's uint8 image directly (arguments
 * as in kernels/ref/le_conv_subsample_u8.c), for a conv with ONE input channel (C1). Its two tables
 * are stored by int8 code + 128 (tc, sc below: the tables at code 0), so the clamped requant result
 * indexes them as it is.
 *
 * Rows. For each subsampled output row oy, the k + 1 conv input rows 2oy .. 2oy + k of the padded,
 * quantized image are kept in `scratch` as int16, already sign-extended, in blocks of 4 columns
 * (layout below): 8 (k + 1) ceil(in_w / 4) + 3 bytes, the 3 to align the start, and for k == 5
 * max(120, 80 out_c) more after the rows for weights in the form a path reads: the Cortex-M3's
 * column-pair weights of one channel (LE_IMG_W_SCRATCH, 120 B), the Cortex-M4F row block's 20
 * words per channel (le_img_wcache5); the op's scratch_bytes in
 * lenet_edge/compiler/ops/conv_subsample.py reserves the same. k - 1 rows move
 * up from the previous output row, two are translated through the input table (two pixels per
 * word store).
 *
 * Then, per channel, passes over one conv row compute 4 neighbouring conv outputs (columns
 * c .. c + 3, c = 2ox); two passes (conv rows 2oy, 2oy + 1) give the 2x2 windows of subsampled
 * outputs ox and ox + 1. Each conv output is requantized, looked up in the table and
 * multiply-accumulated into its subsampling sum right after its pass; the sums are requantized and
 * looked up as they are stored (the full conv output never exists).
 *
 * Cortex-M4 (LE_SIMD, k == 5): with int16 inputs each SMLAD is one input pair and one weight pair,
 * no SXTB16. The channel's 25 weights are expanded once per (output row, channel) into 30 int16
 * pairs on the stack, per kernel row (w0..w4):
 *   even  (w0,w1) (w2,w3) (w4,0)   for the conv output at an even column c (inputs (x_c,x_c+1) ...)
 *   odd   (0,w0)  (w1,w2) (w3,w4)  for the conv output at column c + 1     (the same input words)
 * A pass is 5 x (5 LDRD + 12 SMLAD) and a load of the bias: 86 instructions for 100 MACs
 * (le_img_row4_dsp). Sums are exact: |x|, |w| <= 128, so one SMLAD adds at most 2^15 and an
 * output's |acc| stays far below 2^31. With the float requant (M4F, M7) the 4 outputs of a pass
 * are requantized in one asm block (le_img_vcvtr4: 16 instructions, VMOV of register pairs), then
 * SSAT, the table, PKHBT and one SMLAD per pair into the subsampling sums. Under gcc (optimizing)
 * a whole output row, all channels, is one asm block (le_img_rows_asm: no spills around the
 * passes; gcc's own pair loop kept ~24 instructions per pair for loop control and reloads); there
 * the weights are 4 words per kernel row, E0 = (w0,w1), E1 = (w2,w3), O1 = (w1,w2), O2 = (w3,w4),
 * made once per call into the scratch (le_img_wcache5) and held in FPU registers with the
 * channel's other values (a VMOV to a core register costs 1 cycle, an LDRD 3), and the pairs
 * (0,w0), (w4,0) become SMLATB / SMLABT on E0 / O2.
 *
 * Portable path (Cortex-M3, hosts without SSE2): the same int16 rows and passes; the conv sums of
 * two neighbouring columns share one 64-bit sum (le_img_row4_pairs: one SMLAL is 2 MACs), 8 input
 * and 3 LDRD weight loads for 12 SMLAL per kernel row (one asm block on Thumb-2). With the integer
 * requant's fast constants, the requant and table of the 4 conv outputs and of the 2 sums are asm
 * too (le_img_rq4_t2, le_img_rq2_t2).
 *
 * x86 (SSE2, le_conv_sse2.h; never compiled for Arm): the padded, quantized image is translated
 * band by band into int8 rows on the stack (le_img_band_s8) and paired into the Q rows once
 * (le_sse2_band_q); each channel is le_sse2_band_acc over them, then a vectorized epilogue
 * (le_img_out_sse2: requant 4 lanes at a time, the subsampling as PMADDWD); the scratch is unused
 * there. */
#include "le_conv_core.h"
#include "le_opt.h"
#include "le_conv_subsample_row.h"
#include "le_conv_sse2.h"

/* The scratch layout: blocks of 4 columns, [nb][k + 1][4] int16, nb = ceil(in_w / 4); element
 * (row i, column c) at (c / 4) * bs + 4 i + c % 4 with bs = 4 (k + 1) int16 per block. A pass at a
 * column c divisible by 4 then finds row i's x_c .. x_c+3 at xp + 4 i and x_c+4 .. x_c+7 at
 * xp + bs + 4 i: constant offsets, whatever in_w is. */
#define LE_IMG_BS(k) (4 * ((k) + 1))

static LE_INLINE int16_t *le_img_at(int16_t *rows, int bs, int i, int c)
{
    return rows + (c >> 2) * bs + 4 * i + (c & 3);
}

/* The scratch rounded up to a 4-byte boundary (the arena is an int8_t array: no alignment promise). */
static LE_INLINE int16_t *le_img_rows(int8_t *scratch)
{
    return (int16_t *)(void *)(scratch + ((4u - ((uintptr_t)scratch & 3u)) & 3u));
}

/* An empty asm that makes two pointers opaque to gcc: loads through them cannot move above it. */
#if defined(__GNUC__)
#define LE_IMG_FENCE(p, q) __asm__("" : "+r"(p), "+r"(q))
#else
#define LE_IMG_FENCE(p, q) ((void)0)
#endif

/* int16 loads and stores through memcpy: the scratch is int8_t storage (no aliasing assumptions). */
static LE_INLINE int32_t le_ld16(const int16_t *p)
{
    int16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static LE_INLINE void le_st16(int16_t *p, int32_t v)
{
    const int16_t h = (int16_t)v;
    memcpy(p, &h, sizeof h);
}

/* (lo, hi) as two int16 halves of one word, lo at the lower address (little-endian) */
static LE_INLINE int32_t le_img_pack16(int32_t lo, int32_t hi)
{
#if LE_SIMD
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
#else
    return (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
#endif
}

/* one word (two int16 of one block row) into the scratch at p (4-byte aligned) */
static LE_INLINE void le_st32(int16_t *p, int32_t v)
{
    memcpy(p, &v, sizeof v);
}

/* padded row r of the quantized image into scratch row i (columns 0 .. in_w - 1), int16.
 * Inside the image, two pixels per word store; with an even left padding (C1: 2) the pixel pairs
 * fall on word boundaries of the blocks, and 4 pixels (two words) fill one block row. */
static void le_image_row16(const uint8_t *image, int img_h, int img_w, const int8_t *itable, int top,
                           int left, int32_t pad_value, int in_w, int r, int16_t *rows, int bs, int i)
{
    const int ir = r - top;
    int c;
    if (ir < 0 || ir >= img_h) { /* a padding row: two words per block (in_w + 3) / 4 blocks */
        const int32_t pw = le_img_pack16(pad_value, pad_value);
        int16_t *d = rows + 4 * i;
        for (c = 0; c < in_w; c += 4) {
            le_st32(d, pw);
            le_st32(d + 2, pw);
            d += bs;
        }
        return;
    }
    image += ir * img_w;
    for (c = 0; c < left; ++c) {
        le_st16(le_img_at(rows, bs, i, c), pad_value);
    }
    c = 0; /* image column */
    if ((left & 1) == 0) {
        int16_t *d = le_img_at(rows, bs, i, left); /* a word boundary: block offset 0 or 2 */
        if ((left & 2) && img_w >= 2) {            /* the first pair ends its block */
            le_st32(d, le_img_pack16(itable[image[0]], itable[image[1]]));
            d += bs - 2;
            c = 2;
        }
        for (; c + 4 <= img_w; c += 4) {           /* one block row: image columns c .. c + 3 */
            le_st32(d, le_img_pack16(itable[image[c]], itable[image[c + 1]]));
            le_st32(d + 2, le_img_pack16(itable[image[c + 2]], itable[image[c + 3]]));
            d += bs;
        }
    }
    for (; c < img_w; ++c) {
        le_st16(le_img_at(rows, bs, i, left + c), itable[image[c]]);
    }
    for (c = left + img_w; c < in_w; ++c) {
        le_st16(le_img_at(rows, bs, i, c), pad_value);
    }
}

#if LE_SIMD
/* (lo[15:0], hi[15:0]) */
static LE_INLINE int32_t le_pkh_lo_lo(int32_t lo, int32_t hi)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}

/* The 25 int8 weights wp[5][5] of one channel as wq[5][6] int16 pairs: per kernel row
 * even0, odd0, even1, odd1, even2, odd2 (see the top of this file). One asm loop over the 5 rows:
 * per row LDR (w0..w3, unaligned) and LDRSB (w4), two SXTB16, 7 packs and 3 STRD with
 * post-increment, then the loop's SUBS and BNE: 16 instructions (gcc made 20 of the C). */
static LE_INLINE void le_img_wpairs5(const int8_t *wp, int32_t *wq)
{
    int32_t v, w4, e, od, t0, t1;
    int n = 5;
    /* volatile: its only effect is the stores (gcc deletes an asm whose outputs are unused) */
    __asm__ __volatile__("1:\n\t"
                         "ldr %[v], [%[wp]], #5\n\t"                /* bytes w0 w1 w2 w3 */
                         "ldrsb %[w4], [%[wp], #-1]\n\t"
                         "sxtb16 %[e], %[v]\n\t"                     /* (w0, w2) */
                         "sxtb16 %[od], %[v], ror #8\n\t"            /* (w1, w3) */
                         "pkhbt %[t0], %[e], %[od], lsl #16\n\t"     /* (w0, w1) */
                         "lsl %[t1], %[e], #16\n\t"                  /* (0, w0) */
                         "strd %[t0], %[t1], [%[wq]], #8\n\t"
                         "pkhtb %[t0], %[od], %[e], asr #16\n\t"     /* (w2, w3) */
                         "pkhbt %[t1], %[od], %[e]\n\t"              /* (w1, w2) */
                         "strd %[t0], %[t1], [%[wq]], #8\n\t"
                         "uxth %[t0], %[w4]\n\t"                     /* (w4, 0) */
                         "lsl %[w4], %[w4], #16\n\t"
                         "pkhtb %[t1], %[w4], %[od], asr #16\n\t"    /* (w3, w4) */
                         "strd %[t0], %[t1], [%[wq]], #8\n\t"
                         "subs %[n], %[n], #1\n\t"
                         "bne 1b"
                         : [wp] "+r"(wp), [wq] "+r"(wq), [n] "+r"(n), [v] "=&r"(v), [w4] "=&r"(w4), [e] "=&r"(e),
                           [od] "=&r"(od), [t0] "=&r"(t0), [t1] "=&r"(t1)
                         :
                         : "memory", "cc");
}

/* kernel row i: X0, X1 at byte offset XA = 8 i, X2, X3 at XB = 48 + 8 i (bs = 24 int16 for k 5);
 * W0, W1, W2: the operands of its 3 LDRD of weight pairs (LE_IMG_W);
 * C0..C3: what the first four SMLAD add to (the bias, loaded into a3, in row 0, else a0..a3) */
#define LE_IMG_KROW4(XA, XB, W0, W1, W2, C0, C1, C2, C3)               \
    "ldrd %[x0], %[x1], [%[xp], #" XA "]\n\t"                          \
    "ldrd %[we], %[wo], " W0 "\n\t"                                     \
    "smlad %[a0], %[x0], %[we], %[" C0 "]\n\t"                        \
    "smlad %[a1], %[x0], %[wo], %[" C1 "]\n\t"                        \
    "smlad %[a2], %[x1], %[we], %[" C2 "]\n\t"                        \
    "smlad %[a3], %[x1], %[wo], %[" C3 "]\n\t"                        \
    "ldrd %[we], %[wo], " W1 "\n\t"                                     \
    "smlad %[a0], %[x1], %[we], %[a0]\n\t"                             \
    "smlad %[a1], %[x1], %[wo], %[a1]\n\t"                             \
    "ldrd %[x0], %[x1], [%[xp], #" XB "]\n\t"                          \
    "smlad %[a2], %[x0], %[we], %[a2]\n\t"                             \
    "smlad %[a3], %[x0], %[wo], %[a3]\n\t"                             \
    "ldrd %[we], %[wo], " W2 "\n\t"                                     \
    "smlad %[a0], %[x0], %[we], %[a0]\n\t"                             \
    "smlad %[a1], %[x0], %[wo], %[a1]\n\t"                             \
    "smlad %[a2], %[x1], %[we], %[a2]\n\t"                             \
    "smlad %[a3], %[x1], %[wo], %[a3]\n\t"

/* The conv outputs (r, c .. c + 3) of one conv row, k == 5. Per kernel row, input words
 * X0..X3 = (x_c, x_c+1) .. (x_c+6, x_c+7) and the row's 6 weight pairs give 12 SMLAD:
 *   a0 (c)     = X0.even0 + X1.even1 + X2.even2     a1 (c + 1) = X0.odd0 + X1.odd1 + X2.odd2
 *   a2 (c + 2) = X1.even0 + X2.even1 + X3.even2     a3 (c + 3) = X1.odd0 + X2.odd1 + X3.odd2
 * in an order that keeps 2 inputs and 2 weights live: 5 LDRD + 12 SMLAD per kernel row, 85
 * instructions for the 100 MACs, plus one load of the bias. xp: row r's x_c in the scratch (c
 * divisible by 4: 4-byte aligned, offsets constant); wq: [5][6] pairs, then the bias (wq[30]).
 * One asm block: written in C, gcc hoists the loads of all five rows, spills them, and never
 * pairs them into LDRD (measured). With gcc the weights and the bias are memory operands (the
 * stack array at constant offsets: [sp, #n]), so the block needs 9 registers, not 11, and fewer
 * values of the loop around it are spilled (measured: 5,000 instructions per inference less). */
static LE_INLINE le_acc4_t le_img_row4_dsp(const int16_t *xp, const int32_t *wq)
{
    le_acc4_t a;
    int32_t x0, x1, we, wo;
/* The 5 kernel rows of a pass (row 0 starts the sums from the bias in a3); LE_IMG_W(n), the n-th
 * LDRD weight operand, is defined by each of the two forms below. */
#define LE_IMG_KROWS5                                                                              \
    LE_IMG_KROW4("0", "48", LE_IMG_W(0), LE_IMG_W(1), LE_IMG_W(2), "a3", "a3", "a3", "a3")        \
    LE_IMG_KROW4("8", "56", LE_IMG_W(3), LE_IMG_W(4), LE_IMG_W(5), "a0", "a1", "a2", "a3")        \
    LE_IMG_KROW4("16", "64", LE_IMG_W(6), LE_IMG_W(7), LE_IMG_W(8), "a0", "a1", "a2", "a3")       \
    LE_IMG_KROW4("24", "72", LE_IMG_W(9), LE_IMG_W(10), LE_IMG_W(11), "a0", "a1", "a2", "a3")     \
    LE_IMG_KROW4("32", "80", LE_IMG_W(12), LE_IMG_W(13), LE_IMG_W(14), "a0", "a1", "a2", "a3")
#if defined(__clang__) || !defined(__OPTIMIZE__)
    /* clang (and gcc at -O0) put every memory operand's address in a register of its own: there
     * the weights stream through one pointer (11 registers) */
#define LE_IMG_W(n) "[%[q]], #8"
    __asm__("ldr %[a3], [%[q], #120]\n\t"
            LE_IMG_KROWS5
            : [a0] "=&r"(a.a0), [a1] "=&r"(a.a1), [a2] "=&r"(a.a2), [a3] "=&r"(a.a3), [q] "+r"(wq),
              [x0] "=&r"(x0), [x1] "=&r"(x1), [we] "=&r"(we), [wo] "=&r"(wo)
            : [xp] "r"(xp)
            : "memory");
#else
    const uint64_t *wd = (const uint64_t *)(const void *)wq; /* the 15 LDRD operands */
#define LE_IMG_W(n) "%[w" #n "]"
    __asm__("ldr %[a3], %[bias]\n\t"
            LE_IMG_KROWS5
            : [a0] "=&r"(a.a0), [a1] "=&r"(a.a1), [a2] "=&r"(a.a2), [a3] "=&r"(a.a3),
              [x0] "=&r"(x0), [x1] "=&r"(x1), [we] "=&r"(we), [wo] "=&r"(wo)
            : [xp] "r"(xp), [bias] "m"(wq[30]), [w0] "m"(wd[0]), [w1] "m"(wd[1]), [w2] "m"(wd[2]),
              [w3] "m"(wd[3]), [w4] "m"(wd[4]), [w5] "m"(wd[5]), [w6] "m"(wd[6]), [w7] "m"(wd[7]),
              [w8] "m"(wd[8]), [w9] "m"(wd[9]), [w10] "m"(wd[10]), [w11] "m"(wd[11]), [w12] "m"(wd[12]),
              [w13] "m"(wd[13]), [w14] "m"(wd[14])
            : "memory");
#endif
#undef LE_IMG_W
#undef LE_IMG_KROWS5
    return a;
}
#endif

#if LE_SIMD && defined(LE_REQUANT_VCVTR)
/* le_img_vcvtr4 (four conv outputs at once): kernels/opt/le_conv_subsample_row.h */

/* the same for two outputs (the subsampled pair) */
static LE_INLINE void le_img_vcvtr2(int32_t *p, int32_t *q, float m)
{
    int32_t a0 = *p, a1 = *q;
    __asm__("vmov s0, s1, %[a0], %[a1]\n\t"
            "vcvt.f32.s32 s0, s0\n\t"
            "vcvt.f32.s32 s1, s1\n\t"
            "vmul.f32 s0, s0, %[m]\n\t"
            "vmul.f32 s1, s1, %[m]\n\t"
            "vcvtr.s32.f32 s0, s0\n\t"
            "vcvtr.s32.f32 s1, s1\n\t"
            "vmov %[a0], %[a1], s0, s1"
            : [a0] "+r"(a0), [a1] "+r"(a1)
            : [m] "t"(m)
            : "s0", "s1");
    *p = a0;
    *q = a1;
}

/* One output row, all channels, in one asm block (le_img_rows_asm; gcc optimizing, Cortex-M4 with
 * the float requant): the pair loop below written out with every register chosen, so nothing is
 * spilled around the passes. Every per-channel value lives in an FPU register, where one VMOV to a
 * core register costs 1 cycle (a second one 1 more), against 2 for an LDR and 3 for an LDRD
 * (Cortex-M4 TRM 3.3.2, 7.2.3). The single-precision registers:
 *   s0, s1     requant temporaries
 *   s2 .. s21  the channel's weights, 4 words per kernel row i at s(2 + 4i):
 *              E0 = (w0,w1), E1 = (w2,w3), O1 = (w1,w2), O2 = (w3,w4)   (int16 pairs, lo first)
 *   s22 bias, s23 sb, s24 rp (the parameter array), s25 sw01, s26 sw23, s27 tc, s28 sc, s29 yend,
 *   s30 cm, s31 sm
 * s16 .. s31 are callee-saved (AAPCS): the block saves them (VPUSH, 64 B, sp stays 8-aligned) and
 * restores them (VPOP), so gcc sees them unchanged; s0 .. s15 are clobbered. The block's stack:
 * 64 B (it was 160 B per channel with the weight pairs in a stack frame).
 *   - Per channel o (rp[LE_RP_O4] = 4 o, advanced by the block): bias[o], rq[o], srq[o],
 *     sbias[o] and the 4 bytes sw[4o ..] by register-offset loads from the arrays (back to back:
 *     pipelined), yo = y row + o out_h out_w, and the channel's 20 weight words by one VLDM from
 *     the scratch (le_img_wcache5 made them once per call: 21 cycles per row and channel, where
 *     making them here from the int8 weights took 75). With C doing the per-channel part (an asm
 *     block per channel) it cost about 130 cycles per (row, channel) more.
 *   - Per pair of outputs (2ox, 2ox + 1; xp at the block of conv column c = 2ox): the two passes
 *     share one copy of the code, conv row 2oy + 1 first (xp + 8, sw23), then 2oy (xp, sw01).
 *     Which pass just ended is kept in the carry flag, which nothing in a pass changes (LDRD,
 *     SMLAxy, SSAT, PKHBT, LDRSB and the VFP instructions leave NZCV alone): the pair starts with
 *     C = 0 (ADDS xp, #8: an address + 8 does not carry; or CMP yp, yend with yp < yend), and
 *     SUBS xp, xp, #8 before the second pass sets C = 1 (xp >= 8, no borrow).
 *   - A pass (LE_IMG_FROW, per kernel row): the 4 input words X0..X3 = (x_c, x_c+1) .. (x_c+6,
 *     x_c+7) by 2 LDRD, the 4 weight words by 3 VMOV (one of them a pair: 4 cycles, where the 6
 *     pairs of even and odd weights by 3 LDRD were 9), 12 multiply-accumulates:
 *       a0 (c)     = X0.E0 + X1.E1 + x_c+4 w4        a1 (c + 1) = x_c+1 w0 + X1.O1 + X2.O2
 *       a2 (c + 2) = X1.E0 + X2.E1 + x_c+6 w4        a3 (c + 3) = x_c+3 w0 + X2.O1 + X3.O2
 *     (X.E one SMLAD; x_c+1 w0 = top(X0) bottom(E0) one SMLATB, x_c+4 w4 = bottom(X2) top(O2) one
 *     SMLABT: the pairs (0,w0) and (w4,0) are never made).
 *   - Then le_img_vcvtr4's requant (two outputs at a time through s0, s1), SSAT, the table tc and
 *     one SMLAD per pair into the two sums; after the second pass the sums are requantized,
 *     looked up in sc and stored (yp += 2).
 * 13 core registers, all operands: u0 brings rp in. out_w >= 2; writes the first out_w & ~1
 * outputs of the row of every channel. Exact: |x|, |w| <= 128, so a product is at most 2^14 and a
 * conv sum far below 2^31; the subsampling products |t sw| <= 2^14. */
#if LE_SIMD && defined(LE_REQUANT_VCVTR) && defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#define LE_IMG_ROW_ASM 1
/* The weight words of every channel, made once per call into the scratch after the rows (4-byte
 * aligned: the rows take 8 (k + 1) nb bytes), where the row block loads a channel's 20 by one VLDM
 * (21 cycles; made per row and channel from the int8 weights they took 75): per channel o and
 * kernel row i, at wc + 80 o + 16 i, E0 = (w0,w1), E1 = (w2,w3), O1 = (w1,w2), O2 = (w3,w4)
 * (int16 pairs, w = the kernel row's 5 weights; all 0 for a channel without a kernel). The op's
 * scratch_bytes reserves 80 out_c bytes there (lenet_edge/compiler/ops/conv_subsample.py). */
static LE_INLINE int8_t *le_img_wcache(int16_t *rows, int nb, int k)
{
    return (int8_t *)(void *)(rows + nb * (k + 1) * 4);
}

static void le_img_wcache5(const int8_t *w, const uint16_t *kstart, int out_c, int8_t *wc)
{
    int o, i;
    for (o = 0; o < out_c; ++o) {
        const int8_t *wp = w + kstart[o] * 25;
        const int has = kstart[o + 1] != kstart[o]; /* else no kernel: zeros */
        for (i = 0; i < 5; ++i) {
            int32_t r[4] = {0, 0, 0, 0};
            if (has) {
                r[0] = le_pkh_lo_lo(wp[0], wp[1]); /* E0 */
                r[1] = le_pkh_lo_lo(wp[2], wp[3]); /* E1 */
                r[2] = le_pkh_lo_lo(wp[1], wp[2]); /* O1 */
                r[3] = le_pkh_lo_lo(wp[3], wp[4]); /* O2 */
            }
            memcpy(wc, r, sizeof r);
            wc += sizeof r;
            wp += 5;
        }
    }
}
/* kernel row i: X0, X1 at byte offset XA = 8 i, X2, X3 at XB = 48 + 8 i (bs = 24 int16 for k 5);
 * E0, E1O1, O2: its weight registers ("s2", "s3, s4", "s5" for row 0);
 * C0..C3: what the first four multiply-accumulates add to (the bias in a3 in row 0, else a0..a3) */
#define LE_IMG_FROW(XA, XB, E0, E1O1, O2, C0, C1, C2, C3)              \
    "ldrd %[x0], %[x1], [%[xp], #" XA "]\n\t"                          \
    "vmov %[we], " E0 "\n\t"                                            \
    "smlad %[a0], %[x0], %[we], %[" C0 "]\n\t"                         \
    "smlatb %[a1], %[x0], %[we], %[" C1 "]\n\t"                        \
    "smlad %[a2], %[x1], %[we], %[" C2 "]\n\t"                         \
    "smlatb %[a3], %[x1], %[we], %[" C3 "]\n\t"                        \
    "vmov %[we], %[wo], " E1O1 "\n\t"                                   \
    "smlad %[a0], %[x1], %[we], %[a0]\n\t"                             \
    "smlad %[a1], %[x1], %[wo], %[a1]\n\t"                             \
    "ldrd %[x0], %[x1], [%[xp], #" XB "]\n\t"                          \
    "smlad %[a2], %[x0], %[we], %[a2]\n\t"                             \
    "smlad %[a3], %[x0], %[wo], %[a3]\n\t"                             \
    "vmov %[wo], " O2 "\n\t"                                            \
    "smlabt %[a0], %[x0], %[wo], %[a0]\n\t"                            \
    "smlad %[a1], %[x0], %[wo], %[a1]\n\t"                             \
    "smlabt %[a2], %[x1], %[wo], %[a2]\n\t"                            \
    "smlad %[a3], %[x1], %[wo], %[a3]\n\t"
/* two accumulators P, Q through the float requant of multiplier register M, via s0, s1 */
#define LE_IMG_VCVTR_PAIR(P, Q, M)                 \
    "vmov s0, s1, %[" P "], %[" Q "]\n\t"      \
    "vcvt.f32.s32 s0, s0\n\t"                  \
    "vcvt.f32.s32 s1, s1\n\t"                  \
    "vmul.f32 s0, s0, " M "\n\t"               \
    "vmul.f32 s1, s1, " M "\n\t"               \
    "vcvtr.s32.f32 s0, s0\n\t"                 \
    "vcvtr.s32.f32 s1, s1\n\t"                 \
    "vmov %[" P "], %[" Q "], s0, s1\n\t"
#define LE_IMG_ROW_TEXT(ZP4, SZP2) \
        "vpush {s16-s31}\n\t"                                /* callee-saved: restored at the end */        \
        "vmov s24, %[u0]\n\t"                                /* rp */                                       \
        "ldrd %[a0], %[a1], [%[u0], #48]\n\t"                /* tc, sc */                                   \
        "vmov s27, s28, %[a0], %[a1]\n\t"                                                                   \
        "3:\n\t"                                             /* a channel o */                              \
        "vmov %[a0], s24\n\t"                                                                               \
        "ldr %[a1], [%[a0]]\n\t"                             /* 4 o */                                      \
        "ldr %[x0], [%[a0], #8]\n\t"                         /* the arrays bias, rq, srq, sbias, sw */      \
        "ldr %[x1], [%[a0], #12]\n\t"                        /* (loads back to back: pipelined) */          \
        "ldr %[wo], [%[a0], #16]\n\t"                                                                       \
        "ldr %[u0], [%[a0], #20]\n\t"                                                                       \
        "ldr %[u1], [%[a0], #24]\n\t"                                                                       \
        "ldr %[x0], [%[x0], %[a1]]\n\t"                      /* bias[o] */                                  \
        "ldr %[x1], [%[x1], %[a1]]\n\t"                      /* rq[o]: cm */                                \
        "ldr %[wo], [%[wo], %[a1]]\n\t"                      /* srq[o]: sm */                               \
        "ldr %[u0], [%[u0], %[a1]]\n\t"                      /* sbias[o]: sb */                             \
        "ldr %[u1], [%[u1], %[a1]]\n\t"                      /* sw[4o .. 4o + 3] (bytes, unaligned) */      \
        "vmov s22, s23, %[x0], %[u0]\n\t"                                                                   \
        "vmov s30, s31, %[x1], %[wo]\n\t"                                                                   \
        "sxtb16 %[a2], %[u1]\n\t"                            /* (sw0, sw2) */                               \
        "sxtb16 %[a3], %[u1], ror #8\n\t"                    /* (sw1, sw3) */                               \
        "pkhbt %[x0], %[a2], %[a3], lsl #16\n\t"             /* sw01 */                                     \
        "pkhtb %[x1], %[a3], %[a2], asr #16\n\t"             /* sw23 */                                     \
        "vmov s25, s26, %[x0], %[x1]\n\t"                                                                   \
        "ldr %[we], [%[a0], #28]\n\t"                        /* the weight words of channel 0 */            \
        "ldr %[yp], [%[a0], #32]\n\t"                        /* channel 0's output row */                   \
        "ldr %[xp], [%[a0], #36]\n\t"                        /* out_h out_w */                              \
        "add %[we], %[we], %[a1], lsl #4\n\t"                /* + 80 o = 64 o + 16 o */                     \
        "lsr %[a3], %[a1], #2\n\t"                           /* o (apart: an address just computed costs 1 more) */\
        "add %[we], %[we], %[a1], lsl #2\n\t"                                                               \
        "mla %[yp], %[a3], %[xp], %[yp]\n\t"                 /* yo = y row + o out_h out_w */               \
        "vldm %[we], {s2-s21}\n\t"                           /* the channel's 20 weight words */            \
        "ldr %[xp], [%[a0], #40]\n\t"                        /* out_w & ~1 */                               \
        "add %[a1], %[a1], #4\n\t"                                                                          \
        "str %[a1], [%[a0]]\n\t"                             /* the next channel */                         \
        "add %[xp], %[yp], %[xp]\n\t"                        /* yend */                                     \
        "vmov s29, %[xp]\n\t"                                                                               \
        "ldr %[xp], [%[a0], #44]\n\t"                        /* rows (block 0, row 0) */                    \
        "adds %[xp], %[xp], #8\n\t"                 /* conv row 2oy + 1 first; C = 0 */                 \
        "vmov %[u0], s23\n\t"                       /* both sums start at sb */                         \
        "vmov %[u1], s23\n\t"                                                                           \
        "vmov %[swp], s26\n\t"                      /* sw23 */                                          \
        "b 2f\n\t"                                                                                      \
        "1:\n\t"                                    /* between the passes of a pair */                  \
        "vmov %[swp], s25\n\t"                      /* sw01 */                                          \
        "subs %[xp], %[xp], #8\n\t"                 /* conv row 2oy; C = 1 */                           \
        "2:\n\t"                                    /* a pass: 4 conv outputs of one conv row */        \
        "vmov %[a3], s22\n\t"                       /* the bias */                                      \
        LE_IMG_FROW("0", "48", "s2", "s3, s4", "s5", "a3", "a3", "a3", "a3")                            \
        LE_IMG_FROW("8", "56", "s6", "s7, s8", "s9", "a0", "a1", "a2", "a3")                            \
        LE_IMG_FROW("16", "64", "s10", "s11, s12", "s13", "a0", "a1", "a2", "a3")                       \
        LE_IMG_FROW("24", "72", "s14", "s15, s16", "s17", "a0", "a1", "a2", "a3")                       \
        LE_IMG_FROW("32", "80", "s18", "s19, s20", "s21", "a0", "a1", "a2", "a3")                       \
        /* le_img_vcvtr4's requant, then SSAT, the table tc and one SMLAD per pair into the sums */     \
        LE_IMG_VCVTR_PAIR("a0", "a1", "s30")                                                                \
        LE_IMG_VCVTR_PAIR("a2", "a3", "s30")                                                                \
        ZP4                                                                                             \
        "vmov %[x0], s27\n\t"                       /* tc */                                            \
        "ssat %[a0], #8, %[a0]\n\t"                                                                     \
        "ssat %[a1], #8, %[a1]\n\t"                                                                     \
        "ssat %[a2], #8, %[a2]\n\t"                                                                     \
        "ssat %[a3], #8, %[a3]\n\t"                                                                     \
        "ldrsb %[a0], [%[x0], %[a0]]\n\t"           /* 4 loads back to back: pipelined */               \
        "ldrsb %[a1], [%[x0], %[a1]]\n\t"                                                               \
        "ldrsb %[a2], [%[x0], %[a2]]\n\t"                                                               \
        "ldrsb %[a3], [%[x0], %[a3]]\n\t"                                                               \
        "pkhbt %[a0], %[a0], %[a1], lsl #16\n\t"                                                        \
        "pkhbt %[a2], %[a2], %[a3], lsl #16\n\t"                                                        \
        "smlad %[u0], %[a0], %[swp], %[u0]\n\t"     /* |t|, |sw| <= 128 */                              \
        "smlad %[u1], %[a2], %[swp], %[u1]\n\t"                                                         \
        "bcc 1b\n\t"                                /* C = 0: the first pass of the pair */             \
        /* the two sums: requant, table sc, store */                                                    \
        LE_IMG_VCVTR_PAIR("u0", "u1", "s31")                                                                \
        SZP2                                                                                            \
        "vmov %[a0], s28\n\t"                       /* sc */                                            \
        "ssat %[u0], #8, %[u0]\n\t"                                                                     \
        "ssat %[u1], #8, %[u1]\n\t"                                                                     \
        "ldrsb %[u0], [%[a0], %[u0]]\n\t"                                                               \
        "ldrsb %[u1], [%[a0], %[u1]]\n\t"                                                               \
        "strb %[u0], [%[yp]], #1\n\t"                                                                   \
        "add %[xp], %[xp], #56\n\t"                 /* the next block, conv row 2oy + 1 (apart: a */    \
        "strb %[u1], [%[yp]], #1\n\t"               /* store right after a store costs 1 more) */       \
        "vmov %[u0], s23\n\t"                       /* the next pair's sums, sw23, the end */           \
        "vmov %[u1], s23\n\t"                                                                           \
        "vmov %[swp], s26\n\t"                                                                          \
        "vmov %[a1], s29\n\t"                                                                           \
        "cmp %[yp], %[a1]\n\t"                      /* C = 0 while yp < yend */                         \
        "bne 2b\n\t"                                                                                    \
        "vmov %[a0], s24\n\t"                                                                           \
        "ldrd %[a1], %[a2], [%[a0]]\n\t"            /* 4 (o + 1), 4 out_c */                           \
        "cmp %[a1], %[a2]\n\t"                                                                          \
        "bne 3b\n\t"                                                                                    \
        "vpop {s16-s31}"
/* all outputs early-clobbered: written before the input (rp, in u0) is read */
#define LE_IMG_ROW_OPERANDS                                                                              \
    : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x0] "=&r"(x0), [x1] "=&r"(x1),   \
      [wo] "=&r"(wo), [u0] "+&r"(u0), [u1] "=&r"(u1), [swp] "=&r"(swp), [we] "=&r"(we), [xp] "=&r"(xp), \
      [yp] "=&r"(yp)                                                                                     \
    :                                                                                                    \
    : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14",     \
      "s15", "memory", "cc"
/* The parameters of le_img_rows_asm, one int32 word each (byte offset = 4 x index; pointers are
 * 32-bit on Arm). The block writes LE_RP_O4 (4 o of the next channel); the rest it only reads. */
enum {
    LE_RP_O4, LE_RP_OEND, LE_RP_BIAS, LE_RP_RQ, LE_RP_SRQ, LE_RP_SBIAS, LE_RP_SW, LE_RP_WC, LE_RP_YROW,
    LE_RP_HW, LE_RP_WEVEN, LE_RP_ROWS, LE_RP_TC, LE_RP_SC, LE_RP_ZP, LE_RP_SZP, LE_RP_N
};
/* rp[LE_RP_*] as in the enum: 0 (first channel), 4 out_c, the arrays bias, rq (float bits), srq,
 * sbias, sw (4 int8 per channel), the weight words (le_img_wcache5: 20 per channel), channel 0's
 * output row y + oy out_w, out_h out_w, out_w & ~1, the scratch rows, tc, sc, zp, szp */
static LE_INLINE void le_img_rows_asm(int32_t *rp, int zp_nonzero)
{
    int32_t a0, a1, a2, a3, x0, x1, wo, u1, swp, xp, yp, we;
    int32_t u0 = (int32_t)(uintptr_t)rp; /* the parameter pointer, then the first subsampling sum */
    if (!zp_nonzero) {
        __asm__ __volatile__(LE_IMG_ROW_TEXT("", "")
                LE_IMG_ROW_OPERANDS);
    } else { /* + zp (QADD, saturating, as le_img_sat8) before each SSAT */
        __asm__ __volatile__(LE_IMG_ROW_TEXT("vmov %[x1], s24\n\t"
                                             "ldr %[x1], [%[x1], #56]\n\t"
                                             "qadd %[a0], %[a0], %[x1]\n\t"
                                             "qadd %[a1], %[a1], %[x1]\n\t"
                                             "qadd %[a2], %[a2], %[x1]\n\t"
                                             "qadd %[a3], %[a3], %[x1]\n\t",
                                             "vmov %[a0], s24\n\t"
                                             "ldr %[a0], [%[a0], #60]\n\t"
                                             "qadd %[u0], %[u0], %[a0]\n\t"
                                             "qadd %[u1], %[u1], %[a0]\n\t")
                LE_IMG_ROW_OPERANDS);
    }
}
#undef LE_IMG_ROW_OPERANDS
#undef LE_IMG_ROW_TEXT
#undef LE_IMG_VCVTR_PAIR
#undef LE_IMG_FROW
#endif
#undef LE_IMG_KROW4

/* the rest of le_requant after the rounding: + zp (QADD, saturating; nothing for a literal 0), then
 * SSAT to [-128, 127] */
static LE_INLINE int32_t le_img_sat8(int32_t q, int32_t zp)
{
    if (zp != 0) {
        __asm__("qadd %0, %0, %1" : "+r"(q) : "r"(zp));
    }
    __asm__("ssat %0, #8, %0" : "+r"(q));
    return q;
}
#endif

#ifndef LE_IMG_ROW_ASM
#define LE_IMG_ROW_ASM 0 /* elsewhere the C loop of the pairs */
#endif

#if !LE_SIMD
/* Column pairs (portable path, Cortex-M3: one SMLAL is 2 multiply-accumulates; le_cs_prow5 of
 * le_conv_subsample_row.h does the same for C3). The conv sums of columns c and c + 1 share one
 * 64-bit sum A = 2^22 + a_c + a_c+1 * 2^23 (no bias): input x_c+t (t = 0..5) is multiplied once by
 *   W_t = w_t + w_t-1 * 2^23   (w_-1 = w_5 = 0),
 * which feeds w_t to column c and w_t-1 to column c + 1. Exact: one conv sum of 25 products
 * |x w| <= 2^14 has |a| <= 409,600 < 2^22, so 2^22 + a_c is in (0, 2^23): the low 23 bits of A are
 * 2^22 + a_c and A >> 23 (floor) is a_c+1; |W| <= 2^30 + 127 < 2^31, |A| < 2^46. */
#define LE_IMG_PAIR_SHIFT 23

/* The 25 int8 weights wp[5][5] of one channel as W[5][6] (above), per kernel row. */
static LE_INLINE void le_img_wcols5(const int8_t *wp, int32_t *W)
{
#if defined(__GNUC__) && defined(__thumb2__)
    /* one asm loop over the rows: 5 LDRSB, 5 ADD/LSL, 3 STRD (post-increment), SUBS, BNE: 15
     * instructions per row (gcc made 20 of the C below); volatile: its effect is the stores */
    int32_t w0, w1, w2, w3, w4, t0, t1;
    int n = 5;
    __asm__ __volatile__("1:\n\t"
                         "ldrsb %[w0], [%[wp]], #5\n\t"
                         "ldrsb %[w1], [%[wp], #-4]\n\t"
                         "ldrsb %[w2], [%[wp], #-3]\n\t"
                         "ldrsb %[w3], [%[wp], #-2]\n\t"
                         "ldrsb %[w4], [%[wp], #-1]\n\t"
                         "add %[t0], %[w1], %[w0], lsl #23\n\t"   /* W1 */
                         "strd %[w0], %[t0], [%[W]], #8\n\t"      /* W0 = w0, W1 */
                         "add %[t0], %[w2], %[w1], lsl #23\n\t"   /* W2 */
                         "add %[t1], %[w3], %[w2], lsl #23\n\t"   /* W3 */
                         "strd %[t0], %[t1], [%[W]], #8\n\t"
                         "add %[t0], %[w4], %[w3], lsl #23\n\t"   /* W4 */
                         "lsl %[t1], %[w4], #23\n\t"              /* W5 */
                         "strd %[t0], %[t1], [%[W]], #8\n\t"
                         "subs %[n], %[n], #1\n\t"
                         "bne 1b"
                         : [wp] "+r"(wp), [W] "+r"(W), [n] "+r"(n), [w0] "=&r"(w0), [w1] "=&r"(w1),
                           [w2] "=&r"(w2), [w3] "=&r"(w3), [w4] "=&r"(w4), [t0] "=&r"(t0), [t1] "=&r"(t1)
                         :
                         : "memory", "cc");
#else
    int ky;
    for (ky = 0; ky < 5; ++ky) {
        const int32_t w0 = wp[0], w1 = wp[1], w2 = wp[2], w3 = wp[3], w4 = wp[4];
        W[0] = w0;
        W[1] = (int32_t)((uint32_t)w0 << LE_IMG_PAIR_SHIFT) + w1;
        W[2] = (int32_t)((uint32_t)w1 << LE_IMG_PAIR_SHIFT) + w2;
        W[3] = (int32_t)((uint32_t)w2 << LE_IMG_PAIR_SHIFT) + w3;
        W[4] = (int32_t)((uint32_t)w3 << LE_IMG_PAIR_SHIFT) + w4;
        W[5] = (int32_t)((uint32_t)w4 << LE_IMG_PAIR_SHIFT);
        wp += 5;
        W += 6;
    }
#endif
}

/* One kernel row for the column pairs (c, c + 1) in *pa and (c + 2, c + 3) in *pb: inputs
 * x_c .. x_c+3 at xp, x_c+4 .. x_c+7 at xp + bs (int16), each loaded once; W: the row's 6 W_t.
 * 8 input and 6 W loads for 12 multiply-accumulates (20 MACs); W_t-2, W_t-1, W_t live. */
static LE_INLINE LE_UNUSED void le_img_krow4_pairs(const int16_t *xp, int bs, const int32_t *W, int64_t *pa,
                                                   int64_t *pb)
{
    int64_t a = *pa, b = *pb;
    int32_t x, w0, w1, w2;
    w0 = W[0];
    x = le_ld16(xp);
    a += (int64_t)x * w0;
    w1 = W[1];
    x = le_ld16(xp + 1);
    a += (int64_t)x * w1;
    w2 = W[2];
    x = le_ld16(xp + 2);
    a += (int64_t)x * w2;
    b += (int64_t)x * w0;
    w0 = W[3];
    x = le_ld16(xp + 3);
    a += (int64_t)x * w0;
    b += (int64_t)x * w1;
    w1 = W[4];
    x = le_ld16(xp + bs);
    a += (int64_t)x * w1;
    b += (int64_t)x * w2;
    w2 = W[5];
    x = le_ld16(xp + bs + 1);
    a += (int64_t)x * w2;
    b += (int64_t)x * w0;
    x = le_ld16(xp + bs + 2);
    b += (int64_t)x * w1;
    x = le_ld16(xp + bs + 3);
    b += (int64_t)x * w2;
    *pa = a;
    *pb = b;
}

/* Conv outputs (r, c .. c + 3) of one conv row, k == 5, from the column pairs; W: [5][6]. */
static LE_INLINE le_acc4_t le_img_row4_pairs(const int16_t *xp, int bs, const int32_t *W, int32_t b)
{
    const int64_t base = (int64_t)1 << (LE_IMG_PAIR_SHIFT - 1); /* 2^22 */
    const int32_t b0 = b - (int32_t)base;
    int64_t pa = base, pb = base;
    le_acc4_t a;
#if defined(__GNUC__) && defined(__thumb2__) && defined(__OPTIMIZE__)
    /* Thumb-2 (Cortex-M3): one asm block, 11 registers (the two 64-bit sums, one input, four W,
     * two pointers); per kernel row 3 LDRD of W, 8 LDRSH of inputs, 12 SMLAL: 23 instructions
     * (gcc made about 26 of the C below, and moved the 64-bit sums between registers). */
    {
        uint32_t alo = (uint32_t)base, blo = (uint32_t)base;
        int32_t ahi = 0, bhi = 0, x, w0, w1, w2, w3;
#define LE_IMG_PROW(XA, XB, WA, WB, WC)                                           \
    "ldrd %[w0], %[w1], [%[W], #" WA "]\n\t"                                       \
    "ldrsh %[x], [%[xp], #" XA "]\n\t"                                             \
    "smlal %[alo], %[ahi], %[x], %[w0]\n\t"                                        \
    "ldrsh %[x], [%[xp], #" XA "+2]\n\t"                                           \
    "smlal %[alo], %[ahi], %[x], %[w1]\n\t"                                        \
    "ldrd %[w2], %[w3], [%[W], #" WB "]\n\t"                                       \
    "ldrsh %[x], [%[xp], #" XA "+4]\n\t"                                           \
    "smlal %[alo], %[ahi], %[x], %[w2]\n\t"                                        \
    "smlal %[blo], %[bhi], %[x], %[w0]\n\t"                                        \
    "ldrsh %[x], [%[xp], #" XA "+6]\n\t"                                           \
    "smlal %[alo], %[ahi], %[x], %[w3]\n\t"                                        \
    "smlal %[blo], %[bhi], %[x], %[w1]\n\t"                                        \
    "ldrd %[w0], %[w1], [%[W], #" WC "]\n\t"                                       \
    "ldrsh %[x], [%[xp], #" XB "]\n\t"                                             \
    "smlal %[alo], %[ahi], %[x], %[w0]\n\t"                                        \
    "smlal %[blo], %[bhi], %[x], %[w2]\n\t"                                        \
    "ldrsh %[x], [%[xp], #" XB "+2]\n\t"                                           \
    "smlal %[alo], %[ahi], %[x], %[w1]\n\t"                                        \
    "smlal %[blo], %[bhi], %[x], %[w3]\n\t"                                        \
    "ldrsh %[x], [%[xp], #" XB "+4]\n\t"                                           \
    "smlal %[blo], %[bhi], %[x], %[w0]\n\t"                                        \
    "ldrsh %[x], [%[xp], #" XB "+6]\n\t"                                           \
    "smlal %[blo], %[bhi], %[x], %[w1]\n\t"
        /* row i: x_c .. x_c+3 at byte 8 i, x_c+4 .. x_c+7 at 48 + 8 i (bs 24 int16); W_0..W_5 at
         * 24 i; A (alo, ahi) gets x_c+t W_t, B (blo, bhi) x_c+2+t W_t */
        (void)bs;
        __asm__(LE_IMG_PROW("0", "48", "0", "8", "16") LE_IMG_PROW("8", "56", "24", "32", "40")
                LE_IMG_PROW("16", "64", "48", "56", "64") LE_IMG_PROW("24", "72", "72", "80", "88")
                LE_IMG_PROW("32", "80", "96", "104", "112")
                : [alo] "+r"(alo), [ahi] "+r"(ahi), [blo] "+r"(blo), [bhi] "+r"(bhi), [x] "=&r"(x),
                  [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3)
                : [xp] "r"(xp), [W] "r"(W)
                : "memory");
#undef LE_IMG_PROW
        pa = (int64_t)(((uint64_t)(uint32_t)ahi << 32) | alo);
        pb = (int64_t)(((uint64_t)(uint32_t)bhi << 32) | blo);
    }
#elif defined(__arm__)
    /* the 5 kernel rows one after the other, LE_IMG_FENCE between them (else gcc hoists the loads
     * of all rows and spills them) */
    LE_IMG_FENCE(xp, W); /* also: W's values are not known here (gcc would then not use SMLAL) */
    le_img_krow4_pairs(xp, bs, W, &pa, &pb);
    LE_IMG_FENCE(xp, W);
    le_img_krow4_pairs(xp + 4, bs, W + 6, &pa, &pb);
    LE_IMG_FENCE(xp, W);
    le_img_krow4_pairs(xp + 8, bs, W + 12, &pa, &pb);
    LE_IMG_FENCE(xp, W);
    le_img_krow4_pairs(xp + 12, bs, W + 18, &pa, &pb);
    LE_IMG_FENCE(xp, W);
    le_img_krow4_pairs(xp + 16, bs, W + 24, &pa, &pb);
#else
    {
        int ky;
        for (ky = 0; ky < 5; ++ky) {
            LE_IMG_FENCE(xp, W);
            le_img_krow4_pairs(xp, bs, W, &pa, &pb);
            xp += 4;
            W += 6;
        }
    }
#endif
    a.a0 = (int32_t)((uint32_t)pa & 0x7FFFFFu) + b0;
    a.a1 = (int32_t)(pa >> LE_IMG_PAIR_SHIFT) + b;
    a.a2 = (int32_t)((uint32_t)pb & 0x7FFFFFu) + b0;
    a.a3 = (int32_t)(pb >> LE_IMG_PAIR_SHIFT) + b;
    return a;
}
#endif

/* Conv outputs (r, c .. c + 3) of one conv row, k == 5: a_i = b + sum over the 5 kernel rows.
 * xp: row r's x_c in the scratch (c divisible by 4); bs: LE_IMG_BS(5); wp: [5][5] int8; wq: its
 * pairs. */
static LE_INLINE le_acc4_t le_img_row4(const int16_t *xp, int bs, const int8_t *wp, const int32_t *wq, int32_t b)
{
#if LE_SIMD
    (void)bs;
    (void)wp;
    (void)b;
    return le_img_row4_dsp(xp, wq);
#else
    (void)wp;
    return le_img_row4_pairs(xp, bs, wq, b);
#endif
}

/* The four conv accumulators (2oy + dy, 2ox + dx) under subsampled output ox, any k (the
 * remainder of an odd out_w, and k != 5): a0 = (dy 0, dx 0), a1 = (0, 1), a2 = (1, 0), a3 = (1, 1).
 * rows: the scratch (conv input row 2oy is its row 0); wp: [k][k] int8. */
static LE_INLINE le_acc4_t le_img_window(int16_t *rows, int bs, int k, const int8_t *wp, int32_t b, int ox)
{
    le_acc4_t a;
    int ky;
    a.a0 = b;
    a.a1 = b;
    a.a2 = b;
    a.a3 = b;
    for (ky = 0; ky < k; ++ky) {
        int kx;
        for (kx = 0; kx < k; ++kx) {
            const int32_t w = wp[ky * k + kx];
            const int c = 2 * ox + kx;
            a.a0 += le_ld16(le_img_at(rows, bs, ky, c)) * w;
            a.a1 += le_ld16(le_img_at(rows, bs, ky, c + 1)) * w;
            a.a2 += le_ld16(le_img_at(rows, bs, ky + 1, c)) * w;
            a.a3 += le_ld16(le_img_at(rows, bs, ky + 1, c + 1)) * w;
        }
    }
    return a;
}

#if LE_SSE2
#define LE_IMG_XW (4 * LE_SSE2_MAXG + LE_SSE2_MAXK - 1)  /* band row stride: >= 2 out_w + k - 1 */
#define LE_IMG_XH (2 * LE_SSE2_MAXH + LE_SSE2_MAXK - 1)  /* band rows: >= 2 nb + k - 1 */

/* Conv input rows r0 .. r0 + nr - 1, columns 0 .. nx - 1 of the padded, quantized image into
 * xb[r - r0][c] (int8: itable[pixel] inside the image, pad_value outside; nx <= LE_IMG_XW,
 * nr <= LE_IMG_XH). */
static LE_INLINE void le_img_band_s8(const uint8_t *image, int img_h, int img_w, const int8_t *itable, int top,
                                     int left, int32_t pad_value, int r0, int nr, int nx,
                                     int8_t xb[LE_IMG_XH][LE_IMG_XW])
{
    const int c0 = left < 0 ? 0 : left;                           /* image columns: c0 .. c1 - 1 */
    const int c1 = left + img_w < nx ? left + img_w : nx;
    int i;
    for (i = 0; i < nr; ++i) {
        const int ir = r0 + i - top;
        int c;
        memset(xb[i], (int8_t)pad_value, (size_t)nx);
        if (ir < 0 || ir >= img_h) {
            continue;
        }
        for (c = c0; c < c1; ++c) {
            xb[i][c] = itable[image[ir * img_w + c - left]];
        }
    }
}

#if !LENET5_REQUANT_INT
/* The float requant of kernels/le_requant.h (portable float path) on 4 int32 lanes, each lane the
 * same IEEE operations as the scalar code: float(acc) (CVTDQ2PS, round to nearest like C's
 * conversion), * M, clamp to [-128 - zp, 127 - zp] (no NaN: MAX then MIN is the scalar's
 * v < lo ? lo : (v > hi ? hi : v)), + 1.5 * 2^23, bits. Returns code + 128 in [0, 255]: the
 * index into the C1 tables (stored by code + 128). lo, hi: (float)(-128 - zp), (float)(127 - zp) in
 * all lanes; bias: 0x4B400000 - zp - 128. */
static LE_INLINE __m128i le_img_requant4_sse2(__m128i acc, __m128 m, __m128 lo, __m128 hi, __m128i bias)
{
    __m128 v = _mm_mul_ps(_mm_cvtepi32_ps(acc), m);
    v = _mm_min_ps(_mm_max_ps(v, lo), hi);
    v = _mm_add_ps(v, _mm_set1_ps(12582912.0f)); /* 1.5 * 2^23: bits 0x4B400000 */
    return _mm_sub_epi32(_mm_castps_si128(v), bias);
}

/* One channel's band epilogue, vectorized: c[oy][dy][cx] (le_sse2_band_acc) -> per conv row
 * 4 lanes at a time through the requant (le_img_requant4_sse2), the table lookups scalar into t
 * as int16, then per 4 subsampled outputs: (t[0][2ox], t[0][2ox + 1]) . (sw0, sw1) +
 * (t[1][2ox], t[1][2ox + 1]) . (sw2, sw3) in one PMADDWD each (|t|, |sw| <= 128), + sb, the
 * requant and the table. m, sm: the float32 bit patterns of the two multipliers. */
static LE_INLINE void le_img_out_sse2(int32_t c[LE_SSE2_MAXH][2][4 * LE_SSE2_MAXG], int nb, int out_w, int32_t m,
                                      int32_t zp, const int8_t *table, int32_t sw0, int32_t sw1, int32_t sw2,
                                      int32_t sw3, int32_t sb, int32_t sm, int32_t szp, const int8_t *stable,
                                      int8_t *y)
{
    const int ng = (2 * out_w + 3) / 4;          /* conv column groups (lanes) */
    const int no = (out_w + 3) / 4;              /* subsampled output groups */
    const __m128 cm = _mm_castsi128_ps(_mm_set1_epi32(m)), csm = _mm_castsi128_ps(_mm_set1_epi32(sm));
    const __m128 clo = _mm_set1_ps((float)(-128 - zp)), chi = _mm_set1_ps((float)(127 - zp));
    const __m128 slo = _mm_set1_ps((float)(-128 - szp)), shi = _mm_set1_ps((float)(127 - szp));
    const __m128i cb = _mm_set1_epi32(0x4B400000 - zp - 128), sbb = _mm_set1_epi32(0x4B400000 - szp - 128);
    const __m128i w01 = _mm_set1_epi32((int32_t)((uint32_t)(sw0 & 0xFFFF) | (uint32_t)sw1 << 16));
    const __m128i w23 = _mm_set1_epi32((int32_t)((uint32_t)(sw2 & 0xFFFF) | (uint32_t)sw3 << 16));
    const __m128i vsb = _mm_set1_epi32(sb);
    int16_t t[2][4 * LE_SSE2_MAXG];              /* table values of conv rows 2oy, 2oy + 1 */
    int32_t q[4];
    int oy;
    memset(t, 0, sizeof t);                      /* lanes past 2 out_w: read, never used */
    for (oy = 0; oy < nb; ++oy) {
        int dy, g;
        for (dy = 0; dy < 2; ++dy) {
            for (g = 0; g < ng; ++g) {
                const __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(c[oy][dy] + 4 * g));
                _mm_storeu_si128((__m128i *)(void *)q, le_img_requant4_sse2(a, cm, clo, chi, cb));
                t[dy][4 * g] = table[q[0]];
                t[dy][4 * g + 1] = table[q[1]];
                t[dy][4 * g + 2] = table[q[2]];
                t[dy][4 * g + 3] = table[q[3]];
            }
        }
        for (g = 0; g < no; ++g) {
            const int n = out_w - 4 * g < 4 ? out_w - 4 * g : 4;
            const __m128i t0 = _mm_loadu_si128((const __m128i *)(const void *)(t[0] + 8 * g));
            const __m128i t1 = _mm_loadu_si128((const __m128i *)(const void *)(t[1] + 8 * g));
            const __m128i s = _mm_add_epi32(_mm_add_epi32(_mm_madd_epi16(t0, w01), _mm_madd_epi16(t1, w23)), vsb);
            int i;
            _mm_storeu_si128((__m128i *)(void *)q, le_img_requant4_sse2(s, csm, slo, shi, sbb));
            for (i = 0; i < n; ++i) {
                y[oy * out_w + 4 * g + i] = stable[q[i]];
            }
        }
    }
}
#endif

/* The whole layer on x86: per band of nb <= LE_SSE2_MAXH output rows, its 2 nb + k - 1 input rows
 * translated and paired into Q rows once, then per channel its bias, le_sse2_band_acc over its one
 * kernel (none: all its weights were 0) and the epilogue: le_img_out_sse2 on the float requant
 * path, le_requant32 per output on the integer one. Stack (host only): 0.5 KB for the rows, 2.2 KB
 * for Q, 1.3 KB for c, 0.7 KB in le_sse2_band_acc. */
static LE_INLINE void le_conv_subsample_u8_sse2(const uint8_t *image, int img_h, int img_w, const int8_t *itable,
                                                int top, int left, int32_t pad_value, int k, const int8_t *w,
                                                const uint16_t *kstart, const int32_t *bias, const le_rq_t *rq,
                                                int32_t zp, int wide,
                                                const int8_t *table, const int8_t *sw, const int32_t *sbias,
                                                const le_rq_t *srq, int32_t szp, int swide, const int8_t *stable,
                                                int8_t *y, int out_c, int out_h, int out_w)
{
    le_sse2_q_t q;                                /* the band's input rows paired (le_sse2_band_q) */
    int8_t xb[LE_IMG_XH][LE_IMG_XW];              /* the band's input rows */
    int32_t c[LE_SSE2_MAXH][2][4 * LE_SSE2_MAXG]; /* conv rows 2oy, 2oy + 1 of the band, one channel */
    const int8_t *const tc = table + 128, *const sc = stable + 128; /* the tables at code 0 */
    int oy0;
    for (oy0 = 0; oy0 < out_h; oy0 += LE_SSE2_MAXH) {
        const int nb = out_h - oy0 < LE_SSE2_MAXH ? out_h - oy0 : LE_SSE2_MAXH;
        int o;
        le_img_band_s8(image, img_h, img_w, itable, top, left, pad_value, 2 * oy0, 2 * nb + k - 1,
                       2 * out_w + k - 1, xb);
        le_sse2_band_q(xb[0], LE_IMG_XW, k, nb, out_w, q); /* once for the 6 channels */
        for (o = 0; o < out_c; ++o) {
            const int nk = kstart[o + 1] - kstart[o]; /* 1, or 0: all its weights were 0 */
            const int32_t sw0 = sw[4 * o], sw1 = sw[4 * o + 1], sw2 = sw[4 * o + 2], sw3 = sw[4 * o + 3];
            const int32_t sb = sbias[o];
            const le_rq_t cr = rq[o], sr = srq[o];
            int8_t *yo = y + (o * out_h + oy0) * out_w;
            int oy;
            le_sse2_band_bias(bias[o], nb, out_w, c);
            if (nk) { /* its one kernel, over the band's Q rows */
                le_sse2_band_acc(q, w + kstart[o] * k * k, k, nb, out_w, c);
            }
#if !LENET5_REQUANT_INT
            {
                int32_t m, sm;
                memcpy(&m, &cr, sizeof m);
                memcpy(&sm, &sr, sizeof sm);
                le_img_out_sse2(c, nb, out_w, m, zp, table, sw0, sw1, sw2, sw3, sb, sm, szp, stable, yo);
            }
            (void)oy;
            (void)wide;
            (void)swide;
            (void)tc;
            (void)sc;
#else
            for (oy = 0; oy < nb; ++oy) {
                int ox;
                for (ox = 0; ox < out_w; ++ox) {
                    const le_acc4_t a = le_band_window(c, oy, ox);
                    const int32_t s = sb + tc[le_requant32(a.a0, cr, zp, wide)] * sw0
                                    + tc[le_requant32(a.a1, cr, zp, wide)] * sw1
                                    + tc[le_requant32(a.a2, cr, zp, wide)] * sw2
                                    + tc[le_requant32(a.a3, cr, zp, wide)] * sw3;
                    yo[oy * out_w + ox] = sc[le_requant32(s, sr, szp, swide)];
                }
            }
#endif
        }
    }
}
#undef LE_IMG_XW
#undef LE_IMG_XH
#endif

#if LENET5_REQUANT_INT && !LE_SIMD && defined(__GNUC__) && defined(__thumb2__)
#define LE_IMG_RQ_T2 1
/* le_requant32_fast (kernels/le_requant.h) and the table lookup of one accumulator X, Thumb-2:
 * |X| (EOR/SUB with X >> 31), the 64-bit r loaded by LDRD and SMLAL |X| * a into it, ASR sh,
 * the sign back, + zp (ZP: an ADD or nothing), SSAT; X = tc[q]. a, sh: registers; p: the le_rq_t
 * (r at offset 0). */
#define LE_IMG_RQ1(X, ZP)                                                \
    "eor %[u], %[" X "], %[" X "], asr #31\n\t"                           \
    "sub %[u], %[u], %[" X "], asr #31\n\t"                               \
    "ldrd %[lo], %[hi], [%[p]]\n\t"                                       \
    "smlal %[lo], %[hi], %[u], %[a]\n\t"                                  \
    "asr %[hi], %[hi], %[sh]\n\t"                                         \
    "eor %[hi], %[hi], %[" X "], asr #31\n\t"                             \
    "sub %[hi], %[hi], %[" X "], asr #31\n\t"                             \
    ZP                                                                   \
    "ssat %[hi], #8, %[hi]\n\t"                                           \
    "ldrsb %[" X "], [%[tc], %[hi]]\n\t"

/* The 4 conv outputs of a pass through the fast integer requant of channel rq (rq->a != 0) and
 * the table tc (by code): 9 instructions each (10 with a zero point) and 2 to load a and sh, where
 * gcc, short of registers around the passes, made about 14 of le_requant32 and the lookup. */
static LE_INLINE le_acc4_t le_img_rq4_t2(le_acc4_t v, const le_rq_t *rq, const int8_t *tc, int32_t zp)
{
    int32_t u, lo, hi, a, sh;
    if (zp == 0) { /* a literal at the inlined call */
        __asm__("ldr %[a], [%[p], #8]\n\t"
                "ldr %[sh], [%[p], #12]\n\t"
                LE_IMG_RQ1("x0", "") LE_IMG_RQ1("x1", "") LE_IMG_RQ1("x2", "") LE_IMG_RQ1("x3", "")
                : [x0] "+r"(v.a0), [x1] "+r"(v.a1), [x2] "+r"(v.a2), [x3] "+r"(v.a3), [u] "=&r"(u),
                  [lo] "=&r"(lo), [hi] "=&r"(hi), [a] "=&r"(a), [sh] "=&r"(sh)
                : [p] "r"(rq), [tc] "r"(tc)
                : "memory");
    } else {
        __asm__("ldr %[a], [%[p], #8]\n\t"
                "ldr %[sh], [%[p], #12]\n\t"
                LE_IMG_RQ1("x0", "add %[hi], %[hi], %[zp]\n\t") LE_IMG_RQ1("x1", "add %[hi], %[hi], %[zp]\n\t")
                LE_IMG_RQ1("x2", "add %[hi], %[hi], %[zp]\n\t") LE_IMG_RQ1("x3", "add %[hi], %[hi], %[zp]\n\t")
                : [x0] "+r"(v.a0), [x1] "+r"(v.a1), [x2] "+r"(v.a2), [x3] "+r"(v.a3), [u] "=&r"(u),
                  [lo] "=&r"(lo), [hi] "=&r"(hi), [a] "=&r"(a), [sh] "=&r"(sh)
                : [p] "r"(rq), [tc] "r"(tc), [zp] "r"(zp)
                : "memory");
    }
    return v;
}

/* the same for the two subsampling sums of a pair of outputs: *p0 = sc[q0], *p1 = sc[q1] */
static LE_INLINE void le_img_rq2_t2(int32_t *p0, int32_t *p1, const le_rq_t *rq, const int8_t *tc, int32_t zp)
{
    int32_t x0 = *p0, x1 = *p1, u, lo, hi, a, sh;
    if (zp == 0) {
        __asm__("ldr %[a], [%[p], #8]\n\t"
                "ldr %[sh], [%[p], #12]\n\t"
                LE_IMG_RQ1("x0", "") LE_IMG_RQ1("x1", "")
                : [x0] "+r"(x0), [x1] "+r"(x1), [u] "=&r"(u), [lo] "=&r"(lo), [hi] "=&r"(hi), [a] "=&r"(a),
                  [sh] "=&r"(sh)
                : [p] "r"(rq), [tc] "r"(tc)
                : "memory");
    } else {
        __asm__("ldr %[a], [%[p], #8]\n\t"
                "ldr %[sh], [%[p], #12]\n\t"
                LE_IMG_RQ1("x0", "add %[hi], %[hi], %[zp]\n\t") LE_IMG_RQ1("x1", "add %[hi], %[hi], %[zp]\n\t")
                : [x0] "+r"(x0), [x1] "+r"(x1), [u] "=&r"(u), [lo] "=&r"(lo), [hi] "=&r"(hi), [a] "=&r"(a),
                  [sh] "=&r"(sh)
                : [p] "r"(rq), [tc] "r"(tc), [zp] "r"(zp)
                : "memory");
    }
    *p0 = x0;
    *p1 = x1;
}
#undef LE_IMG_RQ1
#endif

#if !LE_SIMD
/* The 4 conv outputs of a pass through the requant of channel cr and the table tc (by code):
 * the asm of le_img_rq4_t2 when the channel has the fast integer constants (fast), else
 * le_requant32 per output. */
static LE_INLINE le_acc4_t le_img_t4(le_acc4_t a, int32_t zp, int wide, const int8_t *tc, const le_rq_t *rqp,
                                     int fast)
{
#if defined(LE_IMG_RQ_T2)
    if (fast) {
        return le_img_rq4_t2(a, rqp, tc, zp);
    }
#else
    (void)rqp;
    (void)fast;
#endif
    a.a0 = tc[le_requant32(a.a0, *rqp, zp, wide)];
    a.a1 = tc[le_requant32(a.a1, *rqp, zp, wide)];
    a.a2 = tc[le_requant32(a.a2, *rqp, zp, wide)];
    a.a3 = tc[le_requant32(a.a3, *rqp, zp, wide)];
    return a;
}
#endif

/* Thumb-2 without DSP (Cortex-M3), optimizing: the channel's 30 column-pair weights W_t live in
 * the scratch after the rows (30 int32, 4-byte aligned: the rows take 8 (k + 1) nb bytes), not in
 * the stack frame, so lenet5_predict's frame stays small (the painted stack peak was 544 B with
 * them on the stack, over the 512 B budget). Only where both their writer (le_img_wcols5) and
 * their reader (le_img_row4_pairs) are asm, so the int8_t arena is never read as int32_t by C. */
#if !LE_SIMD && defined(__GNUC__) && defined(__thumb2__) && defined(__OPTIMIZE__)
#define LE_IMG_W_SCRATCH 1
static LE_INLINE int32_t *le_img_wscratch(int16_t *rows, int nb, int k)
{
    return (int32_t *)(void *)(rows + nb * (k + 1) * 4);
}
#else
#define LE_IMG_W_SCRATCH 0
#endif

/* table[requant(acc) + 128]: one conv output through its requant and the table after it (tc: the
 * table at code 0; the tables are stored by code + 128, see kernels/ref/le_conv_subsample_u8.c) */
#define LE_IMG_T(acc) ((int32_t)tc[le_requant32((acc), cr, zp, wide)])

static LE_INLINE void le_conv_subsample_u8(const uint8_t *image, int img_h, int img_w, const int8_t *itable,
                                           int top, int left, int32_t pad_value, int8_t *scratch, int in_w, int k,
                                           const int8_t *w, const uint16_t *kstart, const int32_t *bias,
                                           const le_rq_t *rq, int32_t zp, int wide,
                                           const int8_t *table, const int8_t *sw, const int32_t *sbias,
                                           const le_rq_t *srq, int32_t szp, int swide, const int8_t *stable,
                                           int8_t *y, int out_c, int out_h, int out_w)
{
    const int bs = LE_IMG_BS(k);
    const int nb = (in_w + 3) / 4;
    int16_t *rows = le_img_rows(scratch); /* [nb][k + 1][4] int16 */
    const int8_t *const tc = table + 128, *const sc = stable + 128; /* the tables at code 0 */
    int oy;
#if LE_IMG_ROW_ASM
    /* the row block's parameters (le_img_rows_asm): the same for every output row but two */
    const int rows_asm = k == 5 && out_w >= 2;
    int32_t rp[LE_RP_N];
    if (rows_asm) {
        rp[LE_RP_OEND] = 4 * out_c;
        rp[LE_RP_BIAS] = (int32_t)(uintptr_t)bias;
        rp[LE_RP_RQ] = (int32_t)(uintptr_t)rq;
        rp[LE_RP_SRQ] = (int32_t)(uintptr_t)srq;
        rp[LE_RP_SBIAS] = (int32_t)(uintptr_t)sbias;
        rp[LE_RP_SW] = (int32_t)(uintptr_t)sw;
        rp[LE_RP_WC] = (int32_t)(uintptr_t)le_img_wcache(rows, nb, k);
        le_img_wcache5(w, kstart, out_c, le_img_wcache(rows, nb, k));
        rp[LE_RP_HW] = out_h * out_w;
        rp[LE_RP_WEVEN] = out_w & ~1;
        rp[LE_RP_ROWS] = (int32_t)(uintptr_t)rows;
        rp[LE_RP_TC] = (int32_t)(uintptr_t)tc;
        rp[LE_RP_SC] = (int32_t)(uintptr_t)sc;
        rp[LE_RP_ZP] = zp;
        rp[LE_RP_SZP] = szp;
    }
#else
    const int rows_asm = 0; /* read only on the M4 paths */
    (void)rows_asm;
#endif
#if LE_SSE2
    if (le_sse2_fits(k, out_w)) {
        le_conv_subsample_u8_sse2(image, img_h, img_w, itable, top, left, pad_value, k, w, kstart, bias,
                                  rq, zp, wide, table, sw, sbias, srq, szp, swide, stable, y, out_c, out_h, out_w);
        return;
    }
#endif
    for (oy = 0; oy < out_h; ++oy) {
        int r = 0;
        int o;
        if (oy > 0) { /* rows 2oy .. 2oy + k - 2 were rows 2 .. k of the previous output row */
            int16_t *blk = rows;
            int j, nb_done = 0;
#if defined(__GNUC__) && defined(__thumb2__)
            if (k == 5) { /* per block 32 bytes move down by 16: two LDM + STM of 4 words (Cortex-M4
                           * TRM: 1 + 4 cycles each, the second LDM one more after a store; 21 cycles
                           * where 4 LDRD + 4 STRD take 27). [16, 32) goes first: its old bytes are
                           * read before [0, 16) is written, and [32, 48) is not written at all. */
                for (j = 0; j < nb; ++j) {
                    register int32_t v0 __asm__("r0"); /* LDM/STM lists ascend: fixed registers */
                    register int32_t v1 __asm__("r1");
                    register int32_t v2 __asm__("r2");
                    register int32_t v3 __asm__("r3");
                    const int16_t *src = blk + 8;
                    int16_t *dst = blk;
                    __asm__ __volatile__("ldmia %[s]!, {%[v0], %[v1], %[v2], %[v3]}\n\t"
                                         "stmia %[d]!, {%[v0], %[v1], %[v2], %[v3]}\n\t"
                                         "ldmia %[s]!, {%[v0], %[v1], %[v2], %[v3]}\n\t"
                                         "stmia %[d]!, {%[v0], %[v1], %[v2], %[v3]}"
                                         : [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2), [v3] "=&r"(v3),
                                           [s] "+r"(src), [d] "+r"(dst)
                                         :
                                         : "memory");
                    blk += bs;
                }
                nb_done = nb;
            }
#endif
            for (j = nb_done; j < nb; ++j) { /* per block: (k - 1) * 4 int16 move down by 8 (two rows) */
                int i;
                for (i = 0; i < 2 * (k - 1); i += 2) { /* words, two per step (dst < src) */
                    int32_t v[2];
                    memcpy(v, blk + 8 + 2 * i, sizeof v);
#if defined(__GNUC__)
                    __asm__("" : "+r"(v[0]), "+r"(v[1])); /* keeps gcc from making it a memmove call */
#endif
                    memcpy(blk + 2 * i, v, sizeof v);
                }
                blk += bs;
            }
            r = k - 1;
        }
        for (; r <= k; ++r) {
            le_image_row16(image, img_h, img_w, itable, top, left, pad_value, in_w, 2 * oy + r, rows, bs, r);
        }
#if LE_IMG_ROW_ASM
        if (rows_asm) { /* the output pairs of every channel in one asm block */
            rp[LE_RP_O4] = 0;
            rp[LE_RP_YROW] = (int32_t)(uintptr_t)(y + oy * out_w);
            le_img_rows_asm(rp, zp != 0 || szp != 0);
        }
#endif
        for (o = 0; o < out_c; ++o) {
            /* one input channel: channel o has one kernel, or none (all its weights were 0) */
            const int has = kstart[o + 1] != kstart[o];
            const int8_t *wp = w + kstart[o] * k * k;
            const int32_t b = bias[o];
            const le_rq_t cr = rq[o], sr = srq[o];
            const int32_t sw0 = sw[4 * o], sw1 = sw[4 * o + 1], sw2 = sw[4 * o + 2], sw3 = sw[4 * o + 3];
            const int32_t sb = sbias[o];
            int8_t *yo = y + (o * out_h + oy) * out_w;
            int ox = 0;
            if (k == 5) { /* two subsampled outputs at a time: conv columns c = 2ox .. 2ox + 3 */
#if LE_SIMD
                const int32_t sw01 = le_pkh_lo_lo(sw0, sw1), sw23 = le_pkh_lo_lo(sw2, sw3);
#if defined(LE_REQUANT_VCVTR)
                float cm, sm; /* the two multipliers M (float32 bit patterns in the le_rq_t) */
                memcpy(&cm, &cr, sizeof cm);
                memcpy(&sm, &sr, sizeof sm);
#endif
                int32_t wpairs[31]; /* [5][6] int16 pairs of channel o, then its bias */
                const int32_t *wq = wpairs;
                if (rows_asm) {
                    /* nothing here: the row block did this channel's pairs */
                } else if (has) {
                    le_img_wpairs5(wp, wpairs);
                } else {
                    memset(wpairs, 0, 30 * sizeof wpairs[0]);
                }
                wpairs[30] = b;
#else
#if defined(LE_IMG_RQ_T2)
                const int fast = rq[o].a != 0 && srq[o].a != 0;
#else
                const int fast = 0;
#endif
#if LE_IMG_W_SCRATCH
                int32_t *const wcols = le_img_wscratch(rows, nb, k); /* in the scratch, not the stack */
#else
                int32_t wcols[30]; /* [5][6] column-pair weights W_t of channel o */
#endif
                const int32_t *wq = wcols;
                if (has) {
                    le_img_wcols5(wp, wcols);
                } else {
                    memset(wcols, 0, 30 * sizeof wcols[0]);
                }
#endif
#if LE_SIMD && defined(LE_REQUANT_VCVTR)
                const int16_t *xq = rows; /* row 0, column 2ox: one block per pair of outputs */
                int8_t *yp = yo;
                int8_t *const yend = yo + (out_w & ~1);
                if (rows_asm) { /* done by le_img_rows_asm */
                    yp = yend;
                }
                for (; yp != yend; yp += 2, xq += bs) {
                    const int16_t *xp = xq;
                    int32_t s0 = sb, s1 = sb; /* subsampling sums of outputs ox, ox + 1 */
                    int32_t swp = sw01;
                    int dy;
                    for (dy = 0; dy < 2; ++dy) { /* conv rows 2oy, 2oy + 1 */
                        le_acc4_t a = le_img_vcvtr4(le_img_row4(xp, bs, wp, wq, b), cm);
                        /* (t0, t1) . (sw0, sw1), then (sw2, sw3): one SMLAD each, |t|, |sw| <= 128 */
                        s0 = le_smlad(le_pkh_lo_lo(tc[le_img_sat8(a.a0, zp)], tc[le_img_sat8(a.a1, zp)]), swp, s0);
                        s1 = le_smlad(le_pkh_lo_lo(tc[le_img_sat8(a.a2, zp)], tc[le_img_sat8(a.a3, zp)]), swp, s1);
                        xp += 4; /* row 1 */
                        swp = sw23;
                    }
                    le_img_vcvtr2(&s0, &s1, sm);
                    yp[0] = sc[le_img_sat8(s0, szp)];
                    yp[1] = sc[le_img_sat8(s1, szp)];
                }
                ox = out_w & ~1;
#endif
#if !LE_SIMD
                { /* portable: the two passes of a pair written out (code is not scarce on the M3) */
                    const int16_t *xq = rows; /* row 0, column 2ox: one block per pair of outputs */
                    int8_t *yp = yo;
                    int8_t *const yend = yo + (out_w & ~1);
                    for (; yp != yend; yp += 2, xq += bs) {
                        /* the subsampling weights and bias are read from flash here, not held:
                         * held, gcc spills them (the stack peak is at its limit on the M3) */
                        const int8_t *swo = sw + 4 * o;
                        int32_t s0, s1; /* subsampling sums of the two outputs */
                        le_acc4_t a = le_img_t4(le_img_row4_pairs(xq, bs, wq, b), zp, wide, tc, &rq[o], fast);
                        s0 = sb + a.a0 * swo[0]; /* one multiply-accumulate each */
                        s0 += a.a1 * swo[1];
                        s1 = sb + a.a2 * swo[0];
                        s1 += a.a3 * swo[1];
                        a = le_img_t4(le_img_row4_pairs(xq + 4, bs, wq, b), zp, wide, tc, &rq[o], fast);
                        s0 += a.a0 * swo[2];
                        s0 += a.a1 * swo[3];
                        s1 += a.a2 * swo[2];
                        s1 += a.a3 * swo[3];
#if defined(LE_IMG_RQ_T2)
                        if (fast) {
                            le_img_rq2_t2(&s0, &s1, &srq[o], sc, szp);
                            yp[0] = (int8_t)s0;
                            yp[1] = (int8_t)s1;
                            continue;
                        }
#endif
                        yp[0] = sc[le_requant32(s0, srq[o], szp, swide)];
                        yp[1] = sc[le_requant32(s1, srq[o], szp, swide)];
                    }
                    ox = out_w & ~1;
                }
#endif
                /* the other paths: M4 with the integer requant */
                for (; ox + 2 <= out_w; ox += 2) {
                    const int16_t *xp = rows + (ox >> 1) * bs; /* row 0, column 2ox (ox even) */
                    int32_t s0 = sb, s1 = sb; /* subsampling sums of outputs ox, ox + 1 */
#if LE_SIMD
                    int32_t swp = sw01;
#else
                    int32_t swa = sw0, swb = sw1;
#endif
                    int dy;
                    for (dy = 0; dy < 2; ++dy) { /* conv rows 2oy, 2oy + 1 */
                        le_acc4_t a;
                        a = le_img_row4(xp, bs, wp, wq, b);
#if LE_SIMD
                        { /* (t0, t1) . (sw0, sw1), then (sw2, sw3): one SMLAD each, |t|, |sw| <= 128 */
                            s0 = le_smlad(le_pkh_lo_lo(LE_IMG_T(a.a0), LE_IMG_T(a.a1)), swp, s0);
                            s1 = le_smlad(le_pkh_lo_lo(LE_IMG_T(a.a2), LE_IMG_T(a.a3)), swp, s1);
                        }
#else
#if defined(LE_IMG_RQ_T2)
                        if (fast) { /* both requants of the channel have the fast constants */
                            a = le_img_rq4_t2(a, &rq[o], tc, zp);
                            s0 += a.a0 * swa; /* one multiply-accumulate each */
                            s0 += a.a1 * swb;
                            s1 += a.a2 * swa;
                            s1 += a.a3 * swb;
                        } else
#endif
                        {
                            s0 += LE_IMG_T(a.a0) * swa; /* one multiply-accumulate each */
                            s0 += LE_IMG_T(a.a1) * swb;
                            s1 += LE_IMG_T(a.a2) * swa;
                            s1 += LE_IMG_T(a.a3) * swb;
                        }
#endif
                        xp += 4; /* row 1 */
#if LE_SIMD
                        swp = sw23;
#else
                        swa = sw2;
                        swb = sw3;
#endif
                    }
#if defined(LE_IMG_RQ_T2)
                    if (fast) {
                        le_img_rq2_t2(&s0, &s1, &srq[o], sc, szp);
                        yo[ox] = (int8_t)s0;
                        yo[ox + 1] = (int8_t)s1;
                        continue;
                    }
#endif
                    yo[ox] = sc[le_requant32(s0, sr, szp, swide)];
                    yo[ox + 1] = sc[le_requant32(s1, sr, szp, swide)];
                }
            }
            if (k != 5 || (out_w & 1)) { /* k != 5, or an odd out_w's last output */
                for (; ox < out_w; ++ox) {
                    le_acc4_t a;
                    int32_t s = sb;
                    if (has) {
                        a = le_img_window(rows, bs, k, wp, b, ox);
                    } else { /* no kernel: the conv output is the bias alone */
                        a.a0 = a.a1 = a.a2 = a.a3 = b;
                    }
                    s += LE_IMG_T(a.a0) * sw0 + LE_IMG_T(a.a1) * sw1 + LE_IMG_T(a.a2) * sw2 + LE_IMG_T(a.a3) * sw3;
                    yo[ox] = sc[le_requant32(s, sr, szp, swide)];
                }
            }
        }
    }
}

#undef LE_IMG_T
#undef LE_IMG_FENCE
