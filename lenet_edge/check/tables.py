"""Tables and float values computed by ONNX Runtime itself, for the parts of an int8 graph that ORT
runs with its own float approximations (Sigmoid, Tanh, HardSigmoid, ... and QLinearSigmoid's table).

An elementwise chain between a DequantizeLinear and a QuantizeLinear is a function of one 8-bit
code, so running the chain on all 256 codes under the pinned session (ort.run_in_memory) gives a
table that reproduces it exactly; the compiler only looks tables up (lenet_edge.compiler.ortmath).
This module builds the tiny graphs; lenet_edge.check.ort runs them.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lenet_edge.check import ort as ort_oracle

ELEM_TYPES = {np.dtype(np.int8): TensorProto.INT8, np.dtype(np.uint8): TensorProto.UINT8,
              np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32,
              np.dtype(np.int64): TensorProto.INT64}
OPSETS = {"": 17, "com.microsoft": 1}


def all_codes(dtype) -> np.ndarray:
    """The 256 codes in raw-byte order (entry i is the code whose byte is i)."""
    return np.arange(256, dtype=np.uint8).view(np.dtype(dtype))


def run_nodes(nodes: list[onnx.NodeProto], feeds: dict[str, np.ndarray], outputs: dict[str, np.dtype],
              initializers: dict[str, np.ndarray] | None = None, opsets: dict[str, int] | None = None
              ) -> dict[str, np.ndarray]:
    """Run `nodes` as one graph under the pinned session: `feeds` become graph inputs (their shapes
    as given), `initializers` constants, `outputs` {name: dtype} the graph outputs."""
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()]
    ins = [helper.make_tensor_value_info(k, ELEM_TYPES[np.asarray(v).dtype], list(np.shape(v)))
           for k, v in feeds.items()]
    outs = [helper.make_tensor_value_info(k, ELEM_TYPES[np.dtype(t)], None) for k, t in outputs.items()]
    graph = helper.make_graph(list(nodes), "lenet_edge_table", ins, outs, inits)
    used = {n.domain or "" for n in nodes} | {""}
    versions = {**OPSETS, **(opsets or {})}
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, versions[d]) for d in sorted(used)])
    model.ir_version = 8
    results = ort_oracle.run_in_memory(model, feeds)
    return dict(zip(outputs, results))


def node_table(node: onnx.NodeProto, in_dtype, out_dtype, initializers: dict[str, np.ndarray]) -> np.ndarray:
    """A one-input int8 node (e.g. com.microsoft QLinearSigmoid) applied by ORT to all 256 codes."""
    x = node.input[0]
    (table,) = run_nodes([node], {x: all_codes(in_dtype)}, {node.output[0]: out_dtype},
                         {k: v for k, v in initializers.items() if k != x}).values()
    return table


def chain_table(nodes: list[onnx.NodeProto], input_name: str, in_dtype, output_name: str, out_dtype,
                initializers: dict[str, np.ndarray]) -> np.ndarray:
    """An elementwise chain (DequantizeLinear -> float ops -> QuantizeLinear, or any part of one) run
    by ORT on all 256 codes of `input_name`: the table that reproduces it."""
    (table,) = run_nodes(nodes, {input_name: all_codes(in_dtype)}, {output_name: out_dtype},
                         {k: v for k, v in initializers.items() if k != input_name}).values()
    return table
