/* le_quantize_f32: QuantizeLinear, float x[n] -> codes y[n] (docs/ort-int8-ops.md section 2).
 *   q = sat(RNE(fl(x / s)) + z): a true division, clamp to [lo - z, hi - z], round half to even. */
#include "le_byo.h"

#define LE_QUANTIZE(NAME, T, LO, HI)                                                        \
static LE_UNUSED void NAME(const float *x, size_t n, uint32_t s_bits, int32_t z, T *y)                  \
{                                                                                            \
    const float s = le_f32_from_bits(s_bits);                                               \
    const float lo = (float)(LO - z), hi = (float)(HI - z);                                  \
    size_t i;                                                                                \
    for (i = 0; i < n; ++i) {                                                                \
        y[i] = (T)(le_rne_clamp(le_round32(x[i] / s), lo, hi) + z);                          \
    }                                                                                        \
}
LE_QUANTIZE(le_quantize_f32_s8, int8_t, -128, 127)
LE_QUANTIZE(le_quantize_f32_u8, uint8_t, 0, 255)
