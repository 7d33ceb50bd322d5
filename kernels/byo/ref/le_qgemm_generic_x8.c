/* le_qgemm_generic: QGemm / QLinearMatMul in ONNX Runtime's arithmetic (docs/ort-int8-ops.md
 * section 3): y[r][n] = sat(RNE(fl(float(acc) * M[n])) + zy),
 * acc = bias[n] + sum_k (a[r][k] - za)(b[n][k] - zb[n]) exactly.
 *   a [rows][k] codes; b [n][k] int8 (B transposed at generation time); mult [n] float32 bits */
#include "le_byo.h"

#define LE_QGEMM(NAME, T, LO, HI)                                                                 \
static LE_UNUSED void NAME(const T *a, int32_t za, int rows, int k, const int8_t *b, const int32_t *zb,       \
                 const int32_t *bias, const uint32_t *mult, int32_t zy, int n, T *y)                 \
{                                                                                                  \
    int r;                                                                                         \
    for (r = 0; r < rows; ++r) {                                                                   \
        int j;                                                                                     \
        for (j = 0; j < n; ++j) {                                                                  \
            const le_rq_t rq = le_rq_make(mult[j], zy, LO, HI);                                    \
            int32_t acc = bias[j];                                                                 \
            int i;                                                                                 \
            for (i = 0; i < k; ++i) {                                                              \
                acc += ((int32_t)a[r * k + i] - za) * ((int32_t)b[j * k + i] - zb[j]);             \
            }                                                                                      \
            y[r * n + j] = (T)le_requant(acc, &rq);                                                \
        }                                                                                          \
    }                                                                                              \
}
LE_QGEMM(le_qgemm_generic_s8, int8_t, -128, 127)
LE_QGEMM(le_qgemm_generic_u8, uint8_t, 0, 255)
