"""com.microsoft QLinearSoftmax over the last axis (docs/ort-int8-ops.md section 6a)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler import ortmath as om
from lenet_edge.compiler.ir import SUFFIX, GraphOp, Packed, const, f32_bits


@dataclass
class QSoftmax(GraphOp):
    x_scale: np.float32 = np.float32(1)
    y_scale: np.float32 = np.float32(1)
    y_zp: int = 0
    dtype: str = "int8"
    onnx_ops = ("QLinearSoftmax",)
    kernel = "le_qsoftmax_x8"

    def _d(self, shape) -> int:
        rank = len(shape)
        axis = int(self.attrs.get("axis", -1 if int(self.attrs.get("opset", 13)) >= 13 else 1)) % rank
        if int(self.attrs.get("opset", 13)) >= 13:
            if axis != rank - 1:
                raise self.fail("Softmax over an axis other than the last is not supported")
            return int(shape[-1])
        return int(np.prod(shape[axis:]))

    def evaluate(self, xs, int_requant=False):
        x = xs[0]
        d = self._d(x.shape)
        return [om.qlinear_softmax(x.reshape(-1, d), self.x_scale, self.y_scale, self.y_zp,
                                   dtype=self.dtype).reshape(x.shape)]

    def _table(self, d):
        t = om.softmax_table(self.x_scale, d)
        if self.dtype == "int8":              # the kernel indexes by the byte of (127 - max + x)
            s = np.empty(256, np.float32)
            s[(np.arange(256) - 128) & 0xFF] = t
            t = s
        return t

    def pack(self) -> Packed:
        return Packed()     # the table depends on the row length; emitted with the call

    def macs(self, shape):
        return 2 * int(np.prod(shape[self.inputs[0]]))

    def call(self, packed, ctx):
        x, y = self.inputs[0], self.outputs[0]
        shape = ctx.shape[x]
        d = self._d(shape)
        rows = int(np.prod(shape)) // d
        table = ", ".join(f"0x{int(v):08x}u" for v in self._table(d).view(np.uint32))
        ys = np.float32(np.floor(np.float32(1.0) / np.float32(self.y_scale)))
        return (f"{{ static const uint32_t table[256] = {{{table}}};\n"
                f"      le_qsoftmax_{SUFFIX[self.dtype]}({ctx.buf[x]}, {rows}, {d}, table, 0x{f32_bits(ys):08x}u, "
                f"{self.y_zp}, {ctx.buf[y]}); }}")
