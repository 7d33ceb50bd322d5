"""IR + plan -> C sources and manifest.json, for both commands: a printer with two API templates.

    render_lenet5  `export --target c`: lenet5.h / .c / _weights.h / _weights.c / _selftest.c
                   (lenet5_predict, lenet5_scores, ...), codegen_templates/lenet5*.j2
    render_run     `compile`: NAME.h / NAME.c / NAME_weights.h (NAME_run), codegen_templates/NAME*.j2

Each op unit says what to print (its `call` and its packed arrays); the kernels it names are pasted
from kernels/<set>/<kernel>.c, or kernels/byo/<set>/ for the ops of ORT's graph (and the shared
headers they include, once each). This module only formats: C literals, names, comments, and the
jinja2 templates in codegen_templates/, which only sequence and print. Output is deterministic:
no timestamps, no paths.

Every string that comes from the model (node, tensor and file names) reaches the C only through
`c_ident` (identifiers), `c_string` (string literals) or `c_comment` (comment text).
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
from lenet_edge.errors import LenetEdgeError

OUTPUT_FILES = ("lenet5.h", "lenet5.c", "lenet5_weights.h", "lenet5_weights.c", "lenet5_selftest.c")
KERNEL_SETS = ("ref", "opt")
DEFAULT_KERNELS = "opt"
VALUES_PER_LINE = {"int8_t": 16, "uint8_t": 16, "int16_t": 12, "uint16_t": 12, "int32_t": 8,
                   "uint32_t": 6, "le_rq_t": 3}
COMMON_HEADER = "le_common.h"   # pasted into lenet5_weights.h; every kernel includes it


def _package_dir(package: str, folder: str) -> Path:
    """A data folder shipped in the wheel as `package`, else the source tree's top-level `folder`."""
    try:
        return Path(str(resources.files(package)))
    except ModuleNotFoundError:  # editable install made before the folder existed
        return Path(__file__).resolve().parents[2] / folder


def template_dir() -> Path:
    """codegen_templates/: packaged as lenet_edge.codegen_templates in a wheel, else the source tree."""
    return _package_dir("lenet_edge.codegen_templates", "codegen_templates")


def kernel_dir() -> Path:
    """kernels/: packaged as lenet_edge.kernels in a wheel, else the source tree."""
    return _package_dir("lenet_edge.kernels", "kernels")


def template_env() -> jinja2.Environment:
    """The jinja2 environment of codegen_templates/ (every generated file is printed through it)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir())), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                              autoescape=False)


# ---- model strings -> C ------------------------------------------------------------------------
def c_ident(name: str) -> str:
    s = re.sub(r"[^0-9A-Za-z_]", "_", name).strip("_").lower() or "layer"
    return f"l_{s}" if s[0].isdigit() else s


def c_string(s: str) -> str:
    """A C string literal (ONNX names may hold any character): printable ASCII as is, except
    '"' and '\\' (escaped) and '?' (no trigraphs); everything else as octal escapes of its UTF-8."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= ord(ch) < 127 and ch != "?":
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


def c_comment(s: str) -> str:
    """Text safe inside /* ... */: printable ASCII only ('?' and '\\' too become '_': no trigraph or
    line splice), and no comment opener or closer."""
    s = "".join(ch if 32 <= ord(ch) < 127 and ch not in "?\\" else "_" for ch in s)
    while "/*" in s or "*/" in s:
        s = s.replace("/*", "/_").replace("*/", "_/")
    return s


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
    for layer in graph.ops:
        base = c_ident(layer.node)
        name, i = base, 2
        while name in used:
            name, i = f"{base}_{i}", i + 1
        used.add(name)
        ids.append(name)
    return ids


# ---- kernels -------------------------------------------------------------------------------------
_LOCAL_INCLUDE = re.compile(r'^#include "([^"]+)"\n', re.M)


def _kernel_file(kernel_set: str, name: str, family: str = "") -> tuple[str, Path]:
    """-> (the path cited in the generated C, the file). The set's own file first; a kernel that
    kernels/opt does not speed up is the reference one (kernels/ref); then the shared headers.
    family "byo/": the same under kernels/byo/."""
    root = kernel_dir()
    for rel in dict.fromkeys((f"{family}{kernel_set}/{name}", f"{family}ref/{name}", f"{family}{name}", name)):
        if (root / rel).is_file():
            return f"kernels/{rel}", root / rel
    raise LenetEdgeError(f"internal error: kernel file {name} not found in kernels/{family}{kernel_set}")


def paste_kernels(kernel_set: str, files: list[str], done: set[str], family: str = "") -> str:
    """The text of the kernel files with each local #include "x" replaced by the text of x (once
    per file, where the preprocessor would first read it; later includes of it vanish): one
    amalgamated block, like a single-file library."""

    def expand(name: str) -> str:
        if name in done:
            return ""
        done.add(name)
        cited, path = _kernel_file(kernel_set, name, family)
        out = []
        for line in path.read_text().strip("\n").split("\n"):
            m = _LOCAL_INCLUDE.match(line + "\n")
            if m:
                block = expand(m.group(1))
                if block:
                    out.append(block)
            else:
                out.append(line)
        body = "\n".join(out)
        body = re.sub(r"\n{3,}", "\n\n", body)
        return f"/* ---- {cited} ---- */\n{body}\n"

    return "\n".join(b for b in (expand(name) for name in files) if b)


# ---- layers -----------------------------------------------------------------------------------------
def _layer_context(index: int, ident: str, lp: memory.OpPlan) -> dict:
    layer = lp.op
    arena = "lenet5_arena"
    src = "image" if lp.in_offset is None else f"{arena} + {lp.in_offset}"
    dst = "scores" if lp.out_offset is None else f"{arena} + {lp.out_offset}"
    symbols = {a.suffix: f"lenet5_{ident}_{a.suffix}" for a in lp.arrays}
    scratch = "0" if lp.scratch_offset is None else f"{arena} + {lp.scratch_offset}"
    call = layer.call(lp.packed, ir.Ctx({layer.source: src, layer.tensor: dst}, symbols, src, dst, scratch))
    in_desc = shape_str(layer.in_shape) + (" uint8" if layer.in_dtype == "uint8" else "")
    out_desc = {"int8": "int8", "int32": "int32 scores", "int64": "label"}[layer.out_dtype]
    node = c_comment(layer.node)
    comment = f'{node} (ONNX node "{node}"): {in_desc} -> {shape_str(layer.out_shape)}, {out_desc}'
    return {
        "index": index, "ident": ident, "enum": f"LENET5_LAYER_{ident.upper()}",
        "node": c_string(layer.node), "tensor": c_string(layer.tensor), "comment": comment,
        "kernel": call.kernel, "args": list(call.args), "result": call.result,
        "trace": layer.out_dtype == "int8", "trace_ptr": dst, "trace_n": str(layer.out_size),
        "size": str(layer.out_size if layer.out_dtype == "int8" else 0),
        "arrays": [{"ctype": a.ctype, "name": f"lenet5_{ident}_{a.suffix}", "count": str(a.count),
                    "comment": c_comment(a.comment), "variant": a.variant, "body": c_values(a.ctype, a.values),
                    "align": " LE_ALIGN4" if a.align4 else ""}
                   for a in lp.arrays],
    }


def kernels_used(layers: list[dict]) -> list[str]:
    """The kernel functions the layers call, in first-use order."""
    return list(dict.fromkeys(lc["kernel"] for lc in layers if lc["kernel"]))


def render_lenet5(graph: ir.Graph, plan: memory.Plan, goldens: dict, manifest_extra: dict,
                  kernel_set: str = DEFAULT_KERNELS) -> dict[str, str]:
    """The LeNet-5 API: {file name: text} for every output file (manifest.json included: manifest_extra,
    with the kernel functions this rendering pasted added under "kernels")."""
    if kernel_set not in KERNEL_SETS:
        raise LenetEdgeError(f"unknown kernel set {kernel_set!r} (choose from {', '.join(KERNEL_SETS)})")
    ids = _names(graph)
    n_classes = graph.head.out_size
    layers = [_layer_context(i, ident, lp) for i, (ident, lp) in enumerate(zip(ids, plan.ops))]
    common = paste_kernels(kernel_set, [COMMON_HEADER], set())
    used = kernels_used(layers)
    kernels = paste_kernels(kernel_set, [f"{k}.c" for k in used], {COMMON_HEADER})
    banner = (f"/* Generated by lenet-edge {__version__} from {c_comment(graph.source_name)} "
              f"sha256={graph.sha256}, opset {graph.opset}, kernels {kernel_set}. Do not edit. */")
    arch = "paper" if graph.arg.mode == "min" else "modern"
    ctx = {
        "banner": banner, "layers": layers, "kernels": kernels, "common": common, "arch": arch,
        "kernel_set": kernel_set,
        "num_layers": len(layers), "num_scores": n_classes, "arena_bytes": plan.arena_bytes,
        "label_rule": "argmin" if graph.arg.mode == "min" else "argmax",
        "golden_count": len(goldens["images"]), "golden_procedural": goldens.get("procedural", False),
        "golden_rows": [{"image": c_values("uint8_t", img, "        "),
                         "scores": c_values("int32_t", sc, "        "), "label": str(int(lb))}
                        for img, sc, lb in zip(goldens["images"], goldens["scores"], goldens["labels"])],
        "golden_labels": ", ".join(str(int(v)) for v in goldens["labels"]),
    }
    env = template_env()
    files = {name: env.get_template(f"{name}.j2").render(**ctx) for name in OUTPUT_FILES}
    manifest = {**manifest_extra, "kernels": {**manifest_extra.get("kernels", {}), "functions": used}}
    files["manifest.json"] = json.dumps(manifest, indent=2) + "\n"
    return files


# ---- the NAME_run API (lenet-edge compile) ----------------------------------------------------------
RUN_FILES = ("NAME.h", "NAME.c", "NAME_weights.h")   # NAME replaced by the model's name
RUN_COMMON_HEADER = "le_byo.h"                      # kernels/byo/: pasted first; every byo kernel includes it
def kernel_source_set(stem: str, kernel_set: str) -> str:
    """Which set a byo kernel comes from: kernel_set, or "ref" where kernels/byo/opt has no file."""
    return _kernel_file(kernel_set, f"{stem}.c", "byo/")[0].split("/")[2]


def render_run(graph: ir.Graph, plan: memory.Plan, shapes: dict, dtypes: dict, *, name: str,
               kernels: str, source_name: str, sha256: str, ort_version: str) -> tuple[dict, list]:
    """The NAME_run API: ({file name: text} of NAME.h, NAME.c, NAME_weights.h; one manifest entry
    per op). Graph inputs and outputs are the caller's buffers, every other tensor sits in the arena."""
    ctypes, up = ir.CTYPES, name.upper()
    outs = graph.outputs
    buf = {graph.input_name: "input"}
    for k, (oname, _) in enumerate(outs):
        buf[oname] = "output" if len(outs) == 1 else f"output{k}"
    for t, off in plan.offsets.items():
        buf[t] = f"(({ctypes[dtypes[t]]} *)({name}_arena.b + {off}))"
    nbytes = memory.tensor_bytes(shapes, dtypes)
    arrays, units, entries = [], [], []
    for i, lp in enumerate(plan.ops):
        u = lp.op
        syms = {}
        for c in lp.arrays:
            syms[c.suffix] = f"{name}_u{i}_{c.suffix}"
            arrays.append({"index": i, "op": c_comment(u.op), "node": c_comment(u.node), "comment": c_comment(c.comment),
                           "ctype": c.ctype, "name": syms[c.suffix], "count": c.count, "body": c_values(c.ctype, c.values)})
        ctx = ir.Ctx(buf, syms, scratch=f"{name}_scratch", shape=shapes, dtype=dtypes)
        outputs = [t for t in u.outputs if t]
        units.append({
            "index": i, "op": c_comment(u.op), "node": c_comment(u.node), "stmt": u.call(lp.packed, ctx),
            "inputs": ", ".join(f"{c_comment(t)} {list(shapes[t])}" for t in u.inputs),
            "outputs": ", ".join(f"{c_comment(t)} {dtypes[t]} {list(shapes[t])}" for t in outputs),
            "traces": [{"name": c_string(t), "buf": buf[t], "bytes": nbytes[t]} for t in outputs]})
        entries.append({
            "index": i, "node": u.node, "op": u.op, "kernel": u.kernel,
            "inputs": [{"tensor": t, "shape": list(shapes[t]), "dtype": dtypes[t]} for t in u.inputs],
            "outputs": [{"tensor": t, "shape": list(shapes[t]), "dtype": dtypes[t],
                         "arena_offset": plan.offsets.get(t)} for t in outputs],
            "macs": u.macs(shapes), "flash_bytes": sum(c.nbytes for c in lp.arrays)})
    stems = list(dict.fromkeys(u.kernel for u in graph.ops))
    params = [f"const {ctypes[graph.input_dtype]} input[{up}_INPUT_SIZE]"]
    size_defs = [{"name": f"{up}_INPUT_SIZE", "value": int(np.prod(graph.input_shape))}]
    io_doc = [{"role": "input", "tensor": c_comment(graph.input_name), "dtype": graph.input_dtype,
               "shape": list(graph.input_shape)}]
    for k, (oname, odt) in enumerate(outs):
        suffix = "" if len(outs) == 1 else str(k)
        size_defs.append({"name": f"{up}_OUTPUT{suffix}_SIZE", "value": int(np.prod(shapes[oname]))})
        params.append(f"{ctypes[odt]} output{suffix}[{up}_OUTPUT{suffix}_SIZE]")
        io_doc.append({"role": f"output{suffix}", "tensor": c_comment(oname), "dtype": odt, "shape": list(shapes[oname])})
    ctx = {
        "name": name, "up": up, "version": __version__, "source": c_comment(source_name), "sha256": sha256,
        "ort_version": ort_version, "kernel_set": kernels, "size_defs": size_defs, "io_doc": io_doc,
        "proto": f"int {name}_run({', '.join(params)})",
        "common": paste_kernels(kernels, [RUN_COMMON_HEADER], set(), "byo/"),
        "kernels": paste_kernels(kernels, [f"{k}.c" for k in stems], {RUN_COMMON_HEADER}, "byo/"),
        "arena_bytes": plan.arena_bytes, "scratch_floats": max((u.scratch_floats(shapes) for u in graph.ops), default=0),
        "units": units, "arrays": arrays, "flash_total": sum(e["flash_bytes"] for e in entries),
    }
    env = template_env()
    files = {f.replace("NAME", name): env.get_template(f"{f}.j2").render(**ctx) for f in RUN_FILES}
    return files, entries
