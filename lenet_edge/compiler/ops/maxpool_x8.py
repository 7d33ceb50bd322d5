"""MaxPool / ORT's NhwcMaxPool on codes (docs/ort-int8-ops.md section 6)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler import ortmath as om
from lenet_edge.compiler.ops._pool import check_pool_attrs, pool_geometry
from lenet_edge.compiler.ir import SUFFIX, GraphOp


@dataclass
class MaxPoolX8(GraphOp):
    dtype: str = "int8"
    onnx_ops = ("MaxPool", "NhwcMaxPool")
    kernel = "le_pool_generic_x8"

    def __post_init__(self):
        check_pool_attrs(self)
        if len([o for o in self.outputs if o]) != 1:
            raise self.fail("the Indices output is not supported")

    @property
    def channels_last(self):
        return self.op == "NhwcMaxPool"

    def evaluate(self, xs, int_requant=False):
        x = xs[0].transpose(0, 3, 1, 2) if self.channels_last else xs[0]
        a = self.attrs
        y = om.max_pool(x, tuple(a["kernel_shape"]), tuple(a.get("strides", (1, 1))), tuple(a.get("pads", (0, 0, 0, 0))))
        return [np.ascontiguousarray(y.transpose(0, 2, 3, 1)) if self.channels_last else y]

    def call(self, packed, ctx):
        x, y = self.inputs[0], self.outputs[0]
        geom = pool_geometry(self.attrs, ctx.shape[x], ctx.shape[y], self.channels_last)
        return (f"{{ static const le_pool_shape_t s = {geom};\n"
                f"      le_maxpool_generic_{SUFFIX[self.dtype]}({ctx.buf[x]}, &s, {ctx.buf[y]}); }}")
