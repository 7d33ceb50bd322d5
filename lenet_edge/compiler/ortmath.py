"""ONNX Runtime's int8 arithmetic in numpy, operation for operation (docs/ort-int8-ops.md).

Each function reproduces what the pinned reference session (lenet_edge/check/ort.py: CPU provider,
ORT_ENABLE_ALL, x86-64, int8 kept int8) computes for one node of the graph ORT actually runs after
its optimizations: the same float32 operations in the same order, with the same rounding
(round-half-to-even) and the same saturation. `tests/test_ortmath.py` proves every function
bit-exact against ORT, exhaustively where the op is a function of one or two codes.

Pure numpy: the compiler imports neither torch nor onnxruntime. Anything ORT computes with its own
transcendental approximations (Sigmoid, Tanh, ...) enters as a 256-entry table made by ORT itself
outside the compiler (`lenet_edge.check.tables`); here it is only looked up.

Conventions: activations are int8 or uint8 arrays in NCHW; `s*` are float32 scales, `z*` integer
zero points; every intermediate float is float32 (numpy float32 scalars and arrays round each
operation to float32, as the C kernels do); np.rint rounds half to even.
"""
from __future__ import annotations

import numpy as np

f32 = np.float32
RANGES = {np.dtype(np.int8): (-128, 127), np.dtype(np.uint8): (0, 255)}


def _range(dtype) -> tuple[int, int]:
    try:
        return RANGES[np.dtype(dtype)]
    except KeyError:
        raise ValueError(f"8-bit integer dtype expected, got {np.dtype(dtype)}") from None


def _saturate(v: np.ndarray, dtype) -> np.ndarray:
    lo, hi = _range(dtype)
    return np.clip(v, lo, hi).astype(dtype)


def _fma(a, b, c) -> np.ndarray:
    """fl(a*b + c) with a single rounding, as a hardware fused multiply-add. The float32 product is
    exact in float64; the float64 sum is exact unless Knuth's TwoSum error term is non-zero, and only
    those elements (rare) are redone with exact rationals to avoid a double rounding."""
    a = np.asarray(a, f32)
    b = np.asarray(b, f32)
    c = np.asarray(c, f32)
    p = a.astype(np.float64) * b.astype(np.float64)
    c64 = c.astype(np.float64)
    s = p + c64
    bv = s - p
    err = (p - (s - bv)) + (c64 - bv)
    out = np.asarray(s.astype(f32))
    inexact = np.broadcast_to(err != 0, out.shape)
    if np.any(inexact):
        from fractions import Fraction
        flat = out.reshape(-1).copy()
        aa, bb, cc = (np.broadcast_to(x, out.shape).reshape(-1) for x in (a, b, c))
        for i in np.flatnonzero(inexact.reshape(-1)):
            flat[i] = _fraction_to_f32(Fraction(float(aa[i])) * Fraction(float(bb[i])) + Fraction(float(cc[i])))
        out = flat.reshape(out.shape)
    return out


def _fraction_to_f32(x) -> np.float32:
    """Round an exact rational to the nearest float32, ties to even (normal range only)."""
    from fractions import Fraction
    if x == 0:
        return f32(0.0)
    sign = -1 if x < 0 else 1
    x = abs(x)
    e = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** e > x:
        e -= 1
    # x in [2^e, 2^(e+1)): significand has 24 bits -> unit 2^(e-23)
    unit = Fraction(2) ** (e - 23)
    q, r = divmod(x, unit)
    q = int(q)
    if r * 2 > unit or (r * 2 == unit and q % 2 == 1):
        q += 1
    return f32(sign * float(q * unit))


# ---------------------------------------------------------------- QuantizeLinear / DequantizeLinear

def quantize_linear(x: np.ndarray, scale, zero_point, dtype, axis: int = 1) -> np.ndarray:
    """MLAS QuantizeLinear: t = fl(x / s) (a true division), clamp to [lo - z, hi - z] in float,
    round half to even, add z. Per-axis scale/zero point along `axis` when they are 1-D."""
    x = np.asarray(x, f32)
    s, z = _per_axis(scale, x.ndim, axis, f32), _per_axis(zero_point, x.ndim, axis, np.int64)
    t = (x / s).astype(f32)
    return _saturate(np.rint(t).astype(np.int64) + z, dtype)


def dequantize_linear(q: np.ndarray, scale, zero_point, axis: int = 1) -> np.ndarray:
    """x = fl((q - z) * s): the subtraction in integers, one float32 multiply."""
    q = np.asarray(q)
    s, z = _per_axis(scale, q.ndim, axis, f32), _per_axis(zero_point, q.ndim, axis, np.int64)
    return ((q.astype(np.int64) - z).astype(f32) * s).astype(f32)


def _per_axis(v, ndim: int, axis: int, dtype) -> np.ndarray:
    v = np.asarray(v, dtype)
    if v.ndim == 0 or v.size == 1:
        return v.reshape(())
    shape = [1] * ndim
    shape[axis] = v.size
    return v.reshape(shape)


# ---------------------------------------------------------------- requantization of int32 sums

def output_multiplier(s_in, s_w, s_out, alpha=None) -> np.ndarray:
    """ORT's per-channel requant scale: fl(fl(s_in * s_w[c]) / s_out) (QLinearConv, QLinearMatMul);
    QGemm multiplies alpha first: fl(fl(fl(alpha * s_in) * s_w[c]) / s_out)."""
    s_in = f32(s_in)
    if alpha is not None:
        s_in = f32(f32(alpha) * s_in)
    return ((s_in * np.asarray(s_w, f32)).astype(f32) / f32(s_out)).astype(f32)


def requantize(acc: np.ndarray, multiplier, zero_point: int, dtype) -> np.ndarray:
    """MlasRequantizeOutput: v = fl(float(acc) * M) (float(acc) itself rounds to 24 significant bits
    above 2^24), clamp, round half to even, add the zero point."""
    v = (np.asarray(acc, np.int64).astype(f32) * np.asarray(multiplier, f32)).astype(f32)
    return _saturate(np.rint(v).astype(np.int64) + int(zero_point), dtype)


# ---------------------------------------------------------------- Conv, Gemm, MatMul

def conv_accumulate(x: np.ndarray, zx: int, w: np.ndarray, zw, bias: np.ndarray | None,
                    strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group: int = 1) -> np.ndarray:
    """int64 accumulators [N, M, OH, OW] of sum (x - zx)(w - zw[m]) + bias[m]; padded taps hold zx, so
    they add nothing. x [N, C, H, W], w [M, C/group, KH, KW]; pads (top, left, bottom, right)."""
    x = np.asarray(x).astype(np.int64) - int(zx)
    w = np.asarray(w).astype(np.int64)
    m_out, c_per_g, kh, kw = w.shape
    zw = np.asarray(zw, np.int64).reshape(-1)
    w = w - (zw.reshape(-1, 1, 1, 1) if zw.size > 1 else zw.reshape(()))
    t, l, b, r = pads
    x = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))
    n, c, h, wd = x.shape
    sh, sw = strides
    dh, dw = dilations
    oh = (h - (dh * (kh - 1) + 1)) // sh + 1
    ow = (wd - (dw * (kw - 1) + 1)) // sw + 1
    m_per_g = m_out // group
    out = np.zeros((n, m_out, oh, ow), np.int64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
            for g in range(group):
                xs = patch[:, g * c_per_g:(g + 1) * c_per_g]                 # [N, Cg, OH, OW]
                ws = w[g * m_per_g:(g + 1) * m_per_g, :, i, j]                # [Mg, Cg]
                out[:, g * m_per_g:(g + 1) * m_per_g] += np.einsum("nchw,mc->nmhw", xs, ws)
    if bias is not None:
        out += np.asarray(bias, np.int64).reshape(1, -1, 1, 1)
    return out


def qlinear_conv(x, sx, zx, w, sw, zw, sy, zy, bias=None, strides=(1, 1), pads=(0, 0, 0, 0),
                 dilations=(1, 1), group=1, dtype=None) -> np.ndarray:
    """QLinearConv (and the NHWC com.microsoft variant, same arithmetic): exact integer sums, then
    requantize with M[m] = fl(fl(sx * sw[m]) / sy)."""
    dtype = np.asarray(x).dtype if dtype is None else dtype
    acc = conv_accumulate(x, zx, w, zw, bias, strides, pads, dilations, group)
    mult = output_multiplier(sx, sw, sy).reshape(-1)
    mult = mult.reshape(1, -1, 1, 1) if mult.size > 1 else mult.reshape(())
    return requantize(acc, mult, zy, dtype)


def matmul_accumulate(a, za, b, zb) -> np.ndarray:
    """int64 sum (a - za)(b - zb[n]) over K: a [..., K], b [K, N]; zb per column or scalar."""
    a = np.asarray(a).astype(np.int64) - int(np.asarray(za).reshape(-1)[0])
    zb = np.asarray(zb, np.int64).reshape(-1)
    b = np.asarray(b).astype(np.int64) - (zb.reshape(1, -1) if zb.size > 1 else zb[0])
    return a @ b


def matmul_integer(a, b, za=0, zb=0) -> np.ndarray:
    """MatMulInteger: the exact int32 result."""
    return matmul_accumulate(a, za, b, zb).astype(np.int32)


def qlinear_matmul(a, sa, za, b, sb, zb, sy, zy, dtype=None) -> np.ndarray:
    """QLinearMatMul: exact sums, requant with fl(fl(sa * sb[n]) / sy)."""
    dtype = np.asarray(a).dtype if dtype is None else dtype
    return requantize(matmul_accumulate(a, za, b, zb), output_multiplier(sa, sb, sy), zy, dtype)


def qgemm(a, sa, za, b, sb, zb, bias=None, sy=None, zy=None, alpha=1.0, trans_a=False, trans_b=False,
          dtype=None) -> np.ndarray:
    """com.microsoft QGemm: acc = sum (a - za)(b - zb) + C (int32 bias added first); with y_scale the
    output is requantized with fl(fl(fl(alpha*sa) * sb[n]) / sy), without it the output is float
    fl(float(acc) * fl(fl(alpha*sa) * sb[n]))."""
    a = np.asarray(a)
    b = np.asarray(b)
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    acc = matmul_accumulate(a, za, b, zb)
    if bias is not None:
        acc = acc + np.asarray(bias, np.int64)
    if sy is None:
        scale = (f32(f32(alpha) * f32(sa)) * np.asarray(sb, f32)).astype(f32)
        return (acc.astype(f32) * scale).astype(f32)
    dtype = a.dtype if dtype is None else dtype
    return requantize(acc, output_multiplier(sa, sb, sy, alpha=alpha), zy, dtype)


# ---------------------------------------------------------------- elementwise Add / Mul

def broadcast_paths(a_shape, b_shape) -> str:
    """Which inner loop ORT's broadcast helper gives the elements: 'a_scalar' when A holds one value
    per innermost span (A has one element, or its last dimension is 1 while the output's is not),
    'b_scalar' likewise for B, 'vector' when both vary along the span."""
    out = np.broadcast_shapes(tuple(a_shape), tuple(b_shape))
    a_size, b_size = int(np.prod(a_shape)), int(np.prod(b_shape))
    if b_size == 1:
        return "b_scalar"
    if a_size == 1:
        return "a_scalar"
    last = out[-1] if out else 1
    a_last = a_shape[-1] if len(a_shape) else 1
    b_last = b_shape[-1] if len(b_shape) else 1
    if last > 1 and b_last == 1:
        return "b_scalar"
    if last > 1 and a_last == 1:
        return "a_scalar"
    return "vector"


def qlinear_add(a, sa, za, b, sb, zb, sc, zc, dtype=None) -> np.ndarray:
    """com.microsoft QLinearAdd as MLAS's AVX2 kernel computes it on x86-64 (fused multiply-adds).
    The kernel has a first operand P that varies along the span and a second Q (varying or a single
    value); ORT passes (A, B), or (B, A) when A is the single value. With rP = fl(sP / sc),
    rQ = fl(sQ / sc):
        base = fl(zc - fma(rP, zP, fl(rQ * zQ)))
        t    = fma(p, rP, fma(q, rQ, base))          (p, q the raw codes)
        out  = saturate(round_half_even(t))
    Proven on all 65,536 code pairs, in each broadcast path (tests/test_ortmath.py)."""
    a, b = np.asarray(a), np.asarray(b)
    dtype = a.dtype if dtype is None else dtype
    ra = f32(f32(sa) / f32(sc))
    rb = f32(f32(sb) / f32(sc))
    base = f32(f32(zc) - _fma(ra, f32(za), f32(rb * f32(zb))))
    path = broadcast_paths(a.shape, b.shape)
    af, bf = (v.astype(f32) for v in np.broadcast_arrays(a, b))
    if path == "vector":
        t = _fma(af, ra, _fma(bf, rb, np.full(af.shape, base, f32)))
    elif path == "b_scalar":
        t = _fma(af, ra, _fma(bf, rb, np.full(af.shape, base, f32)))
    else:  # ORT swaps the operands so that the single value is the kernel's B
        base_swapped = f32(f32(zc) - _fma(rb, f32(zb), f32(ra * f32(za))))
        t = _fma(bf, rb, _fma(af, ra, np.full(af.shape, base_swapped, f32)))
    return _saturate(np.rint(t).astype(np.int64), dtype)


def qlinear_mul(a, sa, za, b, sb, zb, sc, zc, dtype=None) -> np.ndarray:
    """com.microsoft QLinearMul (MLAS SSE2 kernel): r = fl(fl(sa * sb) / sc);
    p = (a - za)(b - zb) exactly; q = saturate(round_half_even(fl(fl(float(p) * r) + float(zc)))).
    Symmetric in its operands, so every broadcast path computes the same."""
    a, b = np.asarray(a), np.asarray(b)
    dtype = a.dtype if dtype is None else dtype
    ratio = f32(f32(f32(sa) * f32(sb)) / f32(sc))
    p = (a.astype(np.int64) - int(za)) * (b.astype(np.int64) - int(zb))
    v = (p.astype(f32) * ratio).astype(f32)
    v = (v + f32(zc)).astype(f32)
    return _saturate(np.rint(v).astype(np.int64), dtype)


# ---------------------------------------------------------------- pooling

def _pool_windows(h, w, kernel, strides, pads):
    """For each output row/col: (start, end) clipped to the input, as ORT computes them."""
    kh, kw = kernel
    sh, sw = strides
    t, l, b, r = pads
    oh = (h + t + b - kh) // sh + 1
    ow = (w + l + r - kw) // sw + 1
    rows = [(max(p * sh - t, 0), min(p * sh - t + kh, h)) for p in range(oh)]
    cols = [(max(p * sw - l, 0), min(p * sw - l + kw, w)) for p in range(ow)]
    return rows, cols


def max_pool(x, kernel, strides=(1, 1), pads=(0, 0, 0, 0)) -> np.ndarray:
    """MaxPool / NhwcMaxPool on codes: the largest code in each window (padding never wins)."""
    x = np.asarray(x)
    n, c, h, w = x.shape
    rows, cols = _pool_windows(h, w, kernel, strides, pads)
    out = np.empty((n, c, len(rows), len(cols)), x.dtype)
    for i, (h0, h1) in enumerate(rows):
        for j, (w0, w1) in enumerate(cols):
            out[:, :, i, j] = x[:, :, h0:h1, w0:w1].max(axis=(2, 3))
    return out


def qlinear_average_pool(x, sx, zx, sy, zy, kernel, strides=(1, 1), pads=(0, 0, 0, 0),
                         count_include_pad=False, dtype=None) -> np.ndarray:
    """com.microsoft QLinearAveragePool (NCHW and NHWC run the same per-output arithmetic):
    each input dequantized as fl(sx * (x - zx)); summed in float32 starting from 0.0 in row-major
    window order; divided by the count (kernel area if count_include_pad, else the clipped window);
    q = saturate(round_half_even(fl(fl(y / sy) + float(zy))))."""
    x = np.asarray(x)
    dtype = x.dtype if dtype is None else dtype
    xf = (f32(sx) * (x.astype(np.int64) - int(zx)).astype(f32)).astype(f32)
    n, c, h, w = x.shape
    rows, cols = _pool_windows(h, w, kernel, strides, pads)
    out = np.empty((n, c, len(rows), len(cols)), f32)
    area = kernel[0] * kernel[1]
    for i, (h0, h1) in enumerate(rows):
        for j, (w0, w1) in enumerate(cols):
            acc = np.zeros((n, c), f32)
            for hh in range(h0, h1):
                for ww in range(w0, w1):
                    acc = (acc + xf[:, :, hh, ww]).astype(f32)
            count = area if count_include_pad else (h1 - h0) * (w1 - w0)
            out[:, :, i, j] = (acc / f32(count)).astype(f32)
    v = ((out / f32(sy)).astype(f32) + f32(zy)).astype(f32)
    return _saturate(np.rint(v).astype(np.int64), dtype)


def average_pool_float(x, kernel, strides=(1, 1), pads=(0, 0, 0, 0), count_include_pad=False) -> np.ndarray:
    """ORT's float AveragePool (MlasPool), which picks one of three kernels:
    * global (kernel = input, stride 1, no pads): four float32 lanes, lane k sums elements
      i = k (mod 4) of the first 4*floor(n/4) in order from 0.0, lanes combined as
      (l0 + l2) + (l1 + l3), the remaining elements added one by one, then / float(n);
    * vector (stride_w <= 2, kernel <= 32, width fits the 2048-float buffer): per input column, the
      kernel's rows summed top to bottom starting from the first row; per output, those column sums
      (zeros for padded columns) summed left to right starting from the first; then / count;
    * generic otherwise: row-major from 0.0, then / count."""
    x = np.asarray(x, f32)
    n, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = strides
    t, l, b, r = pads
    if (kh, kw) == (h, w) and (sh, sw) == (1, 1) and not any(pads):
        flat = x.reshape(n, c, h * w)
        size = h * w
        lanes = np.zeros((n, c, 4), f32)
        full = size - size % 4
        for i in range(0, full, 4):
            lanes = (lanes + flat[:, :, i:i + 4]).astype(f32)
        acc = ((lanes[..., 0] + lanes[..., 2]).astype(f32) + (lanes[..., 1] + lanes[..., 3]).astype(f32)).astype(f32)
        for i in range(full, size):
            acc = (acc + flat[:, :, i]).astype(f32)
        return (acc / f32(size)).astype(f32).reshape(n, c, 1, 1)
    rows, cols = _pool_windows(h, w, kernel, strides, pads)
    out = np.empty((n, c, len(rows), len(cols)), f32)
    vector = sw <= 2 and kh <= 32 and kw <= 32 and (2048 - 3 - l - r) >= w
    for i, (h0, h1) in enumerate(rows):
        if vector:
            colsum = x[:, :, h0, :].copy()
            for hh in range(h0 + 1, h1):
                colsum = (colsum + x[:, :, hh, :]).astype(f32)
            padded = np.concatenate([np.zeros((n, c, l), f32), colsum, np.zeros((n, c, r + kw), f32)], axis=2)
        for j, (w0, w1) in enumerate(cols):
            if vector:
                start = j * sw
                acc = padded[:, :, start].copy()
                for k in range(1, kw):
                    acc = (acc + padded[:, :, start + k]).astype(f32)
                if count_include_pad:
                    count = kh * kw
                else:
                    count = max((min(start + kw, l + w) - max(start, l)) * (h1 - h0), 1)
            else:
                acc = np.zeros((n, c), f32)
                for hh in range(h0, h1):
                    for ww in range(w0, w1):
                        acc = (acc + x[:, :, hh, ww]).astype(f32)
                count = kh * kw if count_include_pad else (h1 - h0) * (w1 - w0)
            out[:, :, i, j] = (acc / f32(count)).astype(f32)
    return out


def qlinear_global_average_pool(x, sx, zx, sy, zy, dtype=None) -> np.ndarray:
    """com.microsoft QLinearGlobalAveragePool (x86): exact integer sum per channel minus zx * n, then
    requantize with the single scale fl(sx / fl(sy * float(n))). x [N, C, H, W] -> [N, C, 1, 1]."""
    x = np.asarray(x)
    dtype = x.dtype if dtype is None else dtype
    n, c, h, w = x.shape
    size = h * w
    acc = x.reshape(n, c, size).astype(np.int64).sum(axis=2) - int(zx) * size
    scale = f32(f32(sx) / f32(f32(sy) * f32(size)))
    return requantize(acc, scale, zy, dtype).reshape(n, c, 1, 1)


# ---------------------------------------------------------------- Concat, tables

def requant_table(s_in, z_in, s_out, z_out, in_dtype, out_dtype=None) -> np.ndarray:
    """256 entries, indexed by the raw byte of an input code: the code re-expressed at another scale,
    quantize_linear(dequantize_linear(q)) (what QLinearConcat does to an input whose scale or zero
    point differs from the output's)."""
    out_dtype = in_dtype if out_dtype is None else out_dtype
    codes = all_codes(in_dtype)
    return quantize_linear(dequantize_linear(codes, s_in, z_in), s_out, z_out, out_dtype)


def qlinear_concat(inputs, sy, zy, axis: int, dtype=None) -> np.ndarray:
    """com.microsoft QLinearConcat: `inputs` is a list of (codes, scale, zero_point); an input with the
    output's scale and zero point is copied, any other goes through its requant_table."""
    parts = []
    for x, s, z in inputs:
        x = np.asarray(x)
        dt = x.dtype if dtype is None else dtype
        if f32(s) == f32(sy) and int(z) == int(zy):
            parts.append(x.astype(dt))
        else:
            parts.append(lookup(x, requant_table(s, z, sy, zy, x.dtype, dt)))
    return np.concatenate(parts, axis=axis)


def all_codes(dtype) -> np.ndarray:
    """The 256 codes of an 8-bit type in raw-byte order: entry i is the code whose byte is i."""
    return np.arange(256, dtype=np.uint8).view(np.dtype(dtype))


def lookup(x, table) -> np.ndarray:
    """table[byte of x]: how every one-input int8 op (activation tables, float chains) is applied."""
    x = np.asarray(x)
    return np.asarray(table)[x.view(np.uint8).astype(np.intp)]


def leaky_relu_table(sx, zx, sy, zy, alpha, in_dtype, out_dtype=None) -> np.ndarray:
    """QLinearLeakyRelu's table (ORT builds it the same way at session start): dequantize each code,
    y = x if x >= 0 else fl(alpha * x), quantize_linear."""
    out_dtype = in_dtype if out_dtype is None else out_dtype
    xf = dequantize_linear(all_codes(in_dtype), sx, zx)
    y = np.where(xf >= 0, xf, (f32(alpha) * xf).astype(f32)).astype(f32)
    return quantize_linear(y, sy, zy, out_dtype)


# ---------------------------------------------------------------- Softmax

def softmax_table(x_scale, reduce_len: int, variant: str = "double") -> np.ndarray:
    """QLinearSoftmax's float32 table, built by ORT at session start in double precision:
    shift = max(0, log(FLT_MAX_f32 / reduce_len) - 5) / x_scale, entry i = (float)exp((i - 255 + shift)
    * x_scale), i = 0..255 (the caller re-indexes for int8). FLT_MAX / reduce_len is a float32 division."""
    flt = f32(np.finfo(np.float32).max) / f32(reduce_len)
    shift = max(0.0, float(np.log(np.float64(flt))) - 5.0) / float(np.float64(f32(x_scale)))
    i = np.arange(256, dtype=np.float64)
    return np.exp((i - 255.0 + shift) * float(np.float64(f32(x_scale)))).astype(f32)


def qlinear_softmax(x, x_scale, y_scale, y_zp, dtype=None) -> np.ndarray:
    """com.microsoft QLinearSoftmax over the last axis (the input zero point cancels out):
    uint8: e = table[255 - max + x]; int8: e = table'[byte of (127 - max + x)] with table' the table
    re-indexed by the byte of i - 128; vsum = float32 sum in order; ys = floorf(1 / y_scale);
    q = nearbyintf(fl(fl(e * ys) / vsum)) + zy, then uint8: min(q, 255); int8: saturated to [-128, 127]
    (measured: ORT 1.32 gives 127 where q = 128; some ORT sources instead wrap values above 127)."""
    x = np.asarray(x)
    dtype = x.dtype if dtype is None else np.dtype(dtype)
    d = x.shape[-1]
    table = softmax_table(x_scale, d)
    rows = x.reshape(-1, d).astype(np.int64)
    ys = f32(np.floor(f32(1.0) / f32(y_scale)))
    if np.dtype(dtype) == np.uint8:
        idx = 255 - rows.max(axis=1, keepdims=True) + rows
        e = table[idx]
    else:
        signed_table = np.empty(256, f32)
        signed_table[(np.arange(256) - 128) & 0xFF] = table      # index = byte of (i - 128)
        idx = ((127 - rows.max(axis=1, keepdims=True)) + rows) & 0xFF
        e = signed_table[idx]
    vsum = np.zeros(len(rows), f32)
    for k in range(d):
        vsum = (vsum + e[:, k]).astype(f32)
    q = np.rint(((e * ys).astype(f32) / vsum[:, None]).astype(f32)).astype(np.int64) + int(y_zp)
    if np.dtype(dtype) == np.uint8:
        out = np.minimum(q, 255).astype(np.uint8)
    else:
        out = np.clip(q, -128, 127).astype(np.int8)
    return out.reshape(x.shape)
