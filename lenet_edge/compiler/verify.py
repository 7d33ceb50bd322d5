"""IR invariant checks, run between the frontend and code generation. Each failure names the node."""
from __future__ import annotations

import numpy as np

from lenet_edge.compiler import ir
from lenet_edge.errors import LenetEdgeError

INT32_MAX = 2**31 - 1


def _fail(layer: ir.Layer, problem: str) -> LenetEdgeError:
    return LenetEdgeError(f'ONNX node "{layer.node}": {problem}')


def check(graph: ir.Graph) -> None:
    layers = graph.layers
    if not layers or not isinstance(layers[0], ir.InputTable):
        first = layers[0] if layers else None
        raise LenetEdgeError(f"{graph.source_name}: the graph must start with the uint8 input table "
                             f"(Cast -> Gather), not {type(first).__name__ if first else 'nothing'}")
    if not isinstance(layers[-1], ir.Arg) or not isinstance(layers[-2], (ir.Rbf, ir.Dense)):
        raise LenetEdgeError(f"{graph.source_name}: the graph must end with the RBF or MatMulInteger head "
                             "and ArgMin/ArgMax")
    seen: set[str] = set()
    for prev, layer in zip(layers, layers[1:]):
        if layer.in_shape != prev.out_shape:
            raise _fail(layer, f"input shape {list(layer.in_shape)} != output {list(prev.out_shape)} "
                               f"of \"{prev.node}\"")
    for layer in layers:
        if layer.node in seen:
            raise _fail(layer, "duplicate node name (the generated C names layers after ONNX nodes)")
        if not layer.node:
            raise LenetEdgeError(f"{graph.source_name}: a {type(layer).__name__} node has no name")
        seen.add(layer.node)
        if isinstance(layer, ir.Conv):
            if not (-128 <= layer.x_zp <= 127 and -128 <= layer.y_zp <= 127):
                raise _fail(layer, "zero point outside int8")
            if layer.w_scale.shape != (layer.out_shape[0],):
                raise _fail(layer, "w_scale must have one entry per output channel")
        if isinstance(layer, (ir.Table, ir.InputTable)) and layer.table.shape != (256,):
            raise _fail(layer, "table must have 256 entries")
        if isinstance(layer, ir.Rbf):
            k = layer.in_shape[0]
            worst = k * (128 + int(np.abs(layer.centres.astype(np.int64)).max(initial=0))) ** 2
            if worst > INT32_MAX or np.abs(layer.centres).max(initial=0) > 32767:
                raise _fail(layer, "RBF sum of squares could overflow int32")
        if isinstance(layer, ir.Dense):
            w = np.abs(layer.weight.astype(np.int64)).sum(axis=0)
            worst = int(np.max(w * (128 + abs(layer.a_zp)) + np.abs(layer.bias.astype(np.int64))))
            if worst > INT32_MAX:
                raise _fail(layer, "MatMulInteger accumulator could overflow int32")
