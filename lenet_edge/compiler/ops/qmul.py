"""com.microsoft QLinearMul (docs/ort-int8-ops.md section 5)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler import ortmath as om
from lenet_edge.compiler.ir import SUFFIX, f32_bits
from lenet_edge.compiler.ops._binary import QBinary

f32 = np.float32


@dataclass
class QMul(QBinary):
    onnx_ops = ("QLinearMul",)

    def evaluate(self, xs, int_requant=False):
        b = self.b_const if self.b_const is not None else xs[1]
        return [om.qlinear_mul(xs[0], self.a_scale, self.a_zp, b, self.b_scale, self.b_zp, self.c_scale,
                               self.c_zp, dtype=self.dtype)]

    def macs(self, shape):
        return int(np.prod(shape[self.outputs[0]]))

    def call(self, packed, ctx):
        _, _, sp, a_buf, b_buf = self.operands(ctx)
        n, inner, a_span, a_elem, b_span, b_elem = sp
        r = f32(f32(f32(self.a_scale) * f32(self.b_scale)) / f32(self.c_scale))
        return (f"le_qmul_generic_{SUFFIX[self.dtype]}({a_buf}, {a_span}, {a_elem}, {self.a_zp}, {b_buf}, "
                f"{b_span}, {b_elem}, {self.b_zp}, {n}, {inner}, 0x{f32_bits(r):08x}u, {self.c_zp}, "
                f"{ctx.buf[self.outputs[0]]});")
