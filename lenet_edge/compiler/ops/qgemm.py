"""com.microsoft QGemm (int8 output) and QLinearMatMul with a constant B (docs/ort-int8-ops.md
section 3). B is stored as [N][K] for the kernel."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lenet_edge.compiler import ortmath as om
from lenet_edge.compiler.ir import SUFFIX, GraphOp, Packed, bits_array, const


@dataclass
class QGemm(GraphOp):
    a_scale: np.float32 = np.float32(1)
    a_zp: int = 0
    b_nk: np.ndarray = field(default=None, repr=False)      # [N, K] int8
    b_scale: np.ndarray = field(default=None, repr=False)
    b_zp: np.ndarray = field(default=None, repr=False)
    bias: np.ndarray = field(default=None, repr=False)      # [N] int32 or None
    y_scale: np.float32 = np.float32(1)
    y_zp: int = 0
    alpha: float | None = None                              # QGemm: multiplier fl(fl(alpha*sa)*sb)/sy
    dtype: str = "int8"
    onnx_ops = ("QGemm", "QLinearMatMul")
    kernel = "le_qgemm_generic_x8"

    def _mult(self):
        n = self.b_nk.shape[0]
        return np.broadcast_to(om.output_multiplier(self.a_scale, self.b_scale, self.y_scale, alpha=self.alpha)
                               .reshape(-1), (n,))

    def evaluate(self, xs, int_requant=False):
        a = xs[0]
        rows = int(np.prod(a.shape[:-1]))
        acc = om.matmul_accumulate(a.reshape(rows, -1), self.a_zp, self.b_nk.T, self.b_zp)
        if self.bias is not None:
            acc = acc + np.asarray(self.bias, np.int64)
        y = om.requantize(acc, self._mult(), self.y_zp, self.dtype)
        return [y.reshape(*a.shape[:-1], self.b_nk.shape[0])]

    def pack(self) -> Packed:
        n = self.b_nk.shape[0]
        zb = np.broadcast_to(np.asarray(self.b_zp, np.int32).reshape(-1), (n,))
        bias = np.zeros(n, np.int32) if self.bias is None else np.broadcast_to(np.asarray(self.bias, np.int32).reshape(-1), (n,))
        return Packed((const("b", "int8_t", self.b_nk.reshape(-1), f"B {list(self.b_nk.shape)} as [N][K]"),
                const("zb", "int32_t", np.ascontiguousarray(zb), "B zero point per column"),
                const("bias", "int32_t", np.ascontiguousarray(bias), "int32 bias per column"),
                const("mult", "uint32_t", bits_array(self._mult()), "float32 bits of the requant multiplier"),))

    def macs(self, shape):
        a = shape[self.inputs[0]]
        return int(np.prod(a[:-1])) * int(self.b_nk.size)

    def call(self, packed, ctx):
        a, y = self.inputs[0], self.outputs[0]
        shp = ctx.shape[a]
        rows, k = int(np.prod(shp[:-1])), shp[-1]
        n = self.b_nk.shape[0]
        return (f"le_qgemm_generic_{SUFFIX[self.dtype]}({ctx.buf[a]}, {self.a_zp}, {rows}, {k}, {ctx.sym('b')}, "
                f"{ctx.sym('zb')}, {ctx.sym('bias')}, {ctx.sym('mult')}, {self.y_zp}, {n}, {ctx.buf[y]});")
