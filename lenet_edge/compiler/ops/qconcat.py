"""com.microsoft QLinearConcat: copies, through a requant table for an input whose scale or zero
point differs from the output's (docs/ort-int8-ops.md section 7)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lenet_edge.compiler import ortmath as om
from lenet_edge.compiler.ir import GraphOp, Packed, const


@dataclass
class QConcat(GraphOp):
    y_scale: np.float32 = np.float32(1)
    y_zp: int = 0
    parts: list = field(default_factory=list)      # [(scale, zp)] per input
    dtype: str = "int8"
    onnx_ops = ("QLinearConcat",)
    kernel = "le_layout_generic_x8"

    def _table(self, i):
        s, z = self.parts[i]
        if np.float32(s) == np.float32(self.y_scale) and int(z) == int(self.y_zp):
            return None
        return om.requant_table(s, z, self.y_scale, self.y_zp, self.dtype)

    def evaluate(self, xs, int_requant=False):
        return [om.qlinear_concat([(x, s, z) for x, (s, z) in zip(xs, self.parts)], self.y_scale, self.y_zp,
                                  self.attrs["axis"], dtype=self.dtype)]

    def pack(self) -> Packed:
        return Packed(tuple(const(f"t{i}", "uint8_t", np.asarray(t).view(np.uint8), f"requant table of input {i}")
                for i in range(len(self.parts)) if (t := self._table(i)) is not None))

    def call(self, packed, ctx):
        y = self.outputs[0]
        out = ctx.shape[y]
        axis = self.attrs["axis"] % len(out)
        outer = int(np.prod(out[:axis]))
        out_inner = int(np.prod(out[axis:]))
        lines, offset = [], 0
        for i, x in enumerate(self.inputs):
            inner = int(np.prod(ctx.shape[x][axis:]))
            table = ctx.symbols.get(f"t{i}", "NULL")
            lines.append(f"le_copy_x8((const uint8_t *){ctx.buf[x]}, {inner}, (uint8_t *){ctx.buf[y]} + {offset}, "
                         f"{out_inner}, {outer}, {inner}, {table});")
            offset += inner
        return "\n    ".join(lines)
