/* le_maxpool_s8: max over k x k windows, stride s, no padding.
 *   x [c][h][w] int8
 *   y [c][out_h][out_w] int8, out_h = (h - k) / s + 1, out_w = (w - k) / s + 1 */
#include "le_common.h"

static void le_maxpool_s8(const int8_t *x, int c, int h, int w, int k, int s,
                          int8_t *y, int out_h, int out_w)
{
    int ch;
    for (ch = 0; ch < c; ++ch) {
        int oy;
        for (oy = 0; oy < out_h; ++oy) {
            int ox;
            for (ox = 0; ox < out_w; ++ox) {
                int8_t m = -128;
                int ky;
                for (ky = 0; ky < k; ++ky) {
                    int kx;
                    for (kx = 0; kx < k; ++kx) {
                        const int8_t v = x[(ch * h + oy * s + ky) * w + ox * s + kx];
                        m = v > m ? v : m;
                    }
                }
                y[(ch * out_h + oy) * out_w + ox] = m;
            }
        }
    }
}
