/* le_conv_dot_s8: QLinearConv whose k x k window is the whole input (one output pixel per channel,
 * such as C5 and F6): a matrix-vector product.
 *   x    [n] int8, the NCHW input, n = in_c * k * k (the input zero point is folded into bias)
 *   w    [out_c][n] int8 (OIHW per channel), stored in the blocked order the optimized kernel reads
 *        (ops/conv.py dot_order); le_dot_weight finds weight (o, t) in it
 *   bias [out_c] int32 = B - x_zp * sum(w)
 *   rq   [out_c] requant multipliers, zp the output zero point, wide: see le_requant.h
 *   pairs_ok  unused here (the optimized kernel's 64-bit pair accumulators are exact)
 *   y    [out_c] int8 */
#include "le_requant.h"

/* Weight (o, t) in the blocked order: channels in blocks of 6, then blocks of 2, then a block of 1.
 * A block of 1 holds its n weights in order. A block of `size` channels holds, per chunk of 4
 * inputs, 8 bytes per channel pair (X, Y) = channels (2p, 2p + 1) of the block:
 *     X[t0] Y[t0] X[t2] Y[t2]   X[t1] Y[t1] X[t3] Y[t3]
 * with the X bytes stored as X + 128 (read as uint8), then the n % 4 last inputs, [input][channel]. */
static int8_t le_dot_weight(const int8_t *w, int n, int out_c, int o, int t)
{
    static const int x_pos[4] = {0, 4, 2, 6}; /* byte of input t0..t3 of X in its 8 bytes */
    static const int y_pos[4] = {1, 5, 3, 7};
    const int chunked = n - n % 4;            /* inputs in chunks of 4 */
    const int in_sixes = out_c - out_c % 6;   /* channels in blocks of 6 */
    int first;                                /* first channel of o's block */
    int size;                                 /* channels in o's block */
    int c;
    if (o < in_sixes) {
        first = o - o % 6;
        size = 6;
    } else if (o < out_c - out_c % 6 % 2) {
        first = o - (o - in_sixes) % 2;
        size = 2;
    } else {
        return w[o * n + t];                  /* the lone last channel */
    }
    w += first * n;                           /* the block's bytes */
    c = o - first;
    if (t >= chunked) {
        return w[chunked * size + (t - chunked) * size + c];
    }
    if (c % 2) {
        return w[(t / 4) * 4 * size + (c / 2) * 8 + y_pos[t % 4]];
    }
    return (int8_t)((uint8_t)w[(t / 4) * 4 * size + (c / 2) * 8 + x_pos[t % 4]] - 128);
}

static void le_conv_dot_s8(const int8_t *x, int n, const int8_t *w, const int32_t *bias,
                           const le_rq_t *rq, int32_t zp, int wide, int pairs_ok, int8_t *y,
                           int out_c)
{
    int o;
    (void)pairs_ok;
    for (o = 0; o < out_c; ++o) {
        int32_t acc = bias[o];
        int t;
        for (t = 0; t < n; ++t) {
            acc += (int32_t)x[t] * (int32_t)le_dot_weight(w, n, out_c, o, t);
        }
        y[o] = le_requant(acc, rq[o], zp, wide);
    }
}
