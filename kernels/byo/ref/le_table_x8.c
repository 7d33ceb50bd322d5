/* le_table: y[i] = table[byte of x[i]] for every one-input op ORT computes per code
 * (QLinearLeakyRelu, QLinearSigmoid, float chains between DequantizeLinear and QuantizeLinear,
 * requantizing copies). The table comes from ORT itself (docs/ort-int8-ops.md section 8).
 * le_ftable: the same with float32 entries (code -> float value, e.g. DequantizeLinear, or a float
 * chain that feeds an AveragePool). */
#include "le_byo.h"

static LE_UNUSED void le_table_x8(const uint8_t *x, size_t n, const uint8_t *table, uint8_t *y)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        y[i] = table[x[i]];
    }
}

static LE_UNUSED void le_ftable_x8(const uint8_t *x, size_t n, const uint32_t *table, float *y)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        y[i] = le_f32_from_bits(table[x[i]]);
    }
}
