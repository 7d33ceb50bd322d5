/* Layout moves on codes: le_transpose4 (Transpose of a rank-4 tensor, perm given as the input
 * strides of each output axis), le_copy (Reshape, Flatten, Concat pieces), le_dequantize. */
#include "le_byo.h"

static LE_UNUSED void le_transpose4_x8(const uint8_t *x, const int *out_shape, const int *in_strides, uint8_t *y)
{
    int a, b, c, d;
    size_t o = 0;
    for (a = 0; a < out_shape[0]; ++a)
        for (b = 0; b < out_shape[1]; ++b)
            for (c = 0; c < out_shape[2]; ++c)
                for (d = 0; d < out_shape[3]; ++d)
                    y[o++] = x[a * in_strides[0] + b * in_strides[1] + c * in_strides[2] + d * in_strides[3]];
}

/* blocks of `len` bytes: dst[i*dst_step + k] = src[i*src_step + k] (or table[src...] if table) */
static LE_UNUSED void le_copy_x8(const uint8_t *src, int src_step, uint8_t *dst, int dst_step, int blocks, int len,
                       const uint8_t *table)
{
    int i;
    for (i = 0; i < blocks; ++i) {
        int k;
        for (k = 0; k < len; ++k) {
            const uint8_t v = src[i * src_step + k];
            dst[i * dst_step + k] = table ? table[v] : v;
        }
    }
}
