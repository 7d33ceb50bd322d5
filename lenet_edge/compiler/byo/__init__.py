"""`lenet-edge compile`: a quantize_static model (QDQ or QOperator) -> C, bit-exact with ONNX
Runtime (docs/byo.md). Imports onnx and numpy; never torch or onnxruntime.

The input is the graph the pinned ORT session really runs (its optimized model, made by
lenet_edge.check.byo together with `table_fn`, which computes ORT's own tables). frontend.parse
turns it into an ir.Graph of GraphOps (ops/); reference.trace gives every tensor's shape;
memory.plan places the arena and emit.render_run prints NAME.h, NAME.c, NAME_weights.h: the same
IR, planner and emitter as `export --target c`.
"""
from __future__ import annotations

import json
import re

from lenet_edge import __version__
from lenet_edge.errors import LenetEdgeError


def c_name(stem: str) -> str:
    """A file stem made a valid C identifier (NAME_run, NAME_INPUT_SIZE)."""
    s = re.sub(r"[^0-9A-Za-z_]", "_", stem).strip("_").lower() or "model"
    return f"m_{s}" if s[0].isdigit() else s


def compile_model(model, *, name: str, kernels: str, table_fn, source_name: str, sha256: str,
                  optimized_sha256: str, ort_version: str) -> dict[str, str]:
    """ORT's optimized graph -> {file name: text}: NAME.h, NAME.c, NAME_weights.h, CMake files and
    manifest.json, through the same IR, planner and emitter as `export --target c`."""
    from lenet_edge.compiler import cmake, emit, memory, reference
    from lenet_edge.compiler.byo import frontend

    if kernels not in emit.KERNEL_SETS:
        raise LenetEdgeError(f"--kernels {kernels!r}: choose one of {', '.join(emit.KERNEL_SETS)}")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise LenetEdgeError(f"--name {name!r}: not a valid C identifier")
    graph = frontend.parse(model, source_name, table_fn)
    shapes, dtypes = reference.trace(graph)
    plan = memory.plan(graph, memory.tensor_bytes(shapes, dtypes))
    sources, units = emit.render_run(graph, plan, shapes, dtypes, name=name, kernels=kernels,
                                     source_name=source_name, sha256=sha256, ort_version=ort_version)
    target = cmake.cmake_target(name)
    build_files = cmake.for_compiled_model(sources, target, name)
    manifest = {
        "format": "lenet-edge-compile/1",
        "tool": {"name": "lenet-edge", "version": __version__},
        "name": name,
        "onnx": {"file": source_name, "sha256": sha256},
        "reference": {"onnxruntime": ort_version, "optimized_graph_sha256": optimized_sha256,
                      "session": "CPU, ORT_ENABLE_ALL, session.qdqisint8allowed=1, 1 thread"},
        "input": {"name": graph.input_name, "dtype": graph.input_dtype, "shape": list(graph.input_shape)},
        "outputs": [{"name": o, "dtype": d, "shape": list(shapes[o])} for o, d in graph.outputs],
        "kernels": {"set": kernels, "files": {k: emit.kernel_source_set(k, kernels)
                                              for k in dict.fromkeys(op.kernel for op in graph.ops)}},
        "files": sorted([*sources, *cmake.OUTPUT_FILES, "manifest.json"]),
        "cmake_target": target,
        "units": units,
        "macs": sum(u["macs"] for u in units),
        "flash_bytes": {"constants": sum(u["flash_bytes"] for u in units)},
        "ram_bytes": {"arena": plan.arena_bytes,
                      "scratch": 4 * max((op.scratch_floats(shapes) for op in graph.ops), default=0)},
    }
    return {**sources, **build_files, "manifest.json": json.dumps(manifest, indent=1, sort_keys=False) + "\n"}
