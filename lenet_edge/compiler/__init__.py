"""ONNX -> C. Imports onnx, numpy and jinja2; never torch or onnxruntime.

    frontend + ops/*.recognise (ONNX protos -> IR) -> verify (graph rules + ops/*.check)
      -> fuse (conv -> table -> subsampling -> table becomes one op)
      -> memory (ops/*.pack: flash arrays, MACs; the arena plan)
      -> reference (ops/*.reference: numpy interpreter, golden vectors)
      -> emit (ops/*.call + kernels/<set>/*.c, printed through codegen_templates/)

Every op kind is one module in ops/ (docs/compiler.md).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lenet_edge import __version__, fsutil
from lenet_edge.errors import LenetEdgeError, require_onnx

GOLDEN_SEED = 0
GOLDEN_COUNT = 1   # synthetic selftest images by default (825 B of flash each; keeps the default
                   # mps2-an386 firmware under 70,000 B); --selftest N for more


def generate(onnx_path: Path, golden_images: np.ndarray | None = None, kernels: str = "opt",
             selftest: int | None = None, fused: bool = True) -> dict[str, str]:
    """Compile `onnx_path`; return {file name: text} without writing anything. kernels: the kernel
    set (ref | opt); selftest: how many synthetic golden images to embed (default GOLDEN_COUNT;
    ignored when golden_images are given); fused: run the fusion pass (fuse.py)."""
    from lenet_edge.compiler import emit, frontend, fuse, memory, reference, verify

    graph = frontend.load_graph(Path(onnx_path))
    verify.check(graph)
    if fused:
        graph = fuse.fuse(graph)
    plan = memory.plan(graph)
    if golden_images is None:
        n = GOLDEN_COUNT if selftest is None else selftest
        if n < 1:
            raise LenetEdgeError(f"--selftest {n}: need at least one golden image")
        images, source = reference.synthetic_digits(n, GOLDEN_SEED), f"synthetic digits, seed {GOLDEN_SEED}"
    else:
        images = np.ascontiguousarray(golden_images, dtype=np.uint8).reshape(-1, 28, 28)
        source = "given images"
        if len(images) == 0:
            raise LenetEdgeError("golden images: need at least one image")
    ref = reference.run(graph, images)
    ref_int = reference.run(graph, images, int_requant=True)
    head, arg = graph.head.tensor, graph.arg.tensor
    if not (np.array_equal(ref[head], ref_int[head]) and np.array_equal(ref[arg], ref_int[arg])):
        raise LenetEdgeError(f"{graph.source_name}: internal error: float and integer requant disagree")
    goldens = {"images": images, "scores": ref[head], "labels": ref[arg]}
    if kernels not in emit.KERNEL_SETS:
        raise LenetEdgeError(f"unknown kernel set {kernels!r} (choose from {', '.join(emit.KERNEL_SETS)})")
    manifest = _manifest(graph, plan, source, len(images), kernels)
    return emit.render(graph, plan, goldens, manifest, kernels)


def _manifest(graph, plan, golden_source: str, n_golden: int, kernels: str) -> dict:
    from lenet_edge.compiler import emit, memory

    layers = []
    for i, lp in enumerate(plan.layers):
        layer = lp.layer
        layers.append({
            "index": i, "node": layer.node, "tensor": layer.tensor, "kind": type(layer).__name__,
            "in_shape": [1, *layer.in_shape], "out_shape": [1, *layer.out_shape], "dtype": layer.out_dtype,
            "macs": lp.taps, **({"conv_form": lp.form} if lp.form else {}),
            "flash_bytes": {"float_requant": lp.flash("float"), "int_requant": lp.flash("int")},
            "arena": {"in_offset": lp.in_offset, "out_offset": lp.out_offset,
                      "out_bytes": layer.out_size if layer.out_dtype == "int8" else 0,
                      **({"scratch_offset": lp.scratch_offset, "scratch_bytes": layer.scratch_bytes}
                         if lp.scratch_offset is not None else {})},
        })
        # conv: acc_bound, max |acc| over all inputs; requant_wide: above 2^24, so the integer path
        # rounds |acc| to 24 significant bits first (le_requant's wide argument), as float(acc) does
        layers[-1].update(lp.packed.manifest)
    return {
        "format": "lenet-edge-c/1",
        "tool": {"name": "lenet-edge", "version": __version__},
        "onnx": {"file": graph.source_name, "sha256": graph.sha256, "opset": graph.opset},
        "command": f"lenet-edge export --target c --kernels {kernels}",
        "files": list(emit.OUTPUT_FILES) + ["manifest.json"],
        "kernels": {"set": kernels, "functions": emit.kernels_used_by(plan)},
        "golden": {"images": n_golden, "source": golden_source},
        "layers": layers,
        "flash_bytes": {
            "counted": "const arrays of lenet5_weights.c (weights, bias, requant multipliers, index "
                       "lists, tables) for each requant path; excludes code, the layer name tables "
                       "and the selftest vectors",
            "float_requant": plan.flash_total("float"),
            "int_requant": plan.flash_total("int"),
            "selftest": n_golden * (784 + 4 * graph.head.out_size + 1),
        },
        "ram_bytes": {
            "arena": plan.arena_bytes,
            "arena_plan": "one static int8 buffer; each layer writes to the end opposite its input, "
                          "scratch (a fused kernel's row buffer) sits in the gap between them, tables and "
                          "flatten work in place, image and scores are the caller's",
            "stack_estimate": memory.stack_estimate(),
            "stack_derivation": f"call depth {memory.STACK_DEPTH} (lenet5_predict -> one le_* kernel), "
                                f"no arrays on the stack, {memory.STACK_FRAME_BUDGET} B per frame budget "
                                "(r4-r11+lr plus spills); checked with arm-none-eabi-gcc -fstack-usage "
                                "in the tests; excludes the trace/profile hooks",
        },
    }


def export_c_cmd(onnx_path: Path, out_dir: Path, golden_images: np.ndarray | None = None,
                 kernels: str = "opt", selftest: int | None = None) -> dict[str, Path]:
    """`lenet-edge export --target c`: write the C sources and manifest.json into out_dir as one set.
    Everything is generated in memory first, then staged in a sibling folder and swapped in with one
    rename: an error at any point leaves the old set in out_dir complete and untouched."""
    onnx_path = require_onnx(onnx_path)
    files = generate(onnx_path, golden_images, kernels=kernels, selftest=selftest)
    out_dir = Path(out_dir)
    fsutil.replace_folder_files(out_dir, {name: text.encode("utf-8") for name, text in files.items()})
    return {name: out_dir / name for name in files}


def ensure_c(onnx_path: Path, c_dir: Path, kernels: str | None = None) -> bool:
    """Generate the C into `c_dir` unless it already holds a complete set made from this exact ONNX
    file (manifest sha256) by this tool version. Returns True if it (re)generated. C on disk that
    matches is used as it is, hand edits included: verify checks what would be flashed."""
    import hashlib
    import json

    onnx_path, c_dir = require_onnx(onnx_path), Path(c_dir)
    try:
        manifest = json.loads((c_dir / "manifest.json").read_text())
        current = (manifest["onnx"]["sha256"] == hashlib.sha256(onnx_path.read_bytes()).hexdigest()
                   and manifest["tool"]["version"] == __version__
                   and all((c_dir / f).is_file() for f in manifest["files"])
                   and (kernels is None or manifest.get("kernels", {}).get("set") == kernels))
    except (OSError, ValueError, KeyError, TypeError):
        current = False
    if not current:
        export_c_cmd(onnx_path, c_dir, kernels=kernels or "opt")
    return not current
