"""QuantizeLinear of a float tensor (the graph input, or a float AveragePool's output)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler import ortmath as om
from lenet_edge.compiler.ir import SUFFIX, GraphOp, f32_bits


@dataclass
class Quantize(GraphOp):
    scale: np.float32 = np.float32(1)
    zero_point: int = 0
    out_dtype: str = "int8"
    kernel = "le_quantize_f32_x8"

    def evaluate(self, xs, int_requant=False):
        return [om.quantize_linear(xs[0], self.scale, self.zero_point, self.out_dtype)]

    def call(self, packed, ctx):
        x, y = self.inputs[0], self.outputs[0]
        n = int(np.prod(ctx.shape[x]))
        return (f"le_quantize_f32_{SUFFIX[self.out_dtype]}({ctx.buf[x]}, {n}u, 0x{f32_bits(self.scale):08x}u, "
                f"{self.zero_point}, {ctx.buf[y]});")
