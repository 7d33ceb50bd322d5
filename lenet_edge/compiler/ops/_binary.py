"""The binary units (QLinearAdd, QLinearMul): their shared fields and constants, and the broadcast
spans of their operands, as ORT's broadcast loop walks them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler.ir import GraphOp, Packed, const

f32 = np.float32


@dataclass
class QBinary(GraphOp):
    """c = requantized (a op b); B is inputs[1], or a constant initializer (b_const)."""
    a_scale: np.float32 = f32(1)
    a_zp: int = 0
    b_scale: np.float32 = f32(1)
    b_zp: int = 0
    c_scale: np.float32 = f32(1)
    c_zp: int = 0
    b_const: np.ndarray | None = None     # B as a constant initializer, else None (B is inputs[1])
    dtype: str = "int8"
    kernel = "le_qbinary_generic_x8"

    def pack(self) -> Packed:
        if self.b_const is None:
            return Packed()
        return Packed((const("b", "int8_t" if self.dtype == "int8" else "uint8_t", self.b_const.reshape(-1),
                             "constant B codes"),))

    def operands(self, ctx):
        """-> (a shape, b shape, spans(...), a's C buffer, b's C buffer); refuses other broadcasts."""
        a_shape = ctx.shape[self.inputs[0]]
        b_shape = self.b_const.shape if self.b_const is not None else ctx.shape[self.inputs[1]]
        sp = spans(a_shape, b_shape)
        if sp is None:
            raise self.fail(f"broadcast of {list(a_shape)} with {list(b_shape)} is not supported")
        b_buf = ctx.sym('b') if self.b_const is not None else ctx.buf[self.inputs[1]]
        return a_shape, b_shape, sp, ctx.buf[self.inputs[0]], b_buf


def spans(a_shape, b_shape):
    """(spans, inner, a_span, a_elem, b_span, b_elem) for out = a op b with numpy broadcasting, for the
    shapes ORT meets here: equal shapes, a one-element operand, or an operand constant over the
    trailing dimensions ([1,C,1,1] against [1,C,H,W]); None for anything else."""
    out = np.broadcast_shapes(tuple(a_shape), tuple(b_shape))
    size = int(np.prod(out))
    if tuple(a_shape) == tuple(b_shape):
        return 1, size, 0, 1, 0, 1
    a_n, b_n = int(np.prod(a_shape)), int(np.prod(b_shape))
    if b_n == 1:
        return 1, size, 0, 1, 0, 0
    if a_n == 1:
        return 1, size, 0, 0, 0, 1

    def trailing_ones(shape):
        shape = (1,) * (len(out) - len(shape)) + tuple(shape)
        k = len(shape)
        while k > 0 and shape[k - 1] == 1:
            k -= 1
        return shape, k

    def leading_ones(shape):
        shape = (1,) * (len(out) - len(shape)) + tuple(shape)
        k = 0
        while k < len(shape) and shape[k] == 1:
            k += 1
        return shape, k

    for small, big in ((b_shape, a_shape), (a_shape, b_shape)):
        if tuple(big) != tuple(out):
            continue
        s, k = trailing_ones(small)          # small constant over the trailing dims: one value per span
        if tuple(s[:k]) == tuple(out[:k]):
            n_spans = int(np.prod(out[:k]))
            inner = size // n_spans
            if small is b_shape:
                return n_spans, inner, inner, 1, 1, 0
            return n_spans, inner, 1, 0, inner, 1
        s, k = leading_ones(small)           # small repeated over the leading dims ([1,1,1,C] in NHWC)
        if tuple(s[k:]) == tuple(out[k:]):
            inner = int(np.prod(out[k:]))
            n_spans = size // inner
            if small is b_shape:
                return n_spans, inner, inner, 1, 0, 1
            return n_spans, inner, 0, 1, inner, 1
    return None
