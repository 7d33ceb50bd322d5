"""com.microsoft QLinearMul (docs/ort-int8-ops.md section 5)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler import ortmath as om
from lenet_edge.compiler.ops._binary import spans
from lenet_edge.compiler.ir import SUFFIX, GraphOp, Packed, const, f32_bits

f32 = np.float32


@dataclass
class QMul(GraphOp):
    a_scale: np.float32 = f32(1)
    a_zp: int = 0
    b_scale: np.float32 = f32(1)
    b_zp: int = 0
    c_scale: np.float32 = f32(1)
    c_zp: int = 0
    b_const: np.ndarray | None = None
    dtype: str = "int8"
    onnx_ops = ("QLinearMul",)
    kernel = "le_qbinary_generic_x8"

    def evaluate(self, xs, int_requant=False):
        b = self.b_const if self.b_const is not None else xs[1]
        return [om.qlinear_mul(xs[0], self.a_scale, self.a_zp, b, self.b_scale, self.b_zp, self.c_scale,
                               self.c_zp, dtype=self.dtype)]

    def pack(self) -> Packed:
        if self.b_const is None:
            return Packed()
        return Packed((const("b", "int8_t" if self.dtype == "int8" else "uint8_t", self.b_const.reshape(-1), "constant B codes"),))

    def macs(self, shape):
        return int(np.prod(shape[self.outputs[0]]))

    def call(self, packed, ctx):
        a = self.inputs[0]
        a_shape = ctx.shape[a]
        b_shape = self.b_const.shape if self.b_const is not None else ctx.shape[self.inputs[1]]
        sp = spans(a_shape, b_shape)
        if sp is None:
            raise self.fail(f"broadcast of {list(a_shape)} with {list(b_shape)} is not supported")
        n, inner, a_span, a_elem, b_span, b_elem = sp
        b_buf = ctx.sym('b') if self.b_const is not None else ctx.buf[self.inputs[1]]
        r = f32(f32(f32(self.a_scale) * f32(self.b_scale)) / f32(self.c_scale))
        return (f"le_qmul_generic_{SUFFIX[self.dtype]}({ctx.buf[a]}, {a_span}, {a_elem}, {self.a_zp}, {b_buf}, "
                f"{b_span}, {b_elem}, {self.b_zp}, {n}, {inner}, 0x{f32_bits(r):08x}u, {self.c_zp}, "
                f"{ctx.buf[self.outputs[0]]});")
