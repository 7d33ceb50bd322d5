"""`lenet-edge compile`: a quantize_static model (QDQ or QOperator) -> C, bit-exact with ONNX
Runtime (docs/byo.md). Imports onnx and numpy; never torch or onnxruntime.

The input is the graph the pinned ORT session really runs (its optimized model, made by
lenet_edge.check.byo together with `table_fn`, which computes ORT's own tables). frontend.parse
turns it into units (ops/, one module per op kind); a numpy pass through the units' references
(lenet_edge.compiler.ortmath) gives every tensor's shape; emit prints NAME.h, NAME.c,
NAME_weights.h and manifest.json.
"""
from __future__ import annotations

import re


from lenet_edge.errors import LenetEdgeError


def c_name(stem: str) -> str:
    """A file stem made a valid C identifier (NAME_run, NAME_INPUT_SIZE)."""
    s = re.sub(r"[^0-9A-Za-z_]", "_", stem).strip("_").lower() or "model"
    return f"m_{s}" if s[0].isdigit() else s


def compile_model(model, *, name: str, kernels: str, table_fn, source_name: str, sha256: str,
                  optimized_sha256: str, ort_version: str) -> dict[str, str]:
    from lenet_edge.compiler import reference
    from lenet_edge.compiler.byo import emit, frontend

    if kernels not in emit.KERNEL_SETS:
        raise LenetEdgeError(f"--kernels {kernels!r}: choose one of {', '.join(emit.KERNEL_SETS)}")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise LenetEdgeError(f"--name {name!r}: not a valid C identifier")
    graph = frontend.parse(model, source_name, table_fn)
    shapes, dtypes = reference.trace(graph)
    return emit.render(graph, shapes, dtypes, name=name, kernels=kernels, source_name=source_name, sha256=sha256,
                       optimized_sha256=optimized_sha256, ort_version=ort_version)
