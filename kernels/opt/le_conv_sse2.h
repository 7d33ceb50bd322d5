/* le_conv_sse2.h (kernels/opt): the conv under a row of 2x2/2 windows on x86 with SSE2 (the x86-64
 * baseline: every x86-64 build takes it; never compiled for Arm). Used by le_conv_subsample_s8,
 * le_conv_subsample_u8 and le_conv_maxpool_s8 for k <= LE_SSE2_MAXK and 2 out_w <= 4 LE_SSE2_MAXG conv columns.
 *
 * Per output channel and output row oy: the two conv rows 2oy (top) and 2oy + 1 (bottom), columns
 * 0 .. 2 out_w - 1, in int32 lanes, 4 columns per vector (group g: columns 4g .. 4g + 3).
 * PMADDWD multiplies 8 int16 pairs and adds each pair into one int32 lane; here a pair is two
 * input ROWS at one column, times two kernel rows at one tap column kx:
 *   Q_i[c]   = (x[i][c], x[i + 1][c])          int16 pair, input rows i, i + 1 of the window
 *   W_p[kx]  = (w[2p][kx], w[2p + 1][kx])      int16 pair, w[k][*] = 0 (k odd)
 *   top[c]  += sum_p sum_kx Q_{2p}[c + kx] . W_p[kx]       (conv row 2oy: input rows 0 .. k - 1)
 *   bottom[c] += sum_p sum_kx Q_{2p+1}[c + kx] . W_p[kx]   (conv row 2oy + 1: rows 1 .. k)
 * so the lanes of one group read Q_i[4g + kx .. 4g + kx + 3]: one unaligned load, no shuffle.
 * Exact: each product |x w| <= 2^14, a pair <= 2^15, and the int32 lanes add exactly the terms the
 * ref kernel adds (its sums fit int32, checked at generation time; PADDD wraps like 2's-complement
 * int32, so the order does not matter): bit-identical with the portable and Arm paths.
 * -DLE_NO_SSE2 takes the portable path instead. */
#ifndef LE_CONV_SSE2_H
#define LE_CONV_SSE2_H

#include "le_conv_core.h"
#include "le_conv_subsample_row.h"

#if defined(__SSE2__) && !defined(LE_NO_SSE2)
#define LE_SSE2 1
#include <emmintrin.h>

#define LE_SSE2_MAXK 5                                   /* kernel size k <= 5 */
#define LE_SSE2_MAXG 8                                   /* conv columns <= 32 (modern C1: 28) */
#define LE_SSE2_QW (4 * LE_SSE2_MAXG + 8)                /* a Q row: >= 4 ng + k - 1 columns, 8 | QW */
#define LE_SSE2_MAXP ((LE_SSE2_MAXK + 1) / 2)            /* row pairs per conv row */
#define LE_SSE2_MAXH 5                                   /* output rows per band (LeNet's 5x5 maps) */

/* Whether le_conv_band_sse2 takes this layer (k and out_w are literal constants at each call). */
#define le_sse2_fits(k, out_w) \
    ((k) >= 1 && (k) <= LE_SSE2_MAXK && (out_w) >= 1 && 2 * (out_w) <= 4 * LE_SSE2_MAXG)

/* 8 int8 at p as 8 int16 (sign-extended: each byte doubled into a 16-bit lane, shifted down). */
static LE_INLINE LE_UNUSED __m128i le_sse2_s16x8(const int8_t *p)
{
    const __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)p);
    return _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8);
}

/* One tap column: *t (top) += Q_0 W_0 + Q_2 W_1 + Q_4 W_2, *u (bottom) += Q_1 W_0 + Q_3 W_1 +
 * Q_5 W_2, where Q_i = qc[i QW .. i QW + 3] (4 columns) and W_p = wk[p]. */
static LE_INLINE LE_UNUSED void le_sse2_tap(const int32_t *qc, const __m128i *wk, __m128i *t, __m128i *u)
{
#define LE_SSE2_Q(i) _mm_loadu_si128((const __m128i *)(const void *)(qc + (i) * LE_SSE2_QW))
    __m128i a = *t, d = *u;
    a = _mm_add_epi32(a, _mm_madd_epi16(LE_SSE2_Q(0), wk[0]));
    d = _mm_add_epi32(d, _mm_madd_epi16(LE_SSE2_Q(1), wk[0]));
    a = _mm_add_epi32(a, _mm_madd_epi16(LE_SSE2_Q(2), wk[1]));
    d = _mm_add_epi32(d, _mm_madd_epi16(LE_SSE2_Q(3), wk[1]));
    a = _mm_add_epi32(a, _mm_madd_epi16(LE_SSE2_Q(4), wk[2]));
    d = _mm_add_epi32(d, _mm_madd_epi16(LE_SSE2_Q(5), wk[2]));
#undef LE_SSE2_Q
    *t = a;
    *u = d;
}

/* Q row pairs of one input map for a band of nb <= LE_SSE2_MAXH output rows (out_w outputs per
 * row): Q_r[cx] = (x[r][cx], x[r + 1][cx]) as int16 pairs in q[r][cx] (low half: row r, high:
 * r + 1) for r < 2 (nb - 1) + 2 LE_SSE2_MAXP and cx < 8 ceil((4 ng + k - 1) / 8); the rows past
 * the conv's last input row (2 nb + k - 1 of them, from xp, rows in_w apart) are zero. */
typedef int32_t le_sse2_q_t[2 * LE_SSE2_MAXH + 4][LE_SSE2_QW];

static LE_INLINE LE_UNUSED void le_sse2_band_q(const int8_t *xp, int in_w, int k, int nb, int out_w,
                                               le_sse2_q_t q)
{
    const int nc = 2 * out_w;                 /* conv columns */
    const int ng = (nc + 3) / 4;              /* column groups of 4 lanes */
    const int nx = nc + k - 1;                /* input columns read, all < in_w */
    const int nh = (4 * ng + k - 1 + 7) / 8;  /* Q row chunks of 8 columns */
    const int nr = 2 * nb + k - 1;            /* input rows read */
    const int nq = 2 * (nb - 1) + 2 * LE_SSE2_MAXP; /* Q rows used: Q_{2 oy + i}, i < 6 */
    int8_t row[LE_SSE2_QW];                   /* one input row, zero-padded */
    __m128i s0[(LE_SSE2_QW + 7) / 8], s1[(LE_SSE2_QW + 7) / 8]; /* rows r, r + 1 as int16 */
    int r, h;
    memset(row, 0, sizeof row);
    memcpy(row, xp, (size_t)nx);
    for (h = 0; h < nh; ++h) {
        s0[h] = le_sse2_s16x8(row + 8 * h);
    }
    for (r = 0; r < nq; ++r) {
        if (r + 1 < nr) {
            memcpy(row, xp + (r + 1) * in_w, (size_t)nx);
        } else if (r + 1 == nr) {
            memset(row, 0, sizeof row);
        }
        for (h = 0; h < nh; ++h) {
            s1[h] = le_sse2_s16x8(row + 8 * h);
            _mm_storeu_si128((__m128i *)(void *)(q[r] + 8 * h), _mm_unpacklo_epi16(s0[h], s1[h]));
            _mm_storeu_si128((__m128i *)(void *)(q[r] + 8 * h + 4), _mm_unpackhi_epi16(s0[h], s1[h]));
            s0[h] = s1[h];
        }
    }
}

/* c (as in le_conv_band_sse2) += one k x k kernel wp [k][k] over the band's Q rows q
 * (le_sse2_band_q of its input map). Its weight pairs are built once; then always LE_SSE2_MAXP = 3
 * row pairs per conv row (kernel rows >= k are zero), so the inner loop is straight-line code: per
 * tap column kx and 4 columns, 6 x (MOVDQU, PMADDWD, PADDD) for 48 MACs. */
static LE_INLINE LE_UNUSED void le_sse2_band_acc(le_sse2_q_t q, const int8_t *wp, int k, int nb, int out_w,
                                                 int32_t c[LE_SSE2_MAXH][2][4 * LE_SSE2_MAXG])
{
    const int ng = (2 * out_w + 3) / 4;       /* column groups of 4 lanes */
    int8_t wk[LE_SSE2_MAXK * LE_SSE2_MAXK + 16]; /* the kernel [k][k], then zeros (rows >= k) */
    __m128i wv[5][LE_SSE2_MAXP]; /* W_p[kx] in all lanes, kx < 5 (kx >= k unused) */
    int oy, g, kx, p;
    /* kernel rows 2p, 2p + 1 as int16 (8 columns, kx < k real) -> int32 lanes (w[2p][kx],
     * w[2p + 1][kx]): kx 0..3 in lo, kx 4 in lane 0 of hi; each lane broadcast */
    memset(wk, 0, sizeof wk);
    memcpy(wk, wp, (size_t)(k * k));
    for (p = 0; p < LE_SSE2_MAXP; ++p) {
        const __m128i a = le_sse2_s16x8(wk + 2 * p * k);
        const __m128i d = le_sse2_s16x8(wk + (2 * p + 1) * k);
        const __m128i lo = _mm_unpacklo_epi16(a, d);
        wv[0][p] = _mm_shuffle_epi32(lo, 0x00);
        wv[1][p] = _mm_shuffle_epi32(lo, 0x55);
        wv[2][p] = _mm_shuffle_epi32(lo, 0xAA);
        wv[3][p] = _mm_shuffle_epi32(lo, 0xFF);
        wv[4][p] = _mm_shuffle_epi32(_mm_unpackhi_epi16(a, d), 0x00);
    }
    for (oy = 0; oy < nb; ++oy) {
        for (g = 0; g < ng; ++g) {
            const int32_t *qg = q[2 * oy] + 4 * g; /* Q_{2 oy} at column 4g */
            __m128i *tp = (__m128i *)(void *)(c[oy][0] + 4 * g);
            __m128i *up = (__m128i *)(void *)(c[oy][1] + 4 * g);
            __m128i t = _mm_loadu_si128(tp), u = _mm_loadu_si128(up);
            for (kx = 0; kx < k; ++kx) {
                le_sse2_tap(qg + kx, wv[kx], &t, &u);
            }
            _mm_storeu_si128(tp, t);
            _mm_storeu_si128(up, u);
        }
    }
}

/* c[oy][dy][cx] = b for the band's conv rows (the lanes le_sse2_band_acc adds to) */
static LE_INLINE LE_UNUSED void le_sse2_band_bias(int32_t b, int nb, int out_w,
                                                  int32_t c[LE_SSE2_MAXH][2][4 * LE_SSE2_MAXG])
{
    const int ng = (2 * out_w + 3) / 4;
    int oy, g;
    for (oy = 0; oy < nb; ++oy) {
        for (g = 0; g < ng; ++g) {
            _mm_storeu_si128((__m128i *)(void *)(c[oy][0] + 4 * g), _mm_set1_epi32(b));
            _mm_storeu_si128((__m128i *)(void *)(c[oy][1] + 4 * g), _mm_set1_epi32(b));
        }
    }
}

/* The conv rows under a band of nb <= LE_SSE2_MAXH output rows oy0 .. oy0 + nb - 1 of one output
 * channel, over the stored kernels j0 .. j1 - 1, with bias b: c[oy - oy0][0][cx] (conv row 2oy)
 * and c[oy - oy0][1][cx] (2oy + 1) for cx < 2 out_w (the lanes up to 4 ng - 1 are ignored).
 * xrow: input map 0 at row 2 oy0; in_off[j]: kernel j's input map. Per kernel: its input rows
 * are paired into Q once for the whole band (le_sse2_band_q), then le_sse2_band_acc.
 * Stack: about 2.8 KB here, 1.3 KB for c at the caller (host only). */
static LE_INLINE LE_UNUSED void le_conv_band_sse2(const int8_t *xrow, int in_w, int k, const int8_t *w, int j0,
                                                  int j1, const uint16_t *in_off, int32_t b, int nb, int out_w,
                                                  int32_t c[LE_SSE2_MAXH][2][4 * LE_SSE2_MAXG])
{
    le_sse2_q_t q; /* Q_r[cx] as int32 (low half: row r, high: r + 1) */
    int j;
    le_sse2_band_bias(b, nb, out_w, c);
    for (j = j0; j < j1; ++j) {
        le_sse2_band_q(xrow + in_off[j], in_w, k, nb, out_w, q);
        le_sse2_band_acc(q, w + j * k * k, k, nb, out_w, c);
    }
}

/* The four conv accumulators under the 2x2 window of subsampled output (oy, ox) of a band, from
 * le_conv_band_sse2's c: a0 = (2oy, 2ox), a1 = (2oy, 2ox + 1), a2 = (2oy + 1, 2ox), a3 = (2oy + 1,
 * 2ox + 1) in conv coordinates (the order of le_conv_window2x2). */
static LE_INLINE LE_UNUSED le_acc4_t le_band_window(int32_t c[LE_SSE2_MAXH][2][4 * LE_SSE2_MAXG], int oy, int ox)
{
    le_acc4_t a;
    a.a0 = c[oy][0][2 * ox];
    a.a1 = c[oy][0][2 * ox + 1];
    a.a2 = c[oy][1][2 * ox];
    a.a3 = c[oy][1][2 * ox + 1];
    return a;
}

/* One output channel's band of nb <= LE_SSE2_MAXH subsampled output rows: the conv rows from
 * le_conv_band_sse2 (arguments as there), then each 2x2 window through le_subsample_out (requant,
 * table, the 4 subsampling weights swo[0..3], bias sb, requant, table). y: the band's first output
 * row; rows are out_w apart. */
static LE_INLINE LE_UNUSED void le_subsample_band_sse2(const int8_t *xrow, int in_w, int k, const int8_t *w,
                                                       int j0, int j1, const uint16_t *in_off, int32_t b,
                                                       int nb, int out_w, le_rq_t r, int32_t zp, int wide,
                                                       const int8_t *table, const int8_t *swo, int32_t sb,
                                                       le_rq_t sr, int32_t szp, int swide,
                                                       const int8_t *stable, int8_t *y)
{
    const int32_t sw0 = swo[0], sw1 = swo[1], sw2 = swo[2], sw3 = swo[3];
    int32_t c[LE_SSE2_MAXH][2][4 * LE_SSE2_MAXG]; /* conv rows 2oy, 2oy + 1 of the band */
    int oy;
    le_conv_band_sse2(xrow, in_w, k, w, j0, j1, in_off, b, nb, out_w, c);
    for (oy = 0; oy < nb; ++oy) {
        int ox;
        for (ox = 0; ox < out_w; ++ox) {
            y[oy * out_w + ox] = le_subsample_out(le_band_window(c, oy, ox), r, zp, wide, table, sw0, sw1, sw2, sw3,
                                                  sb, sr, szp, swide, stable);
        }
    }
}
#else
#define LE_SSE2 0
#endif

#endif /* LE_CONV_SSE2_H */
