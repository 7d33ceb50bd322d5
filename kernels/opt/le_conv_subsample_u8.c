/* le_conv_subsample_u8: le_conv_subsample_s8 reading the caller's uint8 image directly (arguments
 * as in kernels/ref/le_conv_subsample_u8.c). For each subsampled output row oy, the k + 1 conv
 * input rows 2oy .. 2oy + k of the padded, quantized image are kept in `rows` (scratch in the
 * arena, (k + 1) * in_w bytes): k - 1 of them move up from the previous output row, two are
 * translated through the input table. Then every channel runs the same row loop as
 * le_conv_subsample_s8. */
#include "le_conv_subsample_row.h"

/* padded row r of the quantized image into dst[in_w] */
static void le_image_row(const uint8_t *image, int img_h, int img_w, const int8_t *itable, int top,
                         int left, int8_t pad_value, int in_w, int r, int8_t *dst)
{
    const int ir = r - top;
    int c;
    if (ir < 0 || ir >= img_h) {
        memset(dst, pad_value, (size_t)in_w);
        return;
    }
    image += ir * img_w;
    memset(dst, pad_value, (size_t)left);
    for (c = 0; c < img_w; ++c) {
        dst[left + c] = itable[image[c]];
    }
    memset(dst + left + img_w, pad_value, (size_t)(in_w - left - img_w));
}

static LE_INLINE void le_conv_subsample_u8(const uint8_t *image, int img_h, int img_w, const int8_t *itable,
                                           int top, int left, int32_t pad_value, int8_t *rows, int in_w, int k,
                                           const int8_t *w, const uint16_t *kstart, const uint16_t *in_off,
                                           const int32_t *bias, const le_rq_t *rq, int32_t zp, int wide,
                                           const int8_t *table, const int8_t *sw, const int32_t *sbias,
                                           const le_rq_t *srq, int32_t szp, int swide, const int8_t *stable,
                                           int8_t *y, int out_c, int out_h, int out_w)
{
    int oy;
    for (oy = 0; oy < out_h; ++oy) {
        int r = 0;
        int o;
        if (oy > 0) { /* rows 2oy .. 2oy + k - 2 were rows 2 .. k of the previous output row */
            const int n = (k - 1) * in_w;
            int i;
            for (i = 0; i + 4 <= n; i += 4) { /* forward word copy (dst < src) */
                int32_t v;
                memcpy(&v, rows + 2 * in_w + i, sizeof v);
#if defined(__GNUC__)
                __asm__("" : "+r"(v)); /* keeps gcc from turning the loop into a memmove call */
#endif
                memcpy(rows + i, &v, sizeof v);
            }
            for (; i < n; ++i) {
                rows[i] = rows[2 * in_w + i];
            }
            r = k - 1;
        }
        for (; r <= k; ++r) {
            le_image_row(image, img_h, img_w, itable, top, left, (int8_t)pad_value, in_w, 2 * oy + r,
                         rows + r * in_w);
        }
        for (o = 0; o < out_c; ++o) {
            le_conv_subsample_row(rows, in_w, k, w, kstart[o], kstart[o + 1], in_off, bias[o], rq[o], zp, wide,
                                  table, sw + 4 * o, sbias[o], srq[o], szp, swide, stable,
                                  y + (o * out_h + oy) * out_w, out_w);
        }
    }
}
