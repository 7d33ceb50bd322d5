/* le_qconv_generic (optimized set): the same function as kernels/byo/ref/le_qconv_generic_x8.c, with
 * the window clipped once per output instead of testing every tap, and pointer walks instead of
 * index products. Same arithmetic: acc = bias[m] + sum (x - zx)(w - zw[m]) exactly,
 * out = sat(RNE(fl(float(acc) * M[m])) + zy) (docs/ort-int8-ops.md section 3). */
#include "le_byo.h"

typedef struct {
    int c, h, w, m, group, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow;
    int xc, xy, xx, yc, yy, yx;
} le_conv_shape_t;

/* first k in [0, n) with start + k*d >= 0, and one past the last with start + k*d < limit */
static LE_UNUSED void le_conv_range(int start, int d, int n, int limit, int *k0, int *k1)
{
    int a = 0, b = n;
    if (start < 0) a = (-start + d - 1) / d;
    if (start + (n - 1) * d >= limit) b = (limit - start + d - 1) / d;
    *k0 = a;
    *k1 = b < a ? a : b;
}

#define LE_QCONV(NAME, T, LO, HI)                                                                   \
static LE_UNUSED void NAME(const T *x, int32_t zx, const int8_t *w, const int32_t *zw,                \
                           const int32_t *bias, const uint32_t *mult, int32_t zy,                     \
                           const le_conv_shape_t *s, T *y)                                            \
{                                                                                                    \
    const le_conv_shape_t g = *s;  /* locals: byte stores to y may alias the struct otherwise */     \
    const int cg = g.c / g.group, mg = g.m / g.group, ksz = g.kh * g.kw, step = g.dw * g.xx;         \
    int m;                                                                                           \
    for (m = 0; m < g.m; ++m) {                                                                     \
        const T *xg = x + (m / mg) * cg * g.xc;                                                     \
        const int8_t *wm = w + m * cg * ksz;                                                         \
        const int32_t zwm = zw[m], b = bias[m];                                                      \
        const le_rq_t rq = le_rq_make(mult[m], zy, LO, HI);                                          \
        T *ym = y + m * g.yc;                                                                       \
        int oy;                                                                                      \
        for (oy = 0; oy < g.oh; ++oy) {                                                             \
            const int iy0 = oy * g.sh - g.pt;                                                      \
            int ky0, ky1, ox;                                                                        \
            le_conv_range(iy0, g.dh, g.kh, g.h, &ky0, &ky1);                                      \
            for (ox = 0; ox < g.ow; ++ox) {                                                         \
                const int ix0 = ox * g.sw - g.pl;                                                  \
                int kx0, kx1, ci;                                                                    \
                int32_t acc = b;                                                                     \
                le_conv_range(ix0, g.dw, g.kw, g.w, &kx0, &kx1);                                  \
                for (ci = 0; ci < cg; ++ci) {                                                        \
                    const T *xc = xg + ci * g.xc + ix0 * g.xx;                                     \
                    const int8_t *wc = wm + ci * ksz;                                                \
                    int ky;                                                                          \
                    for (ky = ky0; ky < ky1; ++ky) {                                                 \
                        const T *xr = xc + (iy0 + ky * g.dh) * g.xy;                               \
                        const int8_t *wr = wc + ky * g.kw;                                          \
                        int kx;                                                                      \
                        for (kx = kx0; kx < kx1; ++kx) {                                             \
                            acc += ((int32_t)xr[kx * step] - zx) * ((int32_t)wr[kx] - zwm); \
                        }                                                                            \
                    }                                                                                \
                }                                                                                    \
                ym[oy * g.yy + ox * g.yx] = (T)le_requant(acc, &rq);                                 \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
}
LE_QCONV(le_qconv_generic_s8, int8_t, -128, 127)
LE_QCONV(le_qconv_generic_u8, uint8_t, 0, 255)
