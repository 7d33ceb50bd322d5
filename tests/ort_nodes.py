"""One-node ONNX models run under the pinned reference session (lenet_edge.check.ort), for proving
lenet_edge.compiler.ortmath bit-exact op by op."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from lenet_edge.check import ort as ort_oracle

ONNX_TYPES = {np.dtype(np.int8): TensorProto.INT8, np.dtype(np.uint8): TensorProto.UINT8,
              np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32}


def run_node(op: str, inputs: list, out_dtype, domain: str = "", **attrs):
    """Run one node. `inputs` is a list of (name, array, is_feed): feeds become graph inputs, the rest
    initializers; an input named "" is an omitted optional input."""
    names, feeds, inits, vis = [], {}, [], []
    for name, arr, is_feed in inputs:
        names.append(name)
        if not name:
            continue
        arr = np.asarray(arr)
        if is_feed:
            feeds[name] = arr
            vis.append(helper.make_tensor_value_info(name, ONNX_TYPES[arr.dtype], list(arr.shape)))
        else:
            inits.append(numpy_helper.from_array(arr, name))
    node = helper.make_node(op, names, ["y"], domain=domain, **attrs)
    out = helper.make_tensor_value_info("y", ONNX_TYPES[np.dtype(out_dtype)], None)
    graph = helper.make_graph([node], "one_node", vis, [out], inits)
    opsets = [helper.make_opsetid("", 17)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 1))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    (y,) = ort_oracle.run_in_memory(model, feeds)
    return y
