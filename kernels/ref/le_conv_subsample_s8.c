/* le_conv_subsample_s8: the fused LeNet-5 stage conv -> table -> 2x2 stride-2 depthwise conv
 * (the paper's subsampling) -> table. Only the subsampled output is written: the full conv output
 * (C1's 6x28x28, C3's 16x10x10) never exists.
 *   x      [in_c][in_h][in_w] int8, NCHW (the conv's input zero point is folded into bias)
 *   conv:  k x k, stride 1, over a sparse list of (output, input) kernels, as le_conv_sparse_s8:
 *          w [stored kernels][k][k], kstart [out_c + 1], in_off [stored kernels],
 *          bias [out_c], rq [out_c], zp, wide
 *   kstep  [stored kernels] int16 or null: the optimized set's Cortex-M4 kernel-loop steps
 *          (lenet_edge/compiler/ops/conv_subsample.py); unused here
 *   table  [256] int8, the activation after the conv (indexed by the raw byte of its code)
 *   sub:   sw [out_c][2][2] int8, sbias [out_c], srq [out_c], szp, swide (the depthwise conv,
 *          one input channel per output channel)
 *   stable [256] int8, the activation after the subsampling
 *   scratch the op's scratch_bytes of the arena (the optimized set's split input windows; unused here)
 *   y      [out_c][out_h][out_w] int8, NCHW; conv output (2 oy + dy, 2 ox + dx) feeds y[o][oy][ox]
 * Every sum is exact in int32 (checked at generation time). */
#include "le_requant.h"

static void le_conv_subsample_s8(const int8_t *x, int in_c, int in_h, int in_w, int k, const int8_t *w,
                                 const uint16_t *kstart, const uint16_t *in_off, const int16_t *kstep,
                                 const int32_t *bias,
                                 const le_rq_t *rq, int32_t zp, int wide, const int8_t *table,
                                 const int8_t *sw, const int32_t *sbias, const le_rq_t *srq, int32_t szp,
                                 int swide, const int8_t *stable, int8_t *scratch, int8_t *y, int out_c,
                                 int out_h, int out_w)
{
    int o;
    (void)in_c;
    (void)in_h;
    (void)scratch;
    (void)kstep;
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
                            const int8_t *xc = x + in_off[j]; /* [in_h][in_w] */
                            const int8_t *wj = w + j * k * k; /* [k][k] */
                            int ky;
                            for (ky = 0; ky < k; ++ky) {
                                int kx;
                                for (kx = 0; kx < k; ++kx) {
                                    acc += (int32_t)xc[(cy + ky) * in_w + cx + kx] * (int32_t)wj[ky * k + kx];
                                }
                            }
                        }
                        a = table[(uint8_t)le_requant(acc, rq[o], zp, wide)];
                        sacc += (int32_t)a * (int32_t)sw[(o * 2 + dy) * 2 + dx];
                    }
                }
                y[(o * out_h + oy) * out_w + ox] = stable[(uint8_t)le_requant(sacc, srq[o], szp, swide)];
            }
        }
    }
}
