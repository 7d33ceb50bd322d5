"""ONNX QLinearConv: int8 x, per-channel symmetric int8 weights, int32 bias, no padding, dilation 1,
group 1 or depthwise.

  acc[o] = B[o] + sum over (i, ky, kx) of (x[i] - x_zp) * w[o, i, ky, kx]     (int32, exact)
  y[o]   = clamp(RNE(fl(float(acc) * M[o])) + y_zp, -128, 127)              (docs/int8-arithmetic.md)

Stored in one of three forms (the kernel is chosen by the form):
  "dot":    the window is the whole input (C5, F6): a matrix-vector product, le_conv_dot_s8
  "dense":  every (out, in) kernel stored, OIHW (group 1), le_conv_dense_s8
  "sparse": only non-zero (out, in) kernels, with index arrays (masked C3, depthwise), le_conv_sparse_s8
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lenet_edge.compiler import requant
from lenet_edge.compiler.ir import CArray, Call, Ctx, Layer, Packed

DOT_BLOCK = 6          # output channels per block of the "dot" weight layout: 3 pairs
PAIR_ACC_LIMIT = 2**23  # le_conv_dot_s8's 64-bit pair accumulators hold a channel in 24 bits
# The M3 pair path separates the two channels of a 64-bit sum before an odd last chunk of 4
# inputs, so a partial sum must fit too: it differs from the whole by at most one chunk,
# 4 x |x| <= 128 x |stored weight| <= 255 < 2^17 (acc_bound bounds only the whole sum).
PAIR_CHUNK_MARGIN = 2**17


def dot_pack(w: np.ndarray) -> np.ndarray:
    """The "dot" weights (C5, F6) w int8 [out_c][n] as le_conv_dot_s8 (both kernel sets) reads them:
    in dot_order, with X's bytes of the 4-input chunks stored offset, as X + 128 in [0, 255]."""
    out_c, n = w.shape
    idx, x_byte = dot_order(out_c, n)
    packed = w.reshape(-1)[idx].astype(np.int16)
    return np.where(x_byte, packed + 128, packed).astype(np.uint8).view(np.int8)


def dot_order(out_c: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The byte order of the "dot" weights (C5, F6): packed[i] = w[idx[i] // n][idx[i] % n] for w
    [out_c][n] (OIHW flattened per channel), and x_byte[i]: byte i is an X byte of a chunk, stored
    as X + 128 (unsigned).

    Channels are taken in blocks of DOT_BLOCK (3 pairs), then pairs, then a lone last channel
    (its n weights in order). In a block of P pairs, per chunk of 4 inputs t0..t3 = 4k..4k+3, per
    pair (X, Y), 8 bytes:
        X[t0] Y[t0] X[t2] Y[t2]   X[t1] Y[t1] X[t3] Y[t3]
    then the n % 4 last inputs, [input][channel]. So one weight stream serves the block, and
      - each halfword is (X + 128) + 256 * Y of one input, read as int16: SMLAD of a raw weight word
        with the input halves (x[t0], x[t2]) adds x*(X + 128) + 256 * x*Y, and SXTB16 of it
        rotated gives Y's halves for a second SMLAD; X = the first sum - 256 * Y's (Cortex-M4);
      - XOR 0x80808080 makes X signed and Y unsigned (Y + 128); rotated by 8 (or 24) and masked
        with 0xFF0000FF the word reads (Y + 128) + 2^24 * X of input t0 (or t2): one 32x32->64
        multiply-accumulate does both channels (the portable path, Cortex-M3).
    So the X (or, on the portable pair path, Y) accumulator carries + 128 * sum(x), taken off once."""
    x_pos = (0, 4, 2, 6)   # byte of input t0..t3 of X in the 8-byte group
    y_pos = (1, 5, 3, 7)
    idx, x_byte = [], []
    o = 0
    while o < out_c:
        size = DOT_BLOCK if out_c - o >= DOT_BLOCK else (2 if out_c - o >= 2 else 1)
        if size == 1:
            idx += [o * n + t for t in range(n)]
            x_byte += [False] * n
        else:
            pairs = size // 2
            for k in range(n // 4):
                for p in range(pairs):
                    group = [0] * 8
                    for i in range(4):
                        group[x_pos[i]] = (o + 2 * p) * n + 4 * k + i
                        group[y_pos[i]] = (o + 2 * p + 1) * n + 4 * k + i
                    idx += group
                    x_byte += [True, False] * 4
            for t in range(n - n % 4, n):
                idx += [(o + c) * n + t for c in range(size)]
                x_byte += [False] * size
        o += size
    return np.array(idx, np.int64), np.array(x_byte, bool)


@dataclass(frozen=True, eq=False)
class Conv(Layer):
    weight: np.ndarray = field(default=None, repr=False)     # int8 [C_out, C_in/group, k, k], OIHW
    bias: np.ndarray = field(default=None, repr=False)       # int32 [C_out]
    x_scale: np.float32 = np.float32(1)
    x_zp: int = 0
    w_scale: np.ndarray = field(default=None, repr=False)    # float32 [C_out]
    y_scale: np.float32 = np.float32(1)
    y_zp: int = 0
    kernel: int = 1
    stride: int = 1
    group: int = 1
    kind = "conv"
    onnx_ops = ("QLinearConv",)

    # ---- frontend ----
    @classmethod
    def recognise(cls, w, n, tensor, dtype, shape):
        w.need(n, dtype, "int8", shape, rank=3)
        if n.input[0] != tensor:
            raise w.err(n, "the activation must be input x")
        c_in, h, w_ = shape
        x_scale = w.scalar(n, 1, "x_scale", "float32")
        x_zp = w.scalar(n, 2, "x_zero_point", "int8")
        wt = w.const(n, 3, "w", "int8")
        if wt.ndim != 4 or wt.shape[2] != wt.shape[3]:
            raise w.err(n, f"weight shape {list(wt.shape)}: expected [C_out, C_in/group, k, k]")
        c_out, k = wt.shape[0], wt.shape[2]
        w_scale = w.const(n, 4, "w_scale", "float32", shape=[(), (1,), (c_out,)])
        w_zp = w.const(n, 5, "w_zero_point", "int8", shape=[(), (1,), (c_out,)])
        if np.any(w_zp != 0):
            raise w.err(n, "nonzero weight zero point is not supported (weights must be symmetric)")
        y_scale = w.scalar(n, 6, "y_scale", "float32")
        y_zp = w.scalar(n, 7, "y_zero_point", "int8")
        bias = w.const(n, 8, "B", "int32", shape=[(c_out,)], optional=True)
        if bias is None:
            bias = np.zeros(c_out, np.int32)
        a = w.check_attrs(n, {
            "auto_pad": lambda v: v in (b"NOTSET", "NOTSET", b"VALID", "VALID"),
            "dilations": lambda v: all(d == 1 for d in v),
            "group": None,
            "kernel_shape": lambda v: list(v) == [k, k],
            "pads": lambda v: all(p == 0 for p in v),
            "strides": lambda v: len(v) == 2 and v[0] == v[1] and v[0] >= 1,
        })
        group = int(a.get("group", 1))
        stride = int(a.get("strides", [1, 1])[0])
        if group == 1:
            ok = wt.shape[1] == c_in
        else:  # depthwise: every group reads one input channel
            ok = group == c_in and wt.shape[1] == 1 and c_out % c_in == 0
        if not ok:
            raise w.err(n, f"group={group} with input channels {c_in} and weight {list(wt.shape)}: "
                           "only group=1 or depthwise is supported")
        if h < k or w_ < k:
            raise w.err(n, f"kernel {k}x{k} larger than the input {h}x{w_}")
        out = (c_out, (h - k) // stride + 1, (w_ - k) // stride + 1)
        w_scale = np.broadcast_to(w_scale.reshape(-1), (c_out,)).astype(np.float32).copy()
        for what, s in (("x_scale", x_scale), ("y_scale", y_scale), ("w_scale", w_scale)):
            if not np.all(np.isfinite(s)) or np.any(s <= 0):
                raise w.err(n, f"{what} must be positive and finite")
        return cls(node=n.name, tensor=n.output[0], in_shape=shape, out_shape=out, weight=wt.copy(),
                   bias=bias.astype(np.int32).copy(), x_scale=np.float32(x_scale), x_zp=int(x_zp),
                   w_scale=w_scale, y_scale=np.float32(y_scale), y_zp=int(y_zp), kernel=int(k),
                   stride=stride, group=group)

    def check(self) -> None:
        if not (-128 <= self.x_zp <= 127 and -128 <= self.y_zp <= 127):
            raise self.fail("zero point outside int8")
        if self.w_scale.shape != (self.out_shape[0],):
            raise self.fail("w_scale must have one entry per output channel")

    # ---- derived numbers ----
    @cached_property
    def rq(self) -> requant.Requant:
        return requant.conv_requant(self)

    def input_channels(self, o: int) -> list[int]:
        """The input channels output channel o reads (before dropping all-zero kernels)."""
        per_group_in = self.in_shape[0] // self.group
        per_group_out = self.out_shape[0] // self.group
        g = o // per_group_out
        return list(range(g * per_group_in, (g + 1) * per_group_in))

    def requant_arrays(self) -> tuple[CArray, ...]:
        rq = self.rq
        c_out = self.out_shape[0]
        return (
            CArray("bias", "int32_t", rq.bias_folded, "bias",
                   f"[{c_out}] int32: B - x_zp*sum(w) (x_zp={self.x_zp} folded in; no padding)"),
            CArray("rq", "uint32_t", rq.bits, "requant",
                   f"[{c_out}] float32 bit patterns of M = fl(fl(x_scale*w_scale)/y_scale)", "float"),
            CArray("rq", "le_rq_t", np.stack([np.where(rq.fast_a != 0, rq.fast_r, rq.mant.astype(np.int64)),
                                              rq.fast_a, np.where(rq.fast_a != 0, rq.fast_sh, rq.shift)], axis=1),
                   "requant", f"[{c_out}] {{r, a, sh}}: fast constants, or {{m, 0, e}} with M = m * 2^e exactly",
                   "int"),
        )

    def whole_window(self) -> bool:
        """The k x k window covers the whole input: one output pixel per channel."""
        return self.in_shape[1:] == (self.kernel, self.kernel) and self.out_shape[1:] == (1, 1)

    def pack(self, force_sparse: bool = False) -> Packed:
        """"sparse": only non-zero (out, in) kernels are stored; kstart[o]..kstart[o+1] index them and
        in_off gives the input map each reads (masked C3 kernels, depthwise layers).
        "dense"/"dot": the full OIHW weight, no index arrays (group 1, chosen when it takes fewer bytes
        than the sparse form: a 1x1 layer pays 2 index bytes per 1-byte kernel)."""
        c_out, _, k, _ = self.weight.shape
        c_in, h, w = self.in_shape
        kernels, offsets, kstart = [], [], [0]
        for o in range(c_out):
            for local, ic in enumerate(self.input_channels(o)):
                kern = self.weight[o, local]
                if np.any(kern != 0):
                    kernels.append(kern.reshape(-1))
                    offsets.append(ic * h * w)
            kstart.append(len(kernels))
        n = len(kernels)
        out_px = self.out_shape[1] * self.out_shape[2]
        manifest = {"acc_bound": self.rq.acc_bound, "requant_wide": self.rq.wide}
        sparse_bytes = n * (k * k + 2) + 2 * (c_out + 1)
        if self.group == 1 and sparse_bytes >= self.weight.size and not force_sparse:
            form = "dot" if self.whole_window() else "dense"
            if form == "dot":
                n_in = c_in * k * k
                w_arr = CArray("w", "int8_t", dot_pack(self.weight.reshape(c_out, n_in)),
                               "weights", f"[{c_out}][{n_in}] int8 (OIHW per channel) in the blocked order of "
                                          "ops/conv.py dot_order: blocks of 6 channels, then pairs, then one; "
                                          "the X bytes of chunks stored as X + 128",
                               align4=True)
            else:
                w_arr = CArray("w", "int8_t", self.weight.reshape(-1).astype(np.int8), "weights",
                               f"[{c_out}][{c_in}][{k}][{k}] int8, OIHW as in the ONNX weight")
            return Packed((w_arr, *self.requant_arrays()), c_out * c_in * k * k * out_px, form, manifest)
        if max(offsets, default=0) > 0xFFFF or n > 0xFFFF:
            raise self.fail("input map too large for 16-bit offsets")
        wts = np.concatenate(kernels) if kernels else np.zeros(0, np.int8)
        arrays = (
            CArray("w", "int8_t", wts.astype(np.int8), "weights",
                   f"[{n} stored kernels][{k}*{k}] int8; all-zero kernels of the ONNX weight are left out"),
            CArray("kstart", "uint16_t", np.array(kstart, np.uint16), "index",
                   f"[{c_out}+1]: output channel o uses stored kernels kstart[o] .. kstart[o+1]-1"),
            CArray("in_off", "uint16_t", np.array(offsets, np.uint16), "index",
                   f"[{n}]: byte offset (in_channel*{h}*{w}) of the input map each stored kernel reads"),
            *self.requant_arrays(),
        )
        return Packed(arrays, n * k * k * out_px, "sparse", manifest)

    # ---- semantics ----
    def accumulate(self, x: np.ndarray) -> np.ndarray:
        """x int8 [N, C, H, W] -> acc int64 [N, C_out, OH, OW] (bias included)."""
        k, s = self.kernel, self.stride
        xs = x.astype(np.int64) - self.x_zp
        win = sliding_window_view(xs, (k, k), axis=(2, 3))[:, :, ::s, ::s]   # [N,C,OH,OW,k,k]
        w = self.weight.astype(np.int64)
        if self.group == 1:
            acc = np.einsum("nchwij,ocij->nohw", win, w)
        else:  # depthwise: output channel o reads input channel o // (C_out / C_in)
            src = np.arange(self.out_shape[0]) // (self.out_shape[0] // self.in_shape[0])
            acc = np.einsum("nohwij,oij->nohw", win[:, src], w[:, 0])
        return acc + self.bias.astype(np.int64)[None, :, None, None]

    def requantize(self, acc: np.ndarray, int_requant: bool) -> np.ndarray:
        """acc [N, C_out, ...] -> int8 codes, by the float path or the C's integer path."""
        rq = self.rq
        acc_c = np.moveaxis(acc, 1, -1)                    # channel last, to broadcast M[c]
        if int_requant:
            fast = rq.fast_a != 0       # the C: fast constants per channel, else the §3b replay
            q = np.where(fast, requant.requant_fast(acc_c, rq.fast_a, rq.fast_r, rq.fast_sh, self.y_zp),
                         requant.requant_int(acc_c, rq.mant, rq.shift, self.y_zp, wide=rq.wide))
        else:
            q = requant.requant_float(acc_c, rq.multiplier, self.y_zp)
        return np.ascontiguousarray(np.moveaxis(q, -1, 1))

    def reference(self, x, int_requant):
        return self.requantize(self.accumulate(x), int_requant)

    # ---- C ----
    def call(self, packed: Packed, io: Ctx) -> Call:
        ic, ih, iw = self.in_shape
        oc, oh, ow = self.out_shape
        wide = "1" if self.rq.wide else "0"   # |acc| may exceed 2^24: le_requant rounds it first
        rq = (io.sym("bias"), io.sym("rq"), str(self.y_zp), wide)
        if packed.form == "dot":
            pairs = "1" if self.rq.acc_bound + PAIR_CHUNK_MARGIN < PAIR_ACC_LIMIT else "0"   # 64-bit pairs exact
            return Call("le_conv_dot_s8", (io.src, str(self.in_size), io.sym("w"), *rq, pairs, io.dst, str(oc)))
        if packed.form == "dense":
            return Call("le_conv_dense_s8", (io.src, str(ic), str(ih), str(iw), str(self.kernel),
                                             str(self.stride), io.sym("w"), *rq, io.dst, str(oc), str(oh), str(ow)))
        return Call("le_conv_sparse_s8", (io.src, str(iw), str(self.kernel), str(self.stride), io.sym("w"),
                                          io.sym("kstart"), io.sym("in_off"), *rq, io.dst, str(oc), str(oh),
                                          str(ow)))
