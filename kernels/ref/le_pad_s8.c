/* le_pad_s8: constant spatial padding.
 *   x [c][h][w] int8
 *   y [c][h + top + bottom][w + left + right] int8, border filled with `value`
 * x and y must not overlap. */
#include "le_common.h"

static void le_pad_s8(const int8_t *x, int c, int h, int w, int top, int left, int bottom, int right,
                      int8_t value, int8_t *y)
{
    const int oh = h + top + bottom;
    const int ow = w + left + right;
    int ch;
    for (ch = 0; ch < c; ++ch) {
        int oy;
        for (oy = 0; oy < oh; ++oy) {
            int ox;
            for (ox = 0; ox < ow; ++ox) {
                const int iy = oy - top;
                const int ix = ox - left;
                const int inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
                y[(ch * oh + oy) * ow + ox] = inside ? x[(ch * h + iy) * w + ix] : value;
            }
        }
    }
}
