"""IR invariant checks, run between the frontend and code generation. Each failure names the node.
Graph-level rules live here; each op's own rules are its `check` method (ops/)."""
from __future__ import annotations

from lenet_edge.compiler import ir
from lenet_edge.errors import LenetEdgeError


def check(graph: ir.Graph) -> None:
    layers = graph.ops
    if not layers or layers[0].in_dtype != "uint8":
        first = layers[0] if layers else None
        raise LenetEdgeError(f"{graph.source_name}: the graph must start with the uint8 input table "
                             f"(Cast -> Gather), not {type(first).__name__ if first else 'nothing'}")
    if not layers[-1].terminal or len(layers) < 2 or layers[-2].out_dtype != "int32":
        raise LenetEdgeError(f"{graph.source_name}: the graph must end with the RBF or MatMulInteger head "
                             "and ArgMin/ArgMax")
    for prev, layer in zip(layers, layers[1:]):
        if layer.in_shape != prev.out_shape:
            raise layer.fail(f"input shape {list(layer.in_shape)} != output {list(prev.out_shape)} "
                             f"of \"{prev.node}\"")
    seen: set[str] = set()
    for layer in layers:
        if layer.node in seen:
            raise layer.fail("duplicate node name (the generated C names layers after ONNX nodes)")
        if not layer.node:
            raise LenetEdgeError(f"{graph.source_name}: a {type(layer).__name__} node has no name")
        seen.add(layer.node)
        layer.check()
