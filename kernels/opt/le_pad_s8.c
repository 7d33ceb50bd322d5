/* le_pad_s8: constant spatial padding (one memset, then one memcpy per row).
 *   x [c][h][w] int8
 *   y [c][h + top + bottom][w + left + right] int8, border filled with `value`
 * x and y must not overlap. */
#include "le_common.h"

static void le_pad_s8(const int8_t *x, int c, int h, int w, int top, int left, int bottom, int right,
                      int8_t value, int8_t *y)
{
    const int ow = w + left + right;
    int ch;
    int row;
    memset(y, value, (size_t)c * (size_t)(h + top + bottom) * (size_t)ow);
    for (ch = 0; ch < c; ++ch) {
        int8_t *dst = y + ((size_t)ch * (size_t)(h + top + bottom) + (size_t)top) * (size_t)ow + left;
        for (row = 0; row < h; ++row) {
            memcpy(dst, x, (size_t)w);
            dst += ow;
            x += w;
        }
    }
}
