"""Requantization constants: the only place that derives them (docs/int8-arithmetic.md, section 3).

Float path (§3a):   M[c] = fl(fl(x_scale * w_scale[c]) / y_scale), one binary32 op at a time, in
                    that order; emitted as its exact 32-bit pattern.
Integer path (§3b): M[c] = m[c] * 2^e[c] with 2^23 <= m < 2^24, replayed with 64-bit integers.
Bounds (per layer, from the weights and bias):
  * the C accumulation may not overflow int32 (an error naming the node otherwise);
  * |acc| <= 2^24 makes float32(acc) exact. Above that (S2/S4 of a trained paper model: a tiny
    per-channel weight scale makes the int32 bias large) ORT's int->float conversion rounds acc to
    24 significant bits, half to even, and so does C's (float)acc, so the float path is unchanged;
    the integer path must do that rounding itself first. Such a layer is "wide" and gets its own
    kernel variant (le_requant_wide), so layers that stay below 2^24 pay nothing for it.

Fast integer path (what the C runs on FPU-less targets): the float path is odd in acc before the
zero point (fl(-x) = -fl(x), RNE is symmetric), and u = |acc| -> min(RNE(fl(u * M)), 255) is a
monotone staircase with at most 255 steps (codes >= 255 saturate either sign). Per channel we look
for raw(u) = floor((u * a + r) / 2^(32 + sh)) (one 32x32->64 multiply-accumulate, the high word, a
shift) with exactly the same steps on u in [0, acc_bound]: the steps of the replay are found by
bisection, and a, r are chosen so that every step lands where it must (two monotone staircases
agreeing at every step agree everywhere). Then q = clamp(sign(acc) * raw + y_zp, -128, 127).
A channel where no such (a, r) exists gets a = 0 and keeps the §3b replay.

`requant_float` / `requant_int` / `requant_fast` are numpy emulations of the C paths (used by the
reference interpreter and by the staircase tests).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler import ir
from lenet_edge.errors import LenetEdgeError

FLOAT_EXACT = 2**24         # every integer with |acc| <= 2^24 is exact in binary32
INT32_MAX = 2**31 - 1


@dataclass(frozen=True, eq=False)
class Requant:
    multiplier: np.ndarray      # float32 [C_out], M[c]
    bits: np.ndarray            # uint32 [C_out], the bit patterns of M[c]
    mant: np.ndarray            # uint32 [C_out], m[c] in [2^23, 2^24)
    shift: np.ndarray           # int32 [C_out], e[c]: M = m * 2^e (always negative here)
    bias_folded: np.ndarray     # int32 [C_out], B[c] - x_zp * sum(w[c]): acc = bias_folded + sum x*w
    acc_bound: int              # max |acc| over every possible input
    wide: bool                  # acc_bound > 2^24: the integer path rounds |acc| to 24 bits first
    fast_a: np.ndarray          # int64 [C_out], a[c] in [1, 2^31) or 0: channel keeps the §3b replay
    fast_r: np.ndarray          # int64 [C_out], r[c]
    fast_sh: np.ndarray         # int64 [C_out], sh[c] in [0, 31]


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
    w_abs = np.abs(w).sum(axis=1)
    # x - x_zp lies in [-128 - x_zp, 127 - x_zp]
    dx = max(128 + layer.x_zp, 127 - layer.x_zp)
    bound = int(np.max(w_abs * dx + np.abs(bias)))
    folded = bias - layer.x_zp * w.sum(axis=1)
    # The C starts from the folded bias and adds x*w with raw codes x in [-128, 127] in any order,
    # so every partial sum (and the final acc, the same number ORT gets) is within this:
    c_bound = int(np.max(np.abs(folded) + 128 * w_abs))
    if max(bound, c_bound) > INT32_MAX:
        raise LenetEdgeError(f'ONNX node "{layer.node}": accumulator bound {max(bound, c_bound)} exceeds '
                             "the int32 range (bias or weights too large)")
    wide = bound > FLOAT_EXACT
    fast_a, fast_r, fast_sh = fast_constants(mant, shift, layer.y_zp, bound, wide)
    return Requant(multiplier=m, bits=bits.copy(), mant=mant, shift=shift,
                   bias_folded=folded.astype(np.int32), acc_bound=bound, wide=wide,
                   fast_a=fast_a, fast_r=fast_r, fast_sh=fast_sh)


def staircase_steps(mant: np.ndarray, shift: np.ndarray, y_zp: int, lo_acc: int, hi_acc: int,
                    wide: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps of the §3b replay on [lo_acc, hi_acc], per channel, by bisection.
    -> (steps int64 [C, 255], valid bool [C, 255], ends int64 [C, 2]): steps[c, j] is the smallest acc
    with q >= j - 127 (meaningful where valid: q(lo_acc) < j - 127 <= q(hi_acc)); ends = q(lo_acc), q(hi_acc)."""
    c = len(mant)
    m = np.asarray(mant)[:, None]
    e = np.asarray(shift)[:, None]
    q_at = lambda acc: requant_int(acc, np.broadcast_to(m, acc.shape), np.broadcast_to(e, acc.shape),
                                   y_zp, wide).astype(np.int64)
    ends = q_at(np.tile(np.array([[lo_acc, hi_acc]], np.int64), (c, 1)))
    level = np.arange(-127, 128, dtype=np.int64)[None, :]
    valid = (ends[:, :1] < level) & (level <= ends[:, 1:])
    lo = np.full((c, level.size), lo_acc, np.int64)          # q(lo) < level (where valid)
    hi = np.full((c, level.size), hi_acc, np.int64)           # q(hi) >= level
    while np.any(hi - lo > 1):
        mid = lo + (hi - lo) // 2
        up = q_at(mid) >= level
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
    return hi, valid, ends


def requant_fast(acc: np.ndarray, a: np.ndarray, r: np.ndarray, sh: np.ndarray, y_zp: int) -> np.ndarray:
    """The fast C path: raw = floor((|acc| * a + r) / 2^(32 + sh)), q = clamp(sign(acc) * raw + y_zp),
    in int64 (no overflow for |acc| <= acc_bound: fast_constants checks it)."""
    acc = acc.astype(np.int64)
    raw = (np.abs(acc) * a.astype(np.int64) + r.astype(np.int64)) >> (32 + sh.astype(np.int64))
    return np.clip(np.where(acc < 0, -raw, raw) + y_zp, -128, 127).astype(np.int8)


def fast_constants(mant: np.ndarray, shift: np.ndarray, y_zp: int, bound: int,
                   wide: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per channel (a, r, sh) such that requant_fast == requant_int on every acc in [-bound, bound],
    or a = 0 where none exists. raw >= top = max(127 - y_zp, 128 + y_zp) saturates either sign, so
    floor((u * a + r') / 2^s) fits requant_int(u, z) = min(raw, top) + z (z = 127 - top) for u in
    [0, bound], and r = r' - z * 2^s. s = 32 + sh = 7 - e (so a near m * 2^7 fills 31 bits); for each a the
    feasible r form an interval [r_min(a), r_max(a)] given exactly by the steps, and its width is
    concave in a, so a ternary search finds the widest; r is the middle of that interval."""
    lo_acc, hi_acc = 0, bound
    z = 127 - max(127 - y_zp, 128 + y_zp)
    steps, valid, ends = staircase_steps(mant, shift, z, lo_acc, hi_acc, wide)
    n = len(mant)
    fast_a = np.zeros(n, np.int64)
    fast_r = np.zeros(n, np.int64)
    fast_sh = np.zeros(n, np.int64)
    for c in range(n):
        s = 7 - int(shift[c])                                # 2^s / 2^32: sh = s - 32
        if not 32 <= s <= 63 - 10:                           # level * 2^s must stay far inside int64
            continue
        t = steps[c][valid[c]]
        lv = np.flatnonzero(valid[c]).astype(np.int64) - 127
        lo_q, hi_q = int(ends[c, 0]), int(ends[c, 1])
        # q(t_L) >= L and q(t_L - 1) < L at every step L; the ends keep their codes:
        # r >= max(L*2^s - t_L*a, ...) = r_min(a) (convex in a), r <= r_max(a) (concave)
        ge_t, ge_k = np.append(t, lo_acc), np.append(lv, lo_q)[: len(t) + (lo_q > -128)]
        ge_t = ge_t[: len(ge_k)]
        lt_t, lt_k = np.append(t - 1, hi_acc), np.append(lv, hi_q + 1)[: len(t) + (hi_q < 127)]
        lt_t = lt_t[: len(lt_k)]
        if len(ge_t) == 0 or len(lt_t) == 0:
            continue

        def window(a: int) -> tuple[int, int]:
            return (int(np.max((ge_k << s) - ge_t * a)), int(np.min((lt_k << s) - lt_t * a)) - 1)

        lo_a, hi_a = 1, 2**31 - 1      # maximise r_max - r_min (concave) by ternary search over a
        while hi_a - lo_a > 2:
            m1, m2 = lo_a + (hi_a - lo_a) // 3, hi_a - (hi_a - lo_a) // 3
            w1, w2 = window(m1), window(m2)
            if w1[1] - w1[0] < w2[1] - w2[0]:
                lo_a = m1
            else:
                hi_a = m2
        widths = [(window(a)[1] - window(a)[0], -abs(a - (int(mant[c]) << 7)), a) for a in range(lo_a, hi_a + 1)]
        width, _, a = max(widths)
        r_min, r_max = window(a)
        r = r_min + (r_max - r_min) // 2
        if width < 0 or max(-lo_acc, hi_acc) * a + abs(r) >= 2**63:
            continue
        r -= z << s
        if hi_acc * a + abs(r) >= 2**63:
            continue
        fast_a[c], fast_r[c], fast_sh[c] = a, r, s - 32
    return fast_a, fast_r, fast_sh


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


def _bitlen(x: np.ndarray) -> np.ndarray:
    """Number of significant bits of x >= 0 int64 (0 for 0)."""
    bl = np.zeros_like(x)
    t = x.copy()
    for step in (32, 16, 8, 4, 2, 1):
        hi = (t >> step) > 0
        bl = bl + np.where(hi, step, 0)
        t = np.where(hi, t >> step, t)
    return bl + (t > 0)


def _round24(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x >= 0 int64 -> (r, d): x rounded to 24 significant bits half to even, x ~ r * 2^d (d >= 0)."""
    d = np.maximum(_bitlen(x) - 24, 0)
    return np.where(d > 0, _round_shift(x, np.maximum(d, 1)), x), d


def requant_int(acc: np.ndarray, mant: np.ndarray, shift: np.ndarray, y_zp: int,
                wide: bool = False) -> np.ndarray:
    """The integer-only path of §3b: le_requant in the C (wide=False, exact for |acc| <= 2^24) or
    le_requant_wide (wide=True: |acc| is first rounded to 24 significant bits, half to even, as
    float32(acc) is; exact for any int32 acc)."""
    acc = acc.astype(np.int64)
    a = np.abs(acc)
    d0 = np.zeros_like(a)
    if wide:
        a, d0 = _round24(a)                                # a <= 2^24, value a * 2^d0
    p = a * mant.astype(np.int64)                          # exact: < 2^48 (< 2^55 if not wide)
    p24, d = _round24(p)                                   # the float32 product, p24 * 2^d
    k = -(d0 + d + shift.astype(np.int64))                 # value = p24 * 2^-k
    right = _round_shift(p24, np.maximum(k, 1))
    left = np.where(-k >= 8, 256, p24 << np.clip(-k, 0, 7))       # >= 256 saturates anyway
    q = np.where(k > 0, right, np.where(p24 == 0, 0, left))
    q = np.where(acc < 0, -q, q) + y_zp
    return np.clip(q, -128, 127).astype(np.int8)
