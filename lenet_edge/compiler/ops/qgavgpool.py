"""com.microsoft QLinearGlobalAveragePool, NCHW or NHWC (docs/ort-int8-ops.md section 6)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler import ortmath as om
from lenet_edge.compiler.ir import SUFFIX, f32_bits
from lenet_edge.compiler.ops._pool import QPool


@dataclass
class QGlobalAvgPool(QPool):
    onnx_ops = ("QLinearGlobalAveragePool",)

    def evaluate(self, xs, int_requant=False):
        x = xs[0].transpose(0, 3, 1, 2) if self.channels_last else xs[0]
        y = om.qlinear_global_average_pool(x, self.x_scale, self.x_zp, self.y_scale, self.y_zp, dtype=self.dtype)
        return [np.ascontiguousarray(y.transpose(0, 2, 3, 1)) if self.channels_last else y]

    def macs(self, shape):
        return int(np.prod(shape[self.inputs[0]]))

    def call(self, packed, ctx):
        x, y = self.inputs[0], self.outputs[0]
        shp = ctx.shape[x]
        if self.channels_last:
            _, h, w, c = shp
            xc, xi, yc = 1, c, 1
        else:
            _, c, h, w = shp
            xc, xi, yc = h * w, 1, 1
        n = h * w
        scale = np.float32(np.float32(self.x_scale) / np.float32(np.float32(self.y_scale) * np.float32(n)))
        return (f"le_qgavgpool_{SUFFIX[self.dtype]}({ctx.buf[x]}, {c}, {n}, {xc}, {xi}, {self.x_zp}, "
                f"0x{f32_bits(scale):08x}u, {self.y_zp}, {yc}, {ctx.buf[y]});")
