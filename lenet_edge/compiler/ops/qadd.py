"""com.microsoft QLinearAdd in ORT's x86-64 arithmetic (fused multiply-adds; docs/ort-int8-ops.md
section 4)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler import ortmath as om
from lenet_edge.compiler.ir import SUFFIX, f32_bits
from lenet_edge.compiler.ops._binary import QBinary

f32 = np.float32


@dataclass
class QAdd(QBinary):
    onnx_ops = ("QLinearAdd",)

    def evaluate(self, xs, int_requant=False):
        b = self.b_const if self.b_const is not None else xs[1]
        return [om.qlinear_add(xs[0], self.a_scale, self.a_zp, b, self.b_scale, self.b_zp, self.c_scale,
                               self.c_zp, dtype=self.dtype)]

    def call(self, packed, ctx):
        a_shape, b_shape, sp, a_buf, b_buf = self.operands(ctx)
        n, inner, a_span, a_elem, b_span, b_elem = sp
        path = om.broadcast_paths(tuple(a_shape), tuple(b_shape))
        # the kernel's P is the operand that varies along the inner loop (ORT swaps A and B when A is
        # the single value); base = fl(zc - fma(rP, zP, fl(rQ * zQ)))
        if path == "a_scalar":
            p = (b_buf, b_span, b_elem, self.b_scale, self.b_zp)
            q = (a_buf, a_span, a_elem, self.a_scale, self.a_zp)
        else:
            p = (a_buf, a_span, a_elem, self.a_scale, self.a_zp)
            q = (b_buf, b_span, b_elem, self.b_scale, self.b_zp)
        rp, rq = f32(f32(p[3]) / f32(self.c_scale)), f32(f32(q[3]) / f32(self.c_scale))
        base = f32(f32(self.c_zp) - om._fma(rp, f32(p[4]), f32(rq * f32(q[4]))))
        return (f"le_qadd_generic_{SUFFIX[self.dtype]}({p[0]}, {p[1]}, {p[2]}, {q[0]}, {q[1]}, {q[2]}, {n}, {inner}, "
                f"0x{f32_bits(rp):08x}u, 0x{f32_bits(rq):08x}u, 0x{f32_bits(base):08x}u, {ctx.buf[self.outputs[0]]});")
