"""The paper's RBF head: Cast(int8 -> int32) -> Unsqueeze -> Sub(centres) -> Mul(d, d) -> ReduceSum.

scores[c] = sum_j (x[j] - centres[c, j])^2, int32, lower is better.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from onnx import TensorProto

from lenet_edge.compiler.ir import CArray, Call, Ctx, Layer, Packed

INT32_MAX = 2**31 - 1


@dataclass(frozen=True, eq=False)
class Rbf(Layer):
    """scores[c] = sum_j (x[j] - centres[c, j])^2, int32."""
    centres: np.ndarray = field(default=None, repr=False)    # int32 [classes, K]
    kind = "rbf"
    onnx_ops = ("Cast",)
    out_dtype = "int32"

    @classmethod
    def recognise(cls, w, cast, tensor, dtype, shape):
        if w.peek(cast.output[0]) != "Unsqueeze":
            return None
        w.check_attrs(cast, {"to": lambda v: v == TensorProto.INT32, "saturate": None})
        if dtype != "int8":
            raise w.err(cast, f"input is {dtype}, expected int8")
        unsq = w.next_node(cast.output[0], ("Unsqueeze",), after=cast)
        if len(shape) != 1:
            raise w.err(cast, f"RBF head input has shape {list(shape)}, expected a flat vector")
        axes = w.const(unsq, 1, "axes", "int64")
        if [int(a) for a in axes.reshape(-1)] != [1]:
            raise w.err(unsq, "expected axes=[1]")
        sub = w.next_node(unsq.output[0], ("Sub",), after=unsq)
        if unsq.output[0] not in sub.input[:2] or sub.input[0] == sub.input[1]:
            raise w.err(sub, "expected x - centres")
        k = shape[0]
        # (x - p)^2 == (p - x)^2: either operand order is the same head
        centres = w.const(sub, 1 if sub.input[0] == unsq.output[0] else 0, "centres", "int32")
        if centres.ndim != 2 or centres.shape[1] != k:
            raise w.err(sub, f"centres shape {list(centres.shape)}, expected [classes, {k}]")
        if np.abs(centres.astype(np.int64)).max(initial=0) > 2**15:
            raise w.err(sub, "centres must lie within +-32768 (int32 sums of squares)")
        mul = w.next_node(sub.output[0], ("Mul",), after=sub)
        if list(mul.input) != [sub.output[0], sub.output[0]]:
            raise w.err(mul, "expected the square d * d")
        red = w.next_node(mul.output[0], ("ReduceSum",), after=mul)
        w.check_attrs(red, {"keepdims": lambda v: v == 0, "noop_with_empty_axes": lambda v: v == 0})
        axes = w.const(red, 1, "axes", "int64")
        if [int(a) for a in axes.reshape(-1)] not in ([2], [-1]):
            raise w.err(red, "expected axes=[2]")
        return cls(node=red.name, tensor=red.output[0], in_shape=shape, out_shape=(centres.shape[0],),
                   centres=centres.astype(np.int32).copy())

    def check(self) -> None:
        k = self.in_shape[0]
        worst = k * (128 + int(np.abs(self.centres.astype(np.int64)).max(initial=0))) ** 2
        if worst > INT32_MAX or np.abs(self.centres).max(initial=0) > 32767:
            raise self.fail("RBF sum of squares could overflow int32")

    @property
    def magnitude(self) -> int:
        """A > 0 if every centre is -A or +A (the paper's +-1 glyphs at the input scale, A = 74):
        then they are stored as one bit each; else 0."""
        a = int(np.abs(self.centres).max(initial=0))
        return a if a > 0 and bool(np.all(np.abs(self.centres) == a)) else 0

    def pack(self) -> Packed:
        c, kk = self.centres.shape
        if self.magnitude:
            # bit j % 8 of byte j / 8 of row c is 1 where centres[c, j] == +A
            bits = np.packbits(self.centres > 0, axis=1, bitorder="little")
            return Packed((CArray("centres", "uint8_t", bits.reshape(-1), "weights",
                                  f"[{c}][{bits.shape[1]}] centre (c, j) = +{self.magnitude} if bit j%8 of "
                                  f"byte j/8 is set, else -{self.magnitude}"),), c * kk, "bits")
        return Packed((CArray("centres", "int16_t", self.centres.astype(np.int16).reshape(-1), "weights",
                              f"[{c}][{kk}] RBF centres (codes at the input scale)"),), c * kk, "int16")

    def reference(self, x, int_requant):
        d = x.astype(np.int32)[:, None, :] - self.centres[None]
        return (d * d).sum(axis=2, dtype=np.int32)

    def call(self, packed: Packed, io: Ctx) -> Call:
        if packed.form == "bits":
            return Call("le_rbf_bits_s8", (io.src, str(self.in_size), io.sym("centres"), str(self.magnitude),
                                           str(self.out_size), "scores"))
        return Call("le_rbf_s8", (io.src, str(self.in_size), io.sym("centres"), str(self.out_size), "scores"))
