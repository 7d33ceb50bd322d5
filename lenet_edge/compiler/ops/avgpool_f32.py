"""Float AveragePool / GlobalAveragePool that ORT leaves between a DequantizeLinear chain and a
QuantizeLinear (after a Tanh in QDQ form), in MLAS's summation order (docs/ort-int8-ops.md
section 6). Its float input comes from an FTable."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler import ortmath as om
from lenet_edge.compiler.ops._pool import check_pool_attrs
from lenet_edge.compiler.ir import GraphOp


@dataclass
class AvgPoolF32(GraphOp):
    onnx_ops = ("AveragePool", "GlobalAveragePool")
    kernel = "le_avgpool_generic_f32"

    def __post_init__(self):
        if self.op == "AveragePool":
            check_pool_attrs(self)

    def _params(self, in_shape):
        _, c, h, w = in_shape
        if self.op == "GlobalAveragePool":
            return (h, w), (1, 1), (0, 0, 0, 0), False
        a = self.attrs
        return (tuple(a["kernel_shape"]), tuple(a.get("strides", (1, 1))), tuple(a.get("pads", (0, 0, 0, 0))),
                bool(a.get("count_include_pad", 0)))

    def evaluate(self, xs, int_requant=False):
        return [om.average_pool_float(xs[0], *self._params(xs[0].shape))]

    def _mode(self, in_shape):
        _, c, h, w = in_shape
        (kh, kw), (sh, sw), pads, _ = self._params(in_shape)
        if (kh, kw) == (h, w) and (sh, sw) == (1, 1) and not any(pads):
            return 2
        if sw <= 2 and kh <= 32 and kw <= 32 and (2048 - 3 - pads[1] - pads[3]) >= w:
            return 1
        return 0

    def scratch_floats(self, shape):
        _, c, h, w = shape[self.inputs[0]]
        (kh, kw), (sh, sw), pads, _ = self._params(shape[self.inputs[0]])
        ow = shape[self.outputs[0]][3]
        return pads[1] + w + kw + ow * sw + 4

    def macs(self, shape):
        return int(np.prod(shape[self.inputs[0]]))

    def call(self, packed, ctx):
        x, y = self.inputs[0], self.outputs[0]
        _, c, h, w = ctx.shape[x]
        _, _, oh, ow = ctx.shape[y]
        (kh, kw), (sh, sw), pads, cip = self._params(ctx.shape[x])
        return (f"le_avgpool_generic_f32({ctx.buf[x]}, {c}, {h}, {w}, {kh}, {kw}, {sh}, {sw}, {pads[0]}, {pads[1]}, "
                f"{oh}, {ow}, {int(cip)}, {self._mode(ctx.shape[x])}, {ctx.scratch}, {ctx.buf[y]});")
