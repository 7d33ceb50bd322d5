/* le_rbf_bits_s8: the paper's RBF head with centres +-a stored as bits (arguments as in
 * kernels/ref/le_rbf_bits_s8.c). Expanded exactly in int32:
 *   sum_j (x_j - p_j)^2 = sum_j x_j^2 + n a^2 - 2a sum_j s_j x_j,  s_j = +1 (bit set) or -1,
 *   sum_j s_j x_j = 2 * (sum over set bits of x_j) - sum_j x_j,
 * so per class only the x_j under set bits are added. Every partial sum stays below
 * n * (128 + a)^2 < 2^31 (checked at generation time), so the reordering is exact.
 *
 * The sum over set bits takes 4 inputs at a time, one nibble of the bit row: the nibble selects a
 * byte mask (le_nibble_mask), and m = (x[4g..4g+3] & mask) ^ 0x80808080 has the bytes x_j + 128
 * under set bits and 128 elsewhere, all in [0, 255]: so the sum of its 4 unsigned bytes is
 * (sum over set bits of x_j) + 512. Cortex-M4 adds the 4 bytes with one USADA8; elsewhere two
 * 16-bit lanes of a word add them (m & 0x00FF00FF, (m >> 8) & 0x00FF00FF: at most 510 per lane per
 * group, so 128 groups fit a lane before it is folded into the int32 sum). */
#include "le_common.h"

#if defined(__GNUC__) && defined(__ARM_FEATURE_SIMD32) && !defined(__ARM_BIG_ENDIAN)
#define LE_RBF_USADA8 1
#else
#define LE_RBF_USADA8 0
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE_RBF_WORDS 0 /* le_nibble_mask assumes little-endian words: bit by bit instead */
#else
#define LE_RBF_WORDS 1
#endif

/* The byte mask of a nibble: byte i is 0xFF where bit i is set (little-endian: byte i of the word is
 * x[4g + i]). A 64-byte table: one load (which pipelines after the load of x) where computing it
 * took five instructions ((nib * 0x00204081) & 0x01010101) * 255. */
static const uint32_t le_nibble_masks[16] = {
    0x00000000u, 0x000000FFu, 0x0000FF00u, 0x0000FFFFu,
    0x00FF0000u, 0x00FF00FFu, 0x00FFFF00u, 0x00FFFFFFu,
    0xFF000000u, 0xFF0000FFu, 0xFF00FF00u, 0xFF00FFFFu,
    0xFFFF0000u, 0xFFFF00FFu, 0xFFFFFF00u, 0xFFFFFFFFu
};

static LE_INLINE uint32_t le_nibble_mask(uint32_t nib)
{
    return le_nibble_masks[nib];
}

/* The 4 bytes of (x[0..3] & mask(nib)) ^ 0x80808080 added to sum: (sum over set bits of x_j) + 512
 * (USADA8), or to its two 16-bit lanes (at most 510 each). */
static LE_INLINE uint32_t le_rbf_group(uint32_t sum, const int8_t *x, uint32_t nib)
{
    uint32_t m;
    memcpy(&m, x, 4);
    m = (m & le_nibble_mask(nib)) ^ 0x80808080u;
#if LE_RBF_USADA8
    __asm__("usada8 %0, %1, %2, %0" : "+r"(sum) : "r"(m), "r"(0));
    return sum;
#else
    return sum + (m & 0x00FF00FFu) + ((m >> 8) & 0x00FF00FFu);
#endif
}

/* The int32 total of a le_rbf_group sum (the two lanes added). */
static LE_INLINE int32_t le_rbf_fold(uint32_t sum)
{
#if !LE_RBF_USADA8
    sum = (sum & 0xFFFFu) + (sum >> 16);
#endif
    return (int32_t)sum;
}

/* sum over the set bits j < 8 * bytes (at most 64 bytes: 128 groups fit the 16-bit lanes) of x_j,
 * plus 512 per group of 4; b: the bit row's bytes, x: its inputs. */
static LE_INLINE int32_t le_rbf_bytes(const int8_t *x, const uint8_t *b, int bytes)
{
    uint32_t sum = 0;
    int k;
    for (k = 0; k < bytes; ++k) {
        const uint32_t bits8 = b[k];
        sum = le_rbf_group(sum, x + 8 * k, bits8 & 15u);
        sum = le_rbf_group(sum, x + 8 * k + 4, bits8 >> 4);
    }
    return le_rbf_fold(sum);
}

static void le_rbf_bits_s8(const int8_t *x, int n, const uint8_t *bits, int32_t a, int classes,
                           int32_t *scores)
{
    const int row = (n + 7) / 8;
    const int groups = LE_RBF_WORDS ? n / 4 : 0; /* whole nibbles of a bit row */
    int32_t sum_x = 0;
    int32_t sum_x2 = 0;
    int c;
    int j;
    for (j = 0; j < n; ++j) {
        sum_x += x[j];
        sum_x2 += (int32_t)x[j] * x[j];
    }
    for (c = 0; c < classes; ++c) {
        const uint8_t *b = bits + c * row;
        int32_t set = -512 * groups; /* sum of x_j where bit j is set */
        int k;
        for (k = 0; k < groups / 2; k += 64) { /* whole bytes, 64 at a time */
            set += le_rbf_bytes(x + 8 * k, b + k, groups / 2 - k < 64 ? groups / 2 - k : 64);
        }
        if (groups % 2) { /* a last low nibble */
            set += le_rbf_fold(le_rbf_group(0, x + 4 * groups - 4, b[groups / 2] & 15u));
        }
        for (j = 4 * groups; j < n; ++j) {
            if ((b[j >> 3] >> (j & 7)) & 1) {
                set += x[j];
            }
        }
        scores[c] = sum_x2 + n * a * a - 2 * a * (2 * set - sum_x);
    }
}
