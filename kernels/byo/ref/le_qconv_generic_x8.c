/* le_qconv_generic: QLinearConv in ONNX Runtime's arithmetic (docs/ort-int8-ops.md section 3), any
 * group count (depthwise included), pads, strides, dilations, NCHW or NHWC through element strides.
 *   x    element (c, y, x) at x[c*xc + y*xy + x*xx], codes with zero point zx
 *   w    [m][c/group][kh][kw] int8, zero point zw[m]
 *   bias [m] int32; mult [m] float32 bits of M = fl(fl(sx * sw[m]) / sy)
 *   y    element (m, oy, ox) at y[m*yc + oy*yy + ox*yx]
 * acc = bias[m] + sum (x - zx)(w - zw[m]) exactly (padded taps add nothing);
 * out = sat(RNE(fl(float(acc) * M)) + zy) (le_requant: float, or integers only on FPU-less cores). */
#include "le_byo.h"

typedef struct {
    int c, h, w, m, group, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow;
    int xc, xy, xx, yc, yy, yx;
} le_conv_shape_t;

#define LE_QCONV(NAME, T, LO, HI)                                                                   \
static LE_UNUSED void NAME(const T *x, int32_t zx, const int8_t *w, const int32_t *zw, const int32_t *bias,     \
                 const uint32_t *mult, int32_t zy, const le_conv_shape_t *s, T *y)                    \
{                                                                                                    \
    const int cg = s->c / s->group, mg = s->m / s->group;                                            \
    int m;                                                                                           \
    for (m = 0; m < s->m; ++m) {                                                                     \
        const int g = m / mg;                                                                        \
        const le_rq_t rq = le_rq_make(mult[m], zy, LO, HI);                                          \
        int oy;                                                                                      \
        for (oy = 0; oy < s->oh; ++oy) {                                                             \
            int ox;                                                                                  \
            for (ox = 0; ox < s->ow; ++ox) {                                                         \
                int32_t acc = bias[m];                                                               \
                int ci;                                                                              \
                for (ci = 0; ci < cg; ++ci) {                                                        \
                    const int c = g * cg + ci;                                                       \
                    int ky;                                                                          \
                    for (ky = 0; ky < s->kh; ++ky) {                                                 \
                        const int iy = oy * s->sh + ky * s->dh - s->pt;                              \
                        int kx;                                                                      \
                        if (iy < 0 || iy >= s->h) continue;                                          \
                        for (kx = 0; kx < s->kw; ++kx) {                                             \
                            const int ix = ox * s->sw + kx * s->dw - s->pl;                          \
                            int32_t xv, wv;                                                          \
                            if (ix < 0 || ix >= s->w) continue;                                      \
                            xv = (int32_t)x[c * s->xc + iy * s->xy + ix * s->xx] - zx;               \
                            wv = (int32_t)w[((m * cg + ci) * s->kh + ky) * s->kw + kx] - zw[m];      \
                            acc += xv * wv;                                                          \
                        }                                                                            \
                    }                                                                                \
                }                                                                                    \
                y[m * s->yc + oy * s->yy + ox * s->yx] = (T)le_requant(acc, &rq);                    \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
}
LE_QCONV(le_qconv_generic_s8, int8_t, -128, 127)
LE_QCONV(le_qconv_generic_u8, uint8_t, 0, 255)
