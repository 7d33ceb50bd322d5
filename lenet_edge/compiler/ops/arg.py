"""ONNX ArgMin (paper) / ArgMax (modern) over the int32 scores: the label."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler.ir import Call, Ctx, Layer, Packed


@dataclass(frozen=True, eq=False)
class Arg(Layer):
    """ArgMin / ArgMax over the scores, first index on ties."""
    mode: str = "min"                          # "min" | "max"
    kind = "arg"
    onnx_ops = ("ArgMin", "ArgMax")
    in_dtype = "int32"
    out_dtype = "int64"
    terminal = True

    @classmethod
    def recognise(cls, w, n, tensor, dtype, shape):
        if dtype != "int32" or len(shape) != 1:
            raise w.err(n, f"expected the int32 scores [N, classes], got {dtype} {list(shape)}")
        w.check_attrs(n, {"axis": lambda v: v in (1, -1), "keepdims": lambda v: v == 0,
                          "select_last_index": lambda v: v == 0})
        if "keepdims" not in w.attrs(n):
            raise w.err(n, "keepdims must be 0 (label [N])")
        mode = "min" if n.op_type == "ArgMin" else "max"
        return cls(node=n.name, tensor=n.output[0], in_shape=shape, out_shape=(1,), mode=mode)

    def reference(self, x, int_requant):
        return (np.argmin(x, axis=1) if self.mode == "min" else np.argmax(x, axis=1)).astype(np.int64)

    def call(self, packed: Packed, io: Ctx) -> Call:
        return Call(f"le_arg{self.mode}_s32", ("scores", str(self.in_shape[0])), result="label")
