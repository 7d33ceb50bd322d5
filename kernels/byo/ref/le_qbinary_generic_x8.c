/* QLinearAdd / QLinearMul in ONNX Runtime's x86-64 arithmetic (docs/ort-int8-ops.md sections 4, 5).
 *   le_qadd: out = sat(RNE(fma(p, rP, fma(q, rQ, base)))) (le_fmaf, le_byo.h), p the operand that varies along the
 *     inner loop, q the other (q_step 0: one value), base = fl(zc - fma(rP, zP, fl(rQ * zQ))) given.
 *   le_qmul: out = sat(RNE(fl(fl(float((a - za)(b - zb)) * r) + zc))), r = fl(fl(sa * sb) / sc).
 * Elements: n spans of `inner` elements; operand pointers advance by their span step (0: the same
 * values again) and by their element step (0: one value per span). */
#include "le_byo.h"

#define LE_QBIN(SFX, T, LO, HI)                                                                     \
static LE_UNUSED void le_qadd_generic_##SFX(const T *p, int p_span, int p_elem, const T *q, int q_span,        \
                                  int q_elem, int spans, int inner, uint32_t rp_bits,                \
                                  uint32_t rq_bits, uint32_t base_bits, T *y)                        \
{                                                                                                    \
    const float rp = le_f32_from_bits(rp_bits), rq = le_f32_from_bits(rq_bits);                      \
    const float base = le_f32_from_bits(base_bits);                                                  \
    int s;                                                                                           \
    for (s = 0; s < spans; ++s) {                                                                    \
        int i;                                                                                       \
        for (i = 0; i < inner; ++i) {                                                                \
            const float pv = (float)p[s * p_span + i * p_elem];                                      \
            const float qv = (float)q[s * q_span + i * q_elem];                                      \
            const float t = le_fmaf(pv, rp, le_fmaf(qv, rq, base));                                        \
            y[s * inner + i] = (T)le_rne_clamp(t, (float)LO, (float)HI);                             \
        }                                                                                            \
    }                                                                                                \
}                                                                                                    \
static LE_UNUSED void le_qmul_generic_##SFX(const T *a, int a_span, int a_elem, int32_t za, const T *b,        \
                                  int b_span, int b_elem, int32_t zb, int spans, int inner,          \
                                  uint32_t r_bits, int32_t zc, T *y)                                 \
{                                                                                                    \
    const float r = le_f32_from_bits(r_bits);                                                        \
    int s;                                                                                           \
    for (s = 0; s < spans; ++s) {                                                                    \
        int i;                                                                                       \
        for (i = 0; i < inner; ++i) {                                                                \
            const int32_t pr = ((int32_t)a[s * a_span + i * a_elem] - za) *                          \
                               ((int32_t)b[s * b_span + i * b_elem] - zb);                           \
            const float v = le_round32(le_round32((float)pr * r) + (float)zc);                       \
            y[s * inner + i] = (T)le_rne_clamp(v, (float)LO, (float)HI);                             \
        }                                                                                            \
    }                                                                                                \
}
LE_QBIN(s8, int8_t, -128, 127)
LE_QBIN(u8, uint8_t, 0, 255)
