"""ONNX MaxPool on int8 maps, square kernel, no padding."""
from __future__ import annotations

from dataclasses import dataclass

from numpy.lib.stride_tricks import sliding_window_view

from lenet_edge.compiler.ir import Call, Ctx, Layer, Packed


@dataclass(frozen=True, eq=False)
class MaxPool(Layer):
    """int8 max over k x k windows with the given stride, no padding."""
    kernel: int = 2
    stride: int = 2
    kind = "maxpool"
    onnx_ops = ("MaxPool",)

    @classmethod
    def recognise(cls, w, n, tensor, dtype, shape):
        w.need(n, dtype, "int8", shape, rank=3)
        if len([o for o in n.output if o]) != 1:
            raise w.err(n, "the Indices output is not supported")
        a = w.check_attrs(n, {
            "auto_pad": lambda v: v in (b"NOTSET", "NOTSET", b"VALID", "VALID"),
            "ceil_mode": lambda v: v == 0,
            "dilations": lambda v: all(d == 1 for d in v),
            "kernel_shape": lambda v: len(v) == 2 and v[0] == v[1],
            "pads": lambda v: all(p == 0 for p in v),
            "storage_order": lambda v: v == 0,
            "strides": lambda v: len(v) == 2 and v[0] == v[1] and v[0] >= 1,
        })
        if "kernel_shape" not in a:
            raise w.err(n, "missing kernel_shape")
        k = int(a["kernel_shape"][0])
        s = int(a.get("strides", [1, 1])[0])
        c, h, w_ = shape
        if h < k or w_ < k:
            raise w.err(n, f"kernel {k}x{k} larger than the input {h}x{w_}")
        out = (c, (h - k) // s + 1, (w_ - k) // s + 1)
        return cls(node=n.name, tensor=n.output[0], in_shape=shape, out_shape=out, kernel=k, stride=s)

    def reference(self, x, int_requant):
        s = self.stride
        win = sliding_window_view(x, (self.kernel, self.kernel), axis=(2, 3))[:, :, ::s, ::s]
        return win.max(axis=(4, 5))

    def call(self, packed: Packed, io: Ctx) -> Call:
        c, h, w = self.in_shape
        return Call("le_maxpool_s8", (io.src, str(c), str(h), str(w), str(self.kernel), str(self.stride),
                                      io.dst, str(self.out_shape[1]), str(self.out_shape[2])))
