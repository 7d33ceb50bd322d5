"""Layout moves on codes: Transpose (rank 4), Reshape / Flatten / Squeeze / Unsqueeze (a copy)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler.ir import GraphOp


@dataclass
class Transpose(GraphOp):
    onnx_ops = ("Transpose",)
    kernel = "le_layout_generic_x8"

    def evaluate(self, xs, int_requant=False):
        return [np.ascontiguousarray(np.transpose(xs[0], self.attrs["perm"]))]

    def call(self, packed, ctx):
        x, y = self.inputs[0], self.outputs[0]
        shp = ctx.shape[x]
        if len(shp) != 4:
            raise self.fail(f"Transpose of rank {len(shp)} is not supported (rank 4 only)")
        strides = [int(np.prod(shp[i + 1:])) for i in range(4)]
        perm = self.attrs["perm"]
        out_shape = [shp[p] for p in perm]
        in_strides = [strides[p] for p in perm]
        return (f"{{ static const int os[4] = {{{', '.join(map(str, out_shape))}}}, "
                f"is[4] = {{{', '.join(map(str, in_strides))}}};\n"
                f"      le_transpose4_x8((const uint8_t *){ctx.buf[x]}, os, is, (uint8_t *){ctx.buf[y]}); }}")


@dataclass
class Reshape(GraphOp):
    onnx_ops = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")
    kernel = "le_layout_generic_x8"

    def new_shape(self, in_shape):
        a = self.attrs
        if self.op == "Flatten":
            axis = a.get("axis", 1)
            return (int(np.prod(in_shape[:axis])), int(np.prod(in_shape[axis:])))
        target = a.get("_shape_input")
        if self.op == "Reshape":
            if target is None:
                raise self.fail("the shape must be a constant")
            shape = [in_shape[i] if d == 0 else int(d) for i, d in enumerate(target)]
            if -1 in shape:
                known = int(np.prod([d for d in shape if d != -1]))
                shape[shape.index(-1)] = int(np.prod(in_shape)) // known
            return tuple(shape)
        axes = a.get("axes", None if target is None else [int(v) for v in target])
        if self.op == "Squeeze":
            return tuple(d for i, d in enumerate(in_shape) if (axes is None and d != 1) or
                         (axes is not None and i not in [x % len(in_shape) for x in axes]))
        shape = list(in_shape)
        for ax in sorted(x % (len(in_shape) + len(axes)) for x in axes):
            shape.insert(ax, 1)
        return tuple(shape)

    def evaluate(self, xs, int_requant=False):
        return [xs[0].reshape(self.new_shape(xs[0].shape))]

    def call(self, packed, ctx):
        x, y = self.inputs[0], self.outputs[0]
        n = int(np.prod(ctx.shape[x])) * (4 if ctx.dtype[x] == "float32" else 1)   # bytes
        return f"le_copy_x8((const uint8_t *){ctx.buf[x]}, {n}, (uint8_t *){ctx.buf[y]}, {n}, 1, {n}, NULL);"
