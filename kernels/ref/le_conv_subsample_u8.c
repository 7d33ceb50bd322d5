/* le_conv_subsample_u8: le_conv_subsample_s8 reading the caller's uint8 image directly: the input
 * table and the constant padding (ONNX Cast -> Gather -> Pad) are applied as the conv reads, so
 * neither the quantized nor the padded image is stored.
 *   image     [img_h][img_w] uint8, raw pixels
 *   itable    [256] int8, the input quantization
 *   top, left padding before the image; the conv input is [1][in_h][in_w] with
 *             X[r][c] = itable[image[r - top][c - left]] inside the image, pad_value (an int8
 *             code) outside it
 *   rows      scratch [(k + 1) * in_w] int8 in the arena (the optimized set's row buffer)
 *   table, stable [256] int8 as in le_conv_subsample_s8, but stored in the order of the int8 code:
 *             the entry of code q is at q + 128 (not at the raw byte (uint8_t)q)
 *   the rest  as le_conv_subsample_s8 with one input channel (so no in_off list: every kernel reads
 *             input offset 0) */
#include "le_requant.h"

/* X[r][c] of the padded, quantized image */
static int32_t le_image_at(const uint8_t *image, int img_h, int img_w, const int8_t *itable, int top,
                           int left, int32_t pad_value, int r, int c)
{
    const int ir = r - top;
    const int ic = c - left;
    if (ir < 0 || ir >= img_h || ic < 0 || ic >= img_w) {
        return pad_value;
    }
    return itable[image[ir * img_w + ic]];
}

static void le_conv_subsample_u8(const uint8_t *image, int img_h, int img_w, const int8_t *itable, int top,
                                 int left, int32_t pad_value, int8_t *rows, int in_w, int k, const int8_t *w,
                                 const uint16_t *kstart, const int32_t *bias,
                                 const le_rq_t *rq, int32_t zp, int wide, const int8_t *table,
                                 const int8_t *sw, const int32_t *sbias, const le_rq_t *srq, int32_t szp,
                                 int swide, const int8_t *stable, int8_t *y, int out_c, int out_h,
                                 int out_w)
{
    int o;
    (void)rows;
    (void)in_w;
    for (o = 0; o < out_c; ++o) {
        int oy;
        for (oy = 0; oy < out_h; ++oy) {
            int ox;
            for (ox = 0; ox < out_w; ++ox) {
                int32_t sacc = sbias[o];
                int dy;
                for (dy = 0; dy < 2; ++dy) {
                    int dx;
                    for (dx = 0; dx < 2; ++dx) {
                        const int cy = 2 * oy + dy; /* conv output pixel */
                        const int cx = 2 * ox + dx;
                        int32_t acc = bias[o];
                        int8_t a;
                        int j;
                        for (j = kstart[o]; j < kstart[o + 1]; ++j) {
                            const int8_t *wj = w + j * k * k; /* [k][k] */
                            int ky;
                            for (ky = 0; ky < k; ++ky) {
                                int kx;
                                for (kx = 0; kx < k; ++kx) {
                                    const int32_t xv = le_image_at(image, img_h, img_w, itable, top, left,
                                                                   pad_value, cy + ky, cx + kx);
                                    acc += xv * (int32_t)wj[ky * k + kx];
                                }
                            }
                        }
                        a = table[le_requant(acc, rq[o], zp, wide) + 128];
                        sacc += (int32_t)a * (int32_t)sw[(o * 2 + dy) * 2 + dx];
                    }
                }
                y[(o * out_h + oy) * out_w + ox] = stable[le_requant(sacc, srq[o], szp, swide) + 128];
            }
        }
    }
}
