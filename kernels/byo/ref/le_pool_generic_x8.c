/* Pools on codes, NCHW or NHWC through element strides (docs/ort-int8-ops.md section 6).
 *   le_maxpool_generic: the largest code of each window clipped to the input.
 *   le_qavgpool_generic: QLinearAveragePool: inputs dequantized fl(sx * (x - zx)), summed in float32
 *     from 0 in row-major window order, y = fl(sum / count), out = sat(RNE(fl(fl(y / sy) + zy))).
 *   le_qgavgpool: QLinearGlobalAveragePool: acc = sum x - zx * n exactly,
 *     out = sat(RNE(fl(float(acc) * scale)) + zy), scale = fl(sx / fl(sy * n)). */
#include "le_byo.h"

typedef struct {
    int c, h, w, kh, kw, sh, sw, pt, pl, oh, ow, count_include_pad;
    int xc, xy, xx, yc, yy, yx;
} le_pool_shape_t;

#define LE_POOLS(SFX, T, LO, HI)                                                                    \
static LE_UNUSED void le_maxpool_generic_##SFX(const T *x, const le_pool_shape_t *s, T *y)                     \
{                                                                                                    \
    int c;                                                                                           \
    for (c = 0; c < s->c; ++c) {                                                                     \
        int oy;                                                                                      \
        for (oy = 0; oy < s->oh; ++oy) {                                                             \
            int ox;                                                                                  \
            for (ox = 0; ox < s->ow; ++ox) {                                                         \
                int32_t best = LO;                                                                   \
                int iy;                                                                              \
                for (iy = oy * s->sh - s->pt; iy < oy * s->sh - s->pt + s->kh; ++iy) {               \
                    int ix;                                                                          \
                    if (iy < 0 || iy >= s->h) continue;                                              \
                    for (ix = ox * s->sw - s->pl; ix < ox * s->sw - s->pl + s->kw; ++ix) {           \
                        int32_t v;                                                                   \
                        if (ix < 0 || ix >= s->w) continue;                                          \
                        v = x[c * s->xc + iy * s->xy + ix * s->xx];                                  \
                        best = v > best ? v : best;                                                  \
                    }                                                                                \
                }                                                                                    \
                y[c * s->yc + oy * s->yy + ox * s->yx] = (T)best;                                    \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
}                                                                                                    \
static LE_UNUSED void le_qavgpool_generic_##SFX(const T *x, uint32_t sx_bits, int32_t zx, uint32_t sy_bits,    \
                                      int32_t zy, const le_pool_shape_t *s, T *y)                     \
{                                                                                                    \
    const float sx = le_f32_from_bits(sx_bits), sy = le_f32_from_bits(sy_bits);                      \
    int c;                                                                                           \
    for (c = 0; c < s->c; ++c) {                                                                     \
        int oy;                                                                                      \
        for (oy = 0; oy < s->oh; ++oy) {                                                             \
            const int y0 = oy * s->sh - s->pt < 0 ? 0 : oy * s->sh - s->pt;                          \
            const int y1 = oy * s->sh - s->pt + s->kh > s->h ? s->h : oy * s->sh - s->pt + s->kh;    \
            int ox;                                                                                  \
            for (ox = 0; ox < s->ow; ++ox) {                                                         \
                const int x0 = ox * s->sw - s->pl < 0 ? 0 : ox * s->sw - s->pl;                      \
                const int x1 = ox * s->sw - s->pl + s->kw > s->w ? s->w : ox * s->sw - s->pl + s->kw;\
                const int count = s->count_include_pad ? s->kh * s->kw : (y1 - y0) * (x1 - x0);      \
                float sum = 0.0f, v;                                                                 \
                int iy;                                                                              \
                for (iy = y0; iy < y1; ++iy) {                                                       \
                    int ix;                                                                          \
                    for (ix = x0; ix < x1; ++ix) {                                                   \
                        const int32_t q = (int32_t)x[c * s->xc + iy * s->xy + ix * s->xx] - zx;      \
                        sum = le_round32(sum + le_round32(sx * (float)q));                           \
                    }                                                                                \
                }                                                                                    \
                v = le_round32(le_round32(sum / (float)count) / sy);                                 \
                v = le_round32(v + (float)zy);                                                       \
                y[c * s->yc + oy * s->yy + ox * s->yx] = (T)le_rne_clamp(v, (float)LO, (float)HI);   \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
}                                                                                                    \
static LE_UNUSED void le_qgavgpool_##SFX(const T *x, int c, int n, int xc, int xi, int32_t zx,                 \
                               uint32_t scale_bits, int32_t zy, int yc, T *y)                        \
{                                                                                                    \
    const le_rq_t rq = le_rq_make(scale_bits, zy, LO, HI);                                           \
    int ch;                                                                                          \
    for (ch = 0; ch < c; ++ch) {                                                                     \
        int32_t acc = -zx * n;                                                                       \
        int i;                                                                                       \
        for (i = 0; i < n; ++i) {                                                                    \
            acc += x[ch * xc + i * xi];                                                              \
        }                                                                                            \
        y[ch * yc] = (T)le_requant(acc, &rq);                                                        \
    }                                                                                                \
}
LE_POOLS(s8, int8_t, -128, 127)
LE_POOLS(u8, uint8_t, 0, 255)
