"""com.microsoft QLinearAveragePool, NCHW or NHWC (docs/ort-int8-ops.md section 6)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler import ortmath as om
from lenet_edge.compiler.ir import SUFFIX, f32_bits
from lenet_edge.compiler.ops._pool import QPool, check_pool_attrs, pool_geometry


@dataclass
class QAvgPool(QPool):
    onnx_ops = ("QLinearAveragePool",)

    def __post_init__(self):
        check_pool_attrs(self)

    def evaluate(self, xs, int_requant=False):
        x = xs[0].transpose(0, 3, 1, 2) if self.channels_last else xs[0]
        a = self.attrs
        y = om.qlinear_average_pool(x, self.x_scale, self.x_zp, self.y_scale, self.y_zp, tuple(a["kernel_shape"]),
                                    tuple(a.get("strides", (1, 1))), tuple(a.get("pads", (0, 0, 0, 0))),
                                    bool(a.get("count_include_pad", 0)), dtype=self.dtype)
        return [np.ascontiguousarray(y.transpose(0, 2, 3, 1)) if self.channels_last else y]

    def macs(self, shape):
        kh, kw = self.attrs["kernel_shape"]
        return int(np.prod(shape[self.outputs[0]])) * kh * kw

    def call(self, packed, ctx):
        x, y = self.inputs[0], self.outputs[0]
        geom = pool_geometry(self.attrs, ctx.shape[x], ctx.shape[y], self.channels_last)
        return (f"{{ static const le_pool_shape_t s = {geom};\n"
                f"      le_qavgpool_generic_{SUFFIX[self.dtype]}({ctx.buf[x]}, 0x{f32_bits(self.x_scale):08x}u, "
                f"{self.x_zp}, 0x{f32_bits(self.y_scale):08x}u, {self.y_zp}, &s, {ctx.buf[y]}); }}")
