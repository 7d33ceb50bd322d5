/* le_qsoftmax: com.microsoft QLinearSoftmax over rows of d codes (docs/ort-int8-ops.md section 6a).
 *   e[k]  = table[byte index of x[k] shifted so the row's max lands on the table's top]
 *   vsum  = float32 sum of e in order;  ys = floorf(1 / y_scale) (given)
 *   y[k]  = sat(nearbyint(fl(fl(e[k] * ys) / vsum)) + zy)
 * table: [256] float32 bits, built at generation time exactly as ORT builds it (double exp). */
#include "le_byo.h"

#define LE_QSOFTMAX(NAME, T, LO, HI, TOP)                                                            \
static LE_UNUSED void NAME(const T *x, int rows, int d, const uint32_t *table, uint32_t ys_bits,      \
                           int32_t zy, T *y)                                                          \
{                                                                                                    \
    const float ys = le_f32_from_bits(ys_bits);                                                      \
    int r;                                                                                           \
    for (r = 0; r < rows; ++r) {                                                                     \
        const T *xr = x + r * d;                                                                     \
        int32_t mx = xr[0], k;                                                                       \
        float vsum = 0.0f;                                                                           \
        for (k = 1; k < d; ++k) mx = xr[k] > mx ? xr[k] : mx;                                         \
        for (k = 0; k < d; ++k) {                                                                    \
            vsum = le_round32(vsum + le_f32_from_bits(table[(uint8_t)(TOP - mx + xr[k])]));           \
        }                                                                                            \
        for (k = 0; k < d; ++k) {                                                                    \
            const float e = le_f32_from_bits(table[(uint8_t)(TOP - mx + xr[k])]);                     \
            const float v = le_round32(le_round32(e * ys) / vsum);                                   \
            const int32_t q = le_rne_clamp(v, 0.0f, 4194304.0f) + zy;                                \
            y[r * d + k] = (T)(q < LO ? LO : (q > HI ? HI : q));                                     \
        }                                                                                            \
    }                                                                                                \
}
LE_QSOFTMAX(le_qsoftmax_s8, int8_t, -128, 127, 127)
LE_QSOFTMAX(le_qsoftmax_u8, uint8_t, 0, 255, 255)
