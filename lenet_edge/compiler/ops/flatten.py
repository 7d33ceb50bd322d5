"""ONNX Flatten(axis 1) or Reshape to [N, C*H*W]: the NCHW bytes do not move, so no code."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler.ir import Call, Ctx, Layer, Packed


@dataclass(frozen=True, eq=False)
class Flatten(Layer):
    """Flatten / Reshape [C,H,W] -> [C*H*W]: the NCHW bytes do not move, so no code is emitted."""
    kind = "flatten"
    onnx_ops = ("Flatten", "Reshape")
    in_place = True

    @classmethod
    def recognise(cls, w, n, tensor, dtype, shape):
        w.need(n, dtype, "int8")
        size = int(np.prod(shape))
        if n.op_type == "Flatten":
            w.check_attrs(n, {"axis": lambda v: v == 1})
        else:
            w.check_attrs(n, {"allowzero": lambda v: v == 0})
            target = [int(v) for v in w.const(n, 1, "shape", "int64")]
            if len(target) != 2 or target[1] not in (size, -1) or target[0] not in (-1, 0, 1):
                raise w.err(n, f"reshape to {target}: only [N, {size}] (flatten) is supported")
        return cls(node=n.name, tensor=n.output[0], in_shape=shape, out_shape=(size,))

    def reference(self, x, int_requant):
        return x.reshape(x.shape[0], -1)

    def call(self, packed: Packed, io: Ctx) -> Call:
        return Call(None)
