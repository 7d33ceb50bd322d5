"""Lookup tables: ONNX Cast(-> int32) -> Gather(table, axis 0).

The exporter turns every elementwise int8 -> int8 function (input quantization, squashing) into a
256-entry table indexed by the raw byte of the input code (Gather after Cast of an int8 code c reads
entry c, where -128 wraps to 128 in the C's `(uint8_t)c`).
  InputTable: image uint8 [1,28,28] -> int8 [1,28,28], out[i] = table[image[i]] (the caller's image)
  Table:      int8 x -> int8, x[i] = table[x[i] & 0xFF], in place
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from onnx import TensorProto

from lenet_edge.compiler.ir import CArray, Call, Ctx, Layer, Packed


@dataclass(frozen=True, eq=False)
class Table(Layer):
    """Cast(int8 -> int32) -> Gather(table): x[i] = table[x[i] & 0xFF] (in place)."""
    table: np.ndarray = field(default=None, repr=False)    # int8 [256], indexed by the raw byte
    kind = "table"
    onnx_ops = ("Cast",)
    in_place = True

    @classmethod
    def recognise(cls, w, n, tensor, dtype, shape):
        if w.peek(n.output[0]) != "Gather":
            return None
        w.check_attrs(n, {"to": lambda v: v == TensorProto.INT32, "saturate": None})
        if dtype not in ("uint8", "int8"):
            raise w.err(n, f"input is {dtype}, expected uint8 or int8")
        nxt = w.next_node(n.output[0], ("Gather",), after=n)
        w.check_attrs(nxt, {"axis": lambda v: v == 0})
        if nxt.input[1] != n.output[0]:
            raise w.err(nxt, "expected the Cast output as the Gather indices")
        table = w.const(nxt, 0, "table", "int8", shape=[(256,)])
        op = InputTable if dtype == "uint8" else Table
        return op(node=nxt.name, tensor=nxt.output[0], in_shape=shape, out_shape=shape, table=table.copy())

    def check(self) -> None:
        if self.table.shape != (256,):
            raise self.fail("table must have 256 entries")

    def pack(self) -> Packed:
        return Packed((CArray("table", "int8_t", self.table, "table",
                              "[256] int8, indexed by the raw byte of the input code"),))

    def reference(self, x, int_requant):
        return self.table[x.view(np.uint8)]               # index by the raw byte

    def call(self, packed: Packed, io: Ctx) -> Call:
        return Call("le_table_s8", (io.dst, io.sym("table"), str(self.out_size)))


@dataclass(frozen=True, eq=False)
class InputTable(Table):
    """Cast(uint8 -> int32) -> Gather(table): out[i] = table[image[i]]; image uint8 [1,28,28]."""
    kind = "input_table"
    onnx_ops = ()                 # recognised by Table (the input dtype decides)
    in_dtype = "uint8"
    in_place = False

    def call(self, packed: Packed, io: Ctx) -> Call:
        return Call("le_table_u8", ("image", io.sym("table"), io.dst, str(self.out_size)))
