/* le_avgpool_f32: ONNX Runtime's float AveragePool (MLAS MlasPool), NCHW, in the summation order of
 * the kernel MLAS picks (docs/ort-int8-ops.md section 6). mode: 0 generic (row-major from 0),
 * 1 vector (column sums over the window rows from the first row, then over the window columns
 * from the first, padded columns 0), 2 global (four lanes, (l0+l2)+(l1+l3), then the tail). */
#include "le_byo.h"

static LE_UNUSED void le_avgpool_generic_f32(const float *x, int c, int h, int w, int kh, int kw, int sh, int sw,
                                   int pt, int pl, int oh, int ow, int count_include_pad, int mode,
                                   float *colsum, float *y)
{
    int ch;
    for (ch = 0; ch < c; ++ch) {
        const float *xc = x + ch * h * w;
        if (mode == 2) {
            const int n = h * w, full = n - n % 4;
            float l[4] = {0.0f, 0.0f, 0.0f, 0.0f}, acc;
            int i, j;
            for (i = 0; i < full; i += 4) {
                for (j = 0; j < 4; ++j) {
                    l[j] = le_round32(l[j] + xc[i + j]);
                }
            }
            acc = le_round32(le_round32(l[0] + l[2]) + le_round32(l[1] + l[3]));
            for (i = full; i < n; ++i) {
                acc = le_round32(acc + xc[i]);
            }
            y[ch] = le_round32(acc / (float)n);
            continue;
        }
        {
            int oy;
            for (oy = 0; oy < oh; ++oy) {
                const int y0 = oy * sh - pt < 0 ? 0 : oy * sh - pt;
                const int y1 = oy * sh - pt + kh > h ? h : oy * sh - pt + kh;
                int ox;
                if (mode == 1) {           /* column sums, padded with zeros left and right */
                    int i;
                    for (i = 0; i < pl; ++i) colsum[i] = 0.0f;
                    for (i = 0; i < w; ++i) {
                        float s = xc[y0 * w + i];
                        int r;
                        for (r = y0 + 1; r < y1; ++r) s = le_round32(s + xc[r * w + i]);
                        colsum[pl + i] = s;
                    }
                    for (i = pl + w; i < pl + w + kw + ow * sw; ++i) colsum[i] = 0.0f;
                }
                for (ox = 0; ox < ow; ++ox) {
                    const int x0 = ox * sw - pl < 0 ? 0 : ox * sw - pl;
                    const int x1 = ox * sw - pl + kw > w ? w : ox * sw - pl + kw;
                    float acc;
                    int count;
                    if (mode == 1) {
                        const int st = ox * sw;
                        const int lo = st > pl ? st : pl;
                        const int hi = st + kw < pl + w ? st + kw : pl + w;
                        int k;
                        acc = colsum[st];
                        for (k = 1; k < kw; ++k) acc = le_round32(acc + colsum[st + k]);
                        count = count_include_pad ? kh * kw : (hi - lo) * (y1 - y0);
                        if (count < 1) count = 1;
                    } else {
                        int r;
                        acc = 0.0f;
                        for (r = y0; r < y1; ++r) {
                            int i;
                            for (i = x0; i < x1; ++i) acc = le_round32(acc + xc[r * w + i]);
                        }
                        count = count_include_pad ? kh * kw : (y1 - y0) * (x1 - x0);
                    }
                    y[(ch * oh + oy) * ow + ox] = le_round32(acc / (float)count);
                }
            }
        }
    }
}
