"""ONNX Pad (mode constant) of the spatial dims of an int8 [C,H,W] map."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler.ir import Call, Ctx, Layer, Packed


@dataclass(frozen=True, eq=False)
class Pad(Layer):
    """Constant spatial padding of an int8 [C,H,W] map."""
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)   # top, left, bottom, right
    value: int = 0                                   # int8 code written in the border
    kind = "pad"
    onnx_ops = ("Pad",)

    @classmethod
    def recognise(cls, w, n, tensor, dtype, shape):
        w.need(n, dtype, "int8", shape, rank=3)
        w.check_attrs(n, {"mode": lambda v: v in (b"constant", "constant")})
        pads = w.const(n, 1, "pads", "int64", shape=[(8,)])
        if len(n.input) > 3 and n.input[3]:
            raise w.err(n, "the axes input is not supported")
        value = w.const(n, 2, "constant_value", "int8", shape=[(), (1,)], optional=True)
        value = 0 if value is None else int(value.reshape(()))
        b = [int(p) for p in pads]
        if b[0] or b[1] or b[4] or b[5] or min(b) < 0:
            raise w.err(n, f"pads {b}: only non-negative padding of H and W is supported")
        top, left, bottom, right = b[2], b[3], b[6], b[7]
        c, h, w_ = shape
        out = (c, h + top + bottom, w_ + left + right)
        return cls(node=n.name, tensor=n.output[0], in_shape=shape, out_shape=out,
                   pads=(top, left, bottom, right), value=value)

    def reference(self, x, int_requant):
        t, l_, b, r = self.pads
        return np.pad(x, ((0, 0), (0, 0), (t, b), (l_, r)), constant_values=np.int8(self.value))

    def call(self, packed: Packed, io: Ctx) -> Call:
        c, h, w = self.in_shape
        t, l_, b, r = self.pads
        return Call("le_pad_s8", (io.src, str(c), str(h), str(w), str(t), str(l_), str(b), str(r),
                                  str(self.value), io.dst))
