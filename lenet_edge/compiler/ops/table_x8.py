"""Per-code tables: TableX8 (code -> code: QLinearLeakyRelu, QLinearSigmoid, a float chain between
DequantizeLinear and QuantizeLinear) and FTable (code -> float32: DequantizeLinear, or a float
chain feeding a float AveragePool or a graph output). The entries come from ORT or from ortmath
(docs/ort-int8-ops.md section 8); indexed by the raw byte of the input code."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lenet_edge.compiler import ortmath as om
from lenet_edge.compiler.ir import GraphOp, Packed, const


@dataclass
class TableX8(GraphOp):
    table: np.ndarray = field(default=None, repr=False)     # [256] codes
    kernel = "le_table_x8"

    def evaluate(self, xs, int_requant=False):
        return [om.lookup(xs[0], self.table)]

    def pack(self) -> Packed:
        return Packed((const("table", "uint8_t", np.asarray(self.table).view(np.uint8),
                      "[256] output code by the raw byte of the input code"),))

    def call(self, packed, ctx):
        x, y = self.inputs[0], self.outputs[0]
        n = int(np.prod(ctx.shape[x]))
        return (f"le_table_x8((const uint8_t *){ctx.buf[x]}, {n}u, {ctx.sym('table')}, "
                f"(uint8_t *){ctx.buf[y]});")


@dataclass
class FTable(GraphOp):
    table: np.ndarray = field(default=None, repr=False)     # [256] float32
    kernel = "le_table_x8"

    def evaluate(self, xs, int_requant=False):
        return [om.lookup(xs[0], np.asarray(self.table, np.float32))]

    def pack(self) -> Packed:
        return Packed((const("ftable", "uint32_t", np.asarray(self.table, np.float32).view(np.uint32),
                      "[256] float32 bit patterns by the raw byte of the input code"),))

    def call(self, packed, ctx):
        x, y = self.inputs[0], self.outputs[0]
        n = int(np.prod(ctx.shape[x]))
        return f"le_ftable_x8((const uint8_t *){ctx.buf[x]}, {n}u, {ctx.sym('ftable')}, {ctx.buf[y]});"
