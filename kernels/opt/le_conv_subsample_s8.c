/* le_conv_subsample_s8: the fused LeNet-5 stage conv -> table -> 2x2 stride-2 depthwise conv
 * (subsampling) -> table; arguments and layouts as in kernels/ref/le_conv_subsample_s8.c. Only the
 * subsampled output is written.
 * Per output (o, oy, ox) the four conv outputs (2oy + dy, 2ox + dx) are accumulated together over
 * each stored kernel (le_conv_window2x2). For 5x5 kernels: on ARMv7E-M (__ARM_FEATURE_DSP) input
 * row by input row, each row split once by SXTB16 and used with the two kernel rows that read it
 * (4 SMLAD + 2 SMLATB per row and conv row: 10 MACs); elsewhere (Cortex-M3, host) two columns per
 * 64-bit sum, one SMLAL / IMUL per 2 MACs. Both give the exact int32 sums of the ref kernel
 * (le_conv_subsample_row.h gives the bounds): bit-identical. */
#include "le_conv_subsample_row.h"

static LE_INLINE void le_conv_subsample_s8(const int8_t *x, int in_w, int k, const int8_t *w,
                                           const uint16_t *kstart, const uint16_t *in_off,
                                           const int32_t *bias, const le_rq_t *rq, int32_t zp, int wide,
                                           const int8_t *table, const int8_t *sw, const int32_t *sbias,
                                           const le_rq_t *srq, int32_t szp, int swide,
                                           const int8_t *stable, int8_t *y, int out_c, int out_h,
                                           int out_w)
{
    int o;
    for (o = 0; o < out_c; ++o) {
        int oy;
        for (oy = 0; oy < out_h; ++oy) {
            le_conv_subsample_row(x + 2 * oy * in_w, in_w, k, w, kstart[o], kstart[o + 1], in_off, bias[o],
                                  rq[o], zp, wide, table, sw + 4 * o, sbias[o], srq[o], szp, swide, stable,
                                  y + (o * out_h + oy) * out_w, out_w);
        }
    }
}
