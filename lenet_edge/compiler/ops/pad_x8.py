"""Pad on codes (constant mode; ORT runs a QOperator model's Pad on int8 with the zero point as the
constant): the same bytes moved, the border filled with one code."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler.ir import GraphOp


@dataclass
class PadX8(GraphOp):
    pads: tuple = ()                 # ONNX order: begins of every axis, then ends
    value: int = 0
    dtype: str = "int8"
    onnx_ops = ("Pad",)
    kernel = "le_layout_generic_x8"

    def evaluate(self, xs, int_requant=False):
        x = xs[0]
        r = x.ndim
        width = [(int(self.pads[i]), int(self.pads[i + r])) for i in range(r)]
        if any(a < 0 or b < 0 for a, b in width):
            raise self.fail("negative pads (cropping) are not supported")
        return [np.pad(x, width, constant_values=np.asarray(self.value).astype(x.dtype))]

    def call(self, packed, ctx):
        x, y = self.inputs[0], self.outputs[0]
        shp, out = ctx.shape[x], ctx.shape[y]
        r = len(shp)
        if r > 4:
            raise self.fail("Pad of rank above 4 is not supported")
        shp4 = (1,) * (4 - r) + tuple(shp)
        out4 = (1,) * (4 - r) + tuple(out)
        begin = (0,) * (4 - r) + tuple(int(self.pads[i]) for i in range(r))
        code = int(np.asarray(self.value).astype(self.dtype).view(np.uint8))
        n_out = int(np.prod(out4))
        lines = [f"memset({ctx.buf[y]}, {code}, {n_out});"]
        # one copy per input row (innermost dimension)
        a, b, c, w = shp4
        lines.append(f"{{ int i, j, k;\n      for (i = 0; i < {a}; ++i) for (j = 0; j < {b}; ++j) for (k = 0; k < {c}; ++k)\n"
                     f"        le_copy_x8((const uint8_t *){ctx.buf[x]} + ((i * {b} + j) * {c} + k) * {w}, {w}, "
                     f"(uint8_t *){ctx.buf[y]} + (((i + {begin[0]}) * {out4[1]} + j + {begin[1]}) * {out4[2]} + k + {begin[2]}) "
                     f"* {out4[3]} + {begin[3]}, {w}, 1, {w}, NULL); }}")
        return "\n    ".join(lines)
