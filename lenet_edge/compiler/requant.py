"""Requantization constants: the only place that derives them (docs int8-arithmetic.md §3).

Float path (§3a):   M[c] = fl(fl(x_scale * w_scale[c]) / y_scale), one binary32 op at a time, in
                    that order; emitted as its exact 32-bit pattern.
Integer path (§3b): M[c] = m[c] * 2^e[c] with 2^23 <= m < 2^24, replayed with 64-bit integers.
Bound:              |acc| <= 2^24 so float(acc) is exact (checked per layer from the weights).

`requant_float` / `requant_int` are numpy emulations of the two C paths (used by the reference
interpreter and by the staircase tests).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler import ir
from lenet_edge.errors import LenetEdgeError

ACC_LIMIT = 2**24


@dataclass(frozen=True, eq=False)
class Requant:
    multiplier: np.ndarray      # float32 [C_out], M[c]
    bits: np.ndarray            # uint32 [C_out], the bit patterns of M[c]
    mant: np.ndarray            # uint32 [C_out], m[c] in [2^23, 2^24)
    shift: np.ndarray           # int32 [C_out], e[c]: M = m * 2^e (always negative here)
    bias_folded: np.ndarray     # int32 [C_out], B[c] - x_zp * sum(w[c]): acc = bias_folded + sum x*w
    acc_bound: int              # max |acc| over every possible input


def multipliers(x_scale, w_scale, y_scale) -> np.ndarray:
    """M[c] = fl(fl(sx * sw[c]) / sy) in binary32 (numpy float32 arrays round every op)."""
    sx = np.float32(x_scale)
    sy = np.float32(y_scale)
    prod = (sx * np.asarray(w_scale, dtype=np.float32)).astype(np.float32)
    return (prod / sy).astype(np.float32)


def split(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 M (positive, normal) -> (m, e) with M = m * 2^e exactly and 2^23 <= m < 2^24."""
    bits = m.astype(np.float32).view(np.uint32)
    mant = (bits & 0x7FFFFF) | 0x800000
    exp = ((bits >> 23) & 0xFF).astype(np.int32) - 127 - 23
    return mant.astype(np.uint32), exp


def conv_requant(layer: ir.Conv) -> Requant:
    m = multipliers(layer.x_scale, layer.w_scale, layer.y_scale)
    bits = m.view(np.uint32)
    expo = (bits >> 23) & 0xFF
    if np.any(expo == 0) or np.any(expo == 0xFF):
        raise LenetEdgeError(f'ONNX node "{layer.node}": requant multiplier x_scale*w_scale/y_scale is '
                             "zero, subnormal or not finite")
    mant, shift = split(m)
    w = layer.weight.astype(np.int64).reshape(layer.weight.shape[0], -1)
    bias = layer.bias.astype(np.int64)
    # x - x_zp lies in [-128 - x_zp, 127 - x_zp]
    dx = max(128 + layer.x_zp, 127 - layer.x_zp)
    bound = int(np.max(np.abs(w).sum(axis=1) * dx + np.abs(bias)))
    if bound > ACC_LIMIT:
        raise LenetEdgeError(f'ONNX node "{layer.node}": accumulator bound {bound} exceeds 2^24, so '
                             "float32(acc) would not be exact")
    folded = bias - layer.x_zp * w.sum(axis=1)
    return Requant(multiplier=m, bits=bits.copy(), mant=mant, shift=shift,
                   bias_folded=folded.astype(np.int32), acc_bound=bound)


def requant_float(acc: np.ndarray, m: np.ndarray, y_zp: int) -> np.ndarray:
    """ORT's float path: clamp(RNE(fl(float(acc) * M)) + y_zp, -128, 127). acc int [..., C] with M [C]
    broadcast along the last axis (or pass M already shaped to broadcast)."""
    v = acc.astype(np.float32) * m.astype(np.float32)
    q = np.rint(v).astype(np.int64) + y_zp
    return np.clip(q, -128, 127).astype(np.int8)


def _round_shift(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """x >> s rounded half to even, x >= 0 int64, s >= 1 int64 (s may exceed 62: result 0)."""
    big = s >= 63
    s = np.where(big, 1, s)
    q = x >> s
    rem = x & ((np.int64(1) << s) - 1)
    half = np.int64(1) << (s - 1)
    q = q + ((rem > half) | ((rem == half) & ((q & 1) == 1)))
    return np.where(big, 0, q)


def requant_int(acc: np.ndarray, mant: np.ndarray, shift: np.ndarray, y_zp: int) -> np.ndarray:
    """The integer-only path of §3b (mirrors le_requant in the C, |acc| <= 2^24)."""
    acc = acc.astype(np.int64)
    a = np.abs(acc)
    p = a * mant.astype(np.int64)                          # < 2^48, exact
    bl = np.zeros_like(p)                                  # bit length of p
    t = p.copy()
    for step in (32, 16, 8, 4, 2, 1):
        hi = (t >> step) > 0
        bl = bl + np.where(hi, step, 0)
        t = np.where(hi, t >> step, t)
    bl = bl + (t > 0)
    d = np.maximum(bl - 24, 0)
    p24 = np.where(d > 0, _round_shift(p, np.maximum(d, 1)), p)   # round to 24 significant bits
    k = -(d + shift.astype(np.int64))                      # value = p24 * 2^-k
    right = _round_shift(p24, np.maximum(k, 1))
    left = np.where(-k >= 8, 256, p24 << np.clip(-k, 0, 7))       # >= 256 saturates anyway
    q = np.where(k > 0, right, np.where(p24 == 0, 0, left))
    q = np.where(acc < 0, -q, q) + y_zp
    return np.clip(q, -128, 127).astype(np.int8)
