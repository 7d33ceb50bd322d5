"""IR + plan -> C sources and manifest.json, through the jinja2 templates in codegen_templates/.

Everything the templates print is prepared here as strings (C literals, argument lists, comments);
the templates only sequence and print. Output is deterministic: no timestamps, no paths.
"""
from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import jinja2
import numpy as np

from lenet_edge import __version__
from lenet_edge.compiler import ir, memory

OUTPUT_FILES = ("lenet5.h", "lenet5.c", "lenet5_weights.h", "lenet5_weights.c", "lenet5_selftest.c")
VALUES_PER_LINE = {"int8_t": 16, "uint8_t": 16, "int16_t": 12, "uint16_t": 12, "int32_t": 8,
                   "uint32_t": 6, "le_rq_t": 3}

WIDE = "_wide"   # suffix of the conv kernel variants that call le_requant_wide (see requant.py)
KERNEL = {ir.InputTable: "le_input_table_u8", ir.Table: "le_table_s8", ir.Pad: "le_pad_s8",
          ir.Conv: "le_conv_s8", ir.MaxPool: "le_maxpool_s8", ir.Rbf: "le_rbf_s8",
          ir.Dense: "le_dense_s8"}


def template_dir() -> Path:
    """codegen_templates/: packaged as lenet_edge.codegen_templates in a wheel, else the source tree."""
    try:
        return Path(str(resources.files("lenet_edge.codegen_templates")))
    except ModuleNotFoundError:  # editable install made before the folder existed
        return Path(__file__).resolve().parents[2] / "codegen_templates"


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir())), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                              autoescape=False)


def c_ident(name: str) -> str:
    s = re.sub(r"[^0-9A-Za-z_]", "_", name).strip("_").lower() or "layer"
    return f"l_{s}" if s[0].isdigit() else s


def c_string(s: str) -> str:
    """A C string literal (ONNX names may hold any character)."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= ord(ch) < 127 and ch != "?":   # '?' avoided: trigraphs
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


def c_literal(ctype: str, v) -> str:
    if ctype == "uint32_t":
        return f"0x{int(v):08x}u"
    if ctype == "le_rq_t":
        return f"{{INT64_C({int(v[0])}), {int(v[1])}, {int(v[2])}}}"   # {r, a, sh}
    if ctype == "int32_t" and int(v) == -2**31:
        return "(-2147483647 - 1)"
    return str(int(v))


def c_values(ctype: str, values: np.ndarray, indent: str = "    ") -> str:
    """Array initializer body: values in rows, comma separated."""
    items = [c_literal(ctype, v) for v in (values if ctype == "le_rq_t" else values.reshape(-1))]
    per = VALUES_PER_LINE[ctype]
    rows = [", ".join(items[i:i + per]) for i in range(0, len(items), per)]
    return ",\n".join(indent + r for r in rows)


def shape_str(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(d) for d in (1,) + tuple(shape)) + "]"


def _names(graph: ir.Graph) -> list[str]:
    ids, used = [], set()
    for layer in graph.layers:
        base = c_ident(layer.node)
        name, i = base, 2
        while name in used:
            name, i = f"{base}_{i}", i + 1
        used.add(name)
        ids.append(name)
    return ids


def _whole_window(layer: ir.Conv) -> bool:
    """The k x k window covers the whole input: one output pixel per channel (a matrix-vector product)."""
    return layer.in_shape[1:] == (layer.kernel, layer.kernel) and layer.out_shape[1:] == (1, 1)


def _layer_context(index: int, ident: str, lp: memory.LayerPlan, n_classes: int) -> dict:
    layer = lp.layer
    arena = "lenet5_arena"
    src = "image" if lp.in_offset is None else f"{arena} + {lp.in_offset}"
    dst = "scores" if lp.out_offset is None else f"{arena} + {lp.out_offset}"
    sym = {a.suffix: f"lenet5_{ident}_{a.suffix}" for a in lp.arrays}
    in_desc = shape_str(layer.in_shape) + (" uint8" if isinstance(layer, ir.InputTable) else "")
    out_desc = {"int8": "int8", "int32": "int32 scores", "int64": "label"}[layer.out_dtype]
    comment = f'{layer.node} (ONNX node "{layer.node}"): {in_desc} -> {shape_str(layer.out_shape)}, {out_desc}'
    kernel, args, result = KERNEL.get(type(layer)), [], None
    if isinstance(layer, ir.InputTable):
        args = ["image", sym["table"], dst, str(layer.out_size)]
    elif isinstance(layer, ir.Table):
        args = [dst, sym["table"], str(layer.out_size)]
    elif isinstance(layer, ir.Pad):
        c, h, w = layer.in_shape
        t, l_, b, r = layer.pads
        args = [src, str(c), str(h), str(w), str(t), str(l_), str(b), str(r), str(layer.value), dst]
    elif isinstance(layer, ir.Conv) and lp.form == "dense" and _whole_window(layer):
        kernel = "le_conv_dot_s8"
        args = [src, str(layer.in_size), sym["w"], sym["bias"], sym["rq"], str(layer.y_zp), dst,
                str(layer.out_shape[0])]
    elif isinstance(layer, ir.Conv) and lp.form == "dense":
        kernel = "le_conv_dense_s8"
        ic, ih, iw = layer.in_shape
        oc, oh, ow = layer.out_shape
        args = [src, str(ic), str(ih), str(iw), str(layer.kernel), str(layer.stride), sym["w"], sym["bias"],
                sym["rq"], str(layer.y_zp), dst, str(oc), str(oh), str(ow)]
    elif isinstance(layer, ir.Conv):
        oc, oh, ow = layer.out_shape
        args = [src, str(layer.in_shape[2]), str(layer.kernel), str(layer.stride), sym["w"], sym["kstart"],
                sym["in_off"], sym["bias"], sym["rq"], str(layer.y_zp), dst, str(oc), str(oh), str(ow)]
    elif isinstance(layer, ir.MaxPool):
        c, h, w = layer.in_shape
        args = [src, str(c), str(h), str(w), str(layer.kernel), str(layer.stride), dst,
                str(layer.out_shape[1]), str(layer.out_shape[2])]
    elif isinstance(layer, ir.Rbf):
        args = [src, str(layer.in_size), sym["centres"], str(layer.out_size), "scores"]
    elif isinstance(layer, ir.Dense):
        args = [src, str(layer.in_size), sym["w"], sym["bias"], str(layer.out_size), "scores"]
    elif isinstance(layer, ir.Arg):
        kernel = f"le_arg{layer.mode}_s32"
        args, result = ["scores", str(n_classes)], "label"
    if isinstance(layer, ir.Conv) and lp.rq.wide:
        kernel += WIDE     # |acc| may exceed 2^24: the integer path rounds it to 24 bits first
    return {
        "index": index, "ident": ident, "enum": f"LENET5_LAYER_{ident.upper()}",
        "node": c_string(layer.node), "tensor": c_string(layer.tensor), "comment": re.sub(r"[^\x20-\x7e]", "?", comment).replace("*/", "* /"),
        "kernel": kernel, "args": args, "result": result,
        "trace": layer.out_dtype == "int8", "trace_ptr": dst, "trace_n": str(layer.out_size),
        "size": str(layer.out_size if layer.out_dtype == "int8" else 0),
        "arrays": [{"ctype": a.ctype, "name": f"lenet5_{ident}_{a.suffix}", "count": str(a.count),
                    "comment": a.comment, "variant": a.variant, "body": c_values(a.ctype, a.values)}
                   for a in lp.arrays],
    }


def render(graph: ir.Graph, plan: memory.Plan, goldens: dict, manifest_extra: dict) -> dict[str, str]:
    """-> {file name: text} for every output file (manifest.json included)."""
    ids = _names(graph)
    n_classes = graph.head.out_size
    layers = [_layer_context(i, ident, lp, n_classes) for i, (ident, lp) in enumerate(zip(ids, plan.layers))]
    # runtime kernels to print, in first-use order: {template, suffix} (suffix "_wide" or "")
    has_conv = any(isinstance(lp.layer, ir.Conv) for lp in plan.layers)
    names = ["le_requant", "le_conv_core"] if has_conv else []
    for lctx in layers:
        if lctx["kernel"] and lctx["kernel"] not in names:
            names.append(lctx["kernel"])
    kernels = [{"template": n.removesuffix(WIDE), "suffix": WIDE if n.endswith(WIDE) else ""} for n in names]
    wide_requant = any(n.endswith(WIDE) for n in names)
    banner = (f"/* Generated by lenet-edge {__version__} from {graph.source_name} sha256={graph.sha256}, "
              f"opset {graph.opset}. Do not edit. */")
    arch = "paper" if isinstance(graph.head, ir.Rbf) else "modern"
    ctx = {
        "banner": banner, "layers": layers, "kernels": kernels, "wide_requant": wide_requant, "arch": arch,
        "num_layers": len(layers), "num_scores": n_classes, "arena_bytes": plan.arena_bytes,
        "label_rule": "argmin" if graph.arg.mode == "min" else "argmax",
        "golden_count": len(goldens["images"]),
        "golden_images": c_values("uint8_t", goldens["images"].reshape(len(goldens["images"]), -1), "        "),
        "golden_rows": [{"image": c_values("uint8_t", img, "        "),
                         "scores": c_values("int32_t", sc, "        "), "label": str(int(lb))}
                        for img, sc, lb in zip(goldens["images"], goldens["scores"], goldens["labels"])],
        "golden_labels": ", ".join(str(int(v)) for v in goldens["labels"]),
    }
    env = _env()
    files = {name: env.get_template(f"{name}.j2").render(**ctx) for name in OUTPUT_FILES}
    files["manifest.json"] = json.dumps(manifest_extra, indent=2) + "\n"
    return files
