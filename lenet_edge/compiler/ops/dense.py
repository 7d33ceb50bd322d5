"""The modern head: MatMulInteger(x, W, a_zp) -> Add(bias): int32 logits, higher is better."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lenet_edge.compiler.ir import CArray, Call, Ctx, Layer, Packed

INT32_MAX = 2**31 - 1


@dataclass(frozen=True, eq=False)
class Dense(Layer):
    """scores[c] = bias[c] + sum_j (x[j] - a_zp) * w[j, c], int32."""
    weight: np.ndarray = field(default=None, repr=False)     # int8 [K, classes]
    bias: np.ndarray = field(default=None, repr=False)       # int32 [classes]
    a_zp: int = 0
    kind = "dense"
    onnx_ops = ("MatMulInteger",)
    out_dtype = "int32"

    @classmethod
    def recognise(cls, w, n, tensor, dtype, shape):
        w.need(n, dtype, "int8")
        if len(shape) != 1 or n.input[0] != tensor:
            raise w.err(n, f"input A has shape {list(shape)}, expected a flat vector [N, K]")
        k = shape[0]
        wt = w.const(n, 1, "B (weights)", "int8")
        if wt.ndim != 2 or wt.shape[0] != k:
            raise w.err(n, f"weight shape {list(wt.shape)}, expected [{k}, classes]")
        a_zp = w.const(n, 2, "a_zero_point", "int8", shape=[(), (1,)], optional=True)
        b_zp = w.const(n, 3, "b_zero_point", "int8", shape=[(), (1,), (wt.shape[1],)], optional=True)
        if b_zp is not None and np.any(b_zp != 0):
            raise w.err(n, "nonzero b_zero_point is not supported")
        add = w.next_node(n.output[0], ("Add",), after=n)
        other = [i for i in add.input if i != n.output[0]]
        if len(other) != 1:
            raise w.err(add, "expected MatMulInteger output + bias")
        bias = w.const(add, list(add.input).index(other[0]), "bias", "int32",
                       shape=[(wt.shape[1],), (1, wt.shape[1])])
        return cls(node=add.name, tensor=add.output[0], in_shape=shape, out_shape=(wt.shape[1],),
                   weight=wt.copy(), bias=bias.reshape(-1).astype(np.int32).copy(),
                   a_zp=0 if a_zp is None else int(a_zp.reshape(())))

    def check(self) -> None:
        w = np.abs(self.weight.astype(np.int64)).sum(axis=0)
        worst = int(np.max(w * (128 + abs(self.a_zp)) + np.abs(self.bias.astype(np.int64))))
        if worst > INT32_MAX:
            raise self.fail("MatMulInteger accumulator could overflow int32")

    def pack(self) -> Packed:
        kk, c = self.weight.shape
        w = self.weight.astype(np.int64)
        folded = self.bias.astype(np.int64) - self.a_zp * w.sum(axis=0)
        return Packed((CArray("w", "int8_t", self.weight.T.reshape(-1).astype(np.int8), "weights",
                              f"[{c}][{kk}] int8, the ONNX [{kk}][{c}] weight transposed"),
                       CArray("bias", "int32_t", folded.astype(np.int32), "bias",
                              f"[{c}] int32: bias - a_zp*sum(w) (a_zp={self.a_zp} folded in)")), c * kk)

    def reference(self, x, int_requant):
        acc = (x.astype(np.int64) - self.a_zp) @ self.weight.astype(np.int64) + self.bias
        return acc.astype(np.int32)

    def call(self, packed: Packed, io: Ctx) -> Call:
        return Call("le_dense_s8", (io.src, str(self.in_size), io.sym("w"), io.sym("bias"),
                                    str(self.out_size), "scores"))
