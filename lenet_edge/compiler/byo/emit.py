"""Units + shapes -> NAME.h, NAME.c, NAME_weights.h, manifest.json, and CMakeLists.txt +
arm-none-eabi.cmake (lenet_edge.compiler.cmake: a static library target for add_subdirectory): a
printer (no decisions about arithmetic). Kernels are pasted from kernels/byo/<set>/ (a kernel without an optimized version is
taken from kernels/byo/ref/, and manifest.json says so). One static arena, no malloc."""
from __future__ import annotations

import json

import numpy as np

from lenet_edge import __version__
from lenet_edge.compiler import cmake, memory
from lenet_edge.compiler.ir import CTYPES, NBYTES, Ctx
from lenet_edge.compiler.emit import c_comment, c_string, kernel_dir

KERNEL_SETS = ("ref", "opt")
# Target names CMake reserves (or, for m, the libm the library links): NAME gets a _lib suffix there.
CMAKE_RESERVED = {"all", "clean", "depend", "edit_cache", "help", "install", "list_install_components", "m",
                  "package", "package_source", "preinstall", "rebuild_cache", "test"}


def cmake_target(name: str) -> str:
    """The CMake library target of model NAME (alias NAME::NAME): NAME itself unless CMake reserves it."""
    return f"{name}_lib" if name.lower() in CMAKE_RESERVED else name


def _nbytes(shape, dtype) -> int:
    return int(np.prod(shape)) * NBYTES[dtype]


def _c_values(values, ctype) -> str:
    v = np.asarray(values).reshape(-1)
    if ctype == "uint32_t":
        items = [f"0x{int(x):08x}u" for x in v.astype(np.uint32)]
    else:
        items = [str(int(x)) for x in v]
    per = 12 if ctype != "uint32_t" else 6
    return ",\n".join("    " + ", ".join(items[i:i + per]) for i in range(0, len(items), per)) or "    0"


def _kernel_source(stem: str, kernels: str) -> tuple[str, str]:
    for k in (kernels, "ref"):
        path = kernel_dir() / "byo" / k / f"{stem}.c"
        if path.is_file():
            text = "\n".join(ln for ln in path.read_text().splitlines() if ln.strip() != '#include "le_byo.h"')
            return text, k
    raise FileNotFoundError(stem)


def render(parsed, shapes, dtypes, *, name, kernels, source_name, sha256, optimized_sha256, ort_version):
    plan = memory.plan(parsed, memory.tensor_bytes(shapes, dtypes))
    units, offsets, arena = parsed.ops, plan.offsets, plan.arena_bytes
    outs = parsed.outputs
    in_t = CTYPES[parsed.input_dtype]
    up = name.upper()
    buf = {parsed.input_name: "input"}
    for k, (oname, odt) in enumerate(outs):
        buf[oname] = "output" if len(outs) == 1 else f"output{k}"
    for t, off in offsets.items():
        buf[t] = f"(({CTYPES[dtypes[t]]} *)({name}_arena.b + {off}))"
    scratch = max((u.scratch_floats(shapes) for u in units), default=0)

    weights, calls, manifest_units, used = [], [], [], {}
    flash_total = 0
    for i, (u, lp) in enumerate(zip(units, plan.ops)):
        syms = {}
        flash = 0
        packed = lp.packed
        for c in packed.arrays:
            sym = f"{name}_u{i}_{c.suffix}"
            syms[c.suffix] = sym
            flash += c.nbytes
            weights.append(f"/* unit {i} ({c_comment(u.op)} \"{c_comment(u.node)}\"): {c_comment(c.comment)} */\n"
                           f"static const {c.ctype} {sym}[{int(np.asarray(c.values).size)}] = {{\n"
                           f"{_c_values(c.values, c.ctype)}\n}};\n")
        flash_total += flash
        ctx = Ctx(buf=buf, symbols=syms, shape=shapes, dtype=dtypes, scratch=f"{name}_scratch")
        in_desc = ", ".join(f"{c_comment(t)} {list(shapes[t])}" for t in u.inputs)
        out_desc = ", ".join(f"{c_comment(t)} {dtypes[t]} {list(shapes[t])}" for t in u.outputs if t)
        stmt = u.call(packed, ctx)
        trace = "".join(f"\n    {up}_T({c_string(t)}, {buf[t]}, {_nbytes(shapes[t], dtypes[t])}u);"
                        for t in u.outputs if t)
        calls.append(f"    /* {i}: {c_comment(u.op)} \"{c_comment(u.node)}\": {in_desc} -> {out_desc} */\n    {stmt}{trace}\n")
        used.setdefault(u.kernel, None)
        manifest_units.append({
            "index": i, "node": u.node, "op": u.op, "kernel": u.kernel,
            "inputs": [{"tensor": t, "shape": list(shapes[t]), "dtype": dtypes[t]} for t in u.inputs],
            "outputs": [{"tensor": t, "shape": list(shapes[t]), "dtype": dtypes[t],
                         "arena_offset": offsets.get(t)} for t in u.outputs if t],
            "macs": u.macs(shapes), "flash_bytes": flash,
        })

    kernel_texts, kernel_sets = [], {}
    for stem in used:
        text, came = _kernel_source(stem, kernels)
        kernel_texts.append(f"/* ---- kernels/byo/{came}/{stem}.c ---- */\n{text}")
        kernel_sets[stem] = came
    common = (kernel_dir() / "byo" / "le_byo.h").read_text()

    params = [f"const {in_t} input[{up}_INPUT_SIZE]"]
    size_defs = [f"#define {up}_INPUT_SIZE {int(np.prod(parsed.input_shape))}"]
    io_doc = [f"/* input {c_comment(parsed.input_name)}: {parsed.input_dtype} {list(parsed.input_shape)} */"]
    for k, (oname, odt) in enumerate(outs):
        suffix = "" if len(outs) == 1 else str(k)
        size_defs.append(f"#define {up}_OUTPUT{suffix}_SIZE {int(np.prod(shapes[oname]))}")
        params.append(f"{CTYPES[odt]} output{suffix}[{up}_OUTPUT{suffix}_SIZE]")
        io_doc.append(f"/* output{suffix} {c_comment(oname)}: {odt} {list(shapes[oname])} */")
    proto = f"int {name}_run({', '.join(params)})"
    header = (f"/* {name}.h: generated by lenet-edge {__version__} `lenet-edge compile` from {c_comment(source_name)}\n"
              f" * (sha256 {sha256}). Bit-exact with ONNX Runtime {ort_version}'s pinned reference session.\n"
              f" * Tensors are the graph's own shapes, row-major (NCHW for images). Returns 0. No malloc. */\n"
              f"#ifndef {up}_H\n#define {up}_H\n\n#include <stdint.h>\n\n" + "\n".join(size_defs) + "\n\n"
              + "\n".join(io_doc) + f"\n{proto};\n\n#endif /* {up}_H */\n")
    weights_h = (f"/* {name}_weights.h: the constants of {c_comment(source_name)} ({flash_total} bytes). */\n"
                 + "\n".join(weights))
    scratch_decl = f"static float {name}_scratch[{scratch}];\n" if scratch else ""
    source = (f"/* {name}.c: generated by lenet-edge {__version__} `lenet-edge compile` (kernels: {kernels}).\n"
              f" * Arithmetic: lenet-edge docs/ort-int8-ops.md. Build with any C99 compiler, without -ffast-math. */\n"
              f'#include "{name}.h"\n\n{common}\n' + "\n".join(kernel_texts) + "\n\n"
              f'#include "{name}_weights.h"\n\n'
              f"#ifdef {up}_TRACE\n#define {up}_T(tensor, data, bytes) {up}_TRACE(tensor, data, bytes)\n"
              f"#else\n#define {up}_T(tensor, data, bytes) ((void)0)\n#endif\n\n"
              + (f"static union {{ uint32_t align; uint8_t b[{arena}]; }} {name}_arena;\n" if arena else "")
              + f"{scratch_decl}\n"
              f"{proto}\n{{\n" + "\n".join(calls) + "    return 0;\n}\n")
    sources = {f"{name}.h": header, f"{name}.c": source, f"{name}_weights.h": weights_h}
    target = cmake_target(name)
    build_files = cmake.for_compiled_model(sources, target, name)
    manifest = {
        "format": "lenet-edge-compile/1",
        "tool": {"name": "lenet-edge", "version": __version__},
        "name": name,
        "onnx": {"file": source_name, "sha256": sha256},
        "reference": {"onnxruntime": ort_version, "optimized_graph_sha256": optimized_sha256,
                      "session": "CPU, ORT_ENABLE_ALL, session.qdqisint8allowed=1, 1 thread"},
        "input": {"name": parsed.input_name, "dtype": parsed.input_dtype, "shape": list(parsed.input_shape)},
        "outputs": [{"name": o, "dtype": d, "shape": list(shapes[o])} for o, d in outs],
        "kernels": {"set": kernels, "files": kernel_sets},
        "files": sorted([*sources, *cmake.OUTPUT_FILES, "manifest.json"]),
        "cmake_target": target,
        "units": manifest_units,
        "macs": sum(u["macs"] for u in manifest_units),
        "flash_bytes": {"constants": flash_total},
        "ram_bytes": {"arena": arena, "scratch": 4 * scratch},
    }
    return {**sources, **build_files, "manifest.json": json.dumps(manifest, indent=1, sort_keys=False) + "\n"}
