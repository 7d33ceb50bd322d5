"""`lenet-edge compile` and `lenet-edge verify --onnx --c`: the ONNX Runtime side of bringing your own
int8 model (docs/byo.md).

compile: the user's model is checked (a float model is sent to `lenet-edge quantize`), the pinned
session's optimized graph is dumped (ort.optimized_graph), and the compiler
(lenet_edge.compiler.compile_model, which never imports onnxruntime) turns that graph into C, calling back
into lenet_edge.check.tables for the tables ORT computes with its own float approximations.

verify: the C is built on the host and run on the given or random inputs; every output must equal
ORT's (the pinned session on the user's model) bit for bit. On a difference, the first input that
differs is traced through the C and compared tensor by tensor with ORT's optimized graph, and the
first unit whose tensor differs is named.
"""
from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from onnx import helper

from lenet_edge import fsutil
from lenet_edge.proc import run as run_program
from lenet_edge.check import ort as ort_oracle
from lenet_edge.check import tables
from lenet_edge.errors import LenetEdgeError

# Ops that make a model quantized: QDQ pairs, every QLinear* op, the integer products, and ORT's
# com.microsoft quantized ops (QGemm, QAttention, ...). A model with none of these is a float model.
QUANT_OPS = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger",
             "MatMulIntegerToFloat", "DynamicQuantizeMatMul"}
FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16}


def _nodes(graph: onnx.GraphProto):
    """Every node of the graph and of its subgraphs (If, Loop, Scan bodies)."""
    for n in graph.node:
        yield n
        for a in n.attribute:
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from _nodes(g)


def is_quantized_op(node: onnx.NodeProto) -> bool:
    return (node.op_type in QUANT_OPS or node.op_type.startswith("QLinear")
            or node.domain == "com.microsoft" and node.op_type.startswith("Q"))


def is_float_model(model: onnx.ModelProto) -> bool:
    """No quantized op anywhere, and float arithmetic somewhere (a float input, output or constant,
    or a Cast to float): what `lenet-edge quantize` is for. A QDQ model is never float."""
    g = model.graph
    if any(is_quantized_op(n) for n in _nodes(g)):
        return False
    typed = [v.type.tensor_type.elem_type for v in list(g.input) + list(g.output)]
    return (any(t in FLOAT_TYPES for t in typed) or any(t.data_type in FLOAT_TYPES for t in g.initializer)
            or any(n.op_type == "Cast" and any(a.name == "to" and a.i in FLOAT_TYPES for a in n.attribute)
                   for n in _nodes(g)))


def _load_user_model(path: Path) -> tuple[onnx.ModelProto, bytes]:
    path = Path(path)
    if not path.is_file():
        raise LenetEdgeError(f"{path}: no such model file")
    data = path.read_bytes()
    try:
        model = onnx.load_from_string(data)
        onnx.checker.check_model(model)
    except Exception as e:  # DecodeError, ValidationError, ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise LenetEdgeError(f"{path}: not a valid ONNX model: {first}") from None
    if is_float_model(model):
        raise LenetEdgeError(f"{path}: a float model (no QuantizeLinear, DequantizeLinear, QLinear* or integer op): "
                             f"quantize it first: lenet-edge quantize {path} --calib DATA.npy "
                             f"--out {path.with_name(path.stem + '_int8.onnx')}")
    return model, data


def _cut(model: onnx.ModelProto, node_name: str, path: Path) -> onnx.ModelProto:
    """The graph up to and including node `node_name`, whose first output becomes the graph output."""
    names = [n.name for n in model.graph.node]
    if node_name not in names:
        raise LenetEdgeError(f"{path}: --cut-at {node_name!r}: no node of that name")
    target = model.graph.node[names.index(node_name)]
    out_name = target.output[0]
    needed, keep = {out_name}, []
    for n in reversed(model.graph.node):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(i for i in n.input if i)
    cut = onnx.ModelProto()
    cut.CopyFrom(model)
    del cut.graph.node[:]
    cut.graph.node.extend(reversed(keep))
    inferred = onnx.shape_inference.infer_shapes(model)
    infos = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    del cut.graph.output[:]
    cut.graph.output.append(infos.get(out_name) or helper.make_tensor_value_info(out_name, onnx.TensorProto.FLOAT, None))
    return cut


@dataclass
class Prepared:
    model: onnx.ModelProto          # the user's model (or its cut)
    model_bytes: bytes
    optimized: onnx.ModelProto      # what the pinned session runs
    optimized_bytes: bytes


def prepare(model_path: Path, cut_at: str | None = None) -> Prepared:
    model, data = _load_user_model(model_path)
    if cut_at:
        model = _cut(model, cut_at, Path(model_path))
        data = model.SerializeToString()
    with tempfile.TemporaryDirectory(prefix="lenet-edge-opt-") as tmp:
        src = Path(tmp) / "model.onnx"
        src.write_bytes(data)
        optimized = ort_oracle.optimized_graph(src, Path(tmp) / "optimized.onnx")
        optimized_bytes = (Path(tmp) / "optimized.onnx").read_bytes()
    return Prepared(model, data, optimized, optimized_bytes)


def compile_cmd(model_path: Path, out_dir: Path, name: str | None = None, kernels: str = "opt",
                cut_at: str | None = None, echo=print) -> dict:
    from lenet_edge.compiler import c_name, compile_model

    model_path = Path(model_path)
    prep = prepare(model_path, cut_at)
    name = name or c_name(model_path.stem)
    files = compile_model(prep.optimized, name=name, kernels=kernels, table_fn=tables.chain_table,
                          source_name=model_path.name, sha256=hashlib.sha256(prep.model_bytes).hexdigest(),
                          optimized_sha256=hashlib.sha256(prep.optimized_bytes).hexdigest(),
                          ort_version=ort_oracle.version())
    if cut_at:                       # the model the C was cut from, for verify; listed with the rest
        files["cut_model.onnx"] = prep.model_bytes
        manifest = json.loads(files["manifest.json"])
        manifest["files"] = sorted([*manifest["files"], "cut_model.onnx"])
        files["manifest.json"] = json.dumps(manifest, indent=1) + "\n"
    fsutil.replace_folder_files(Path(out_dir), {k: v if isinstance(v, bytes) else v.encode() for k, v in files.items()})
    manifest = json.loads(files["manifest.json"])
    echo(f"wrote {out_dir}/: {', '.join(sorted(files))}")
    echo(f"  {name}_run: {manifest['input']['dtype']} {manifest['input']['shape']} -> "
         + ", ".join(f"{o['dtype']} {o['shape']}" for o in manifest["outputs"]))
    echo(f"  {len(manifest['units'])} units, {manifest['macs']:,} MACs, {manifest['flash_bytes']['constants']:,} B "
         f"constants, {manifest['ram_bytes']['arena']:,} B arena, kernels {kernels}")
    return manifest


# ---------------------------------------------------------------- verify

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
static FILE *le_trace_file;
static void le_trace(const char *tensor, const void *data, unsigned bytes)
{
    uint32_t n = (uint32_t)strlen(tensor), b = bytes;
    if (!le_trace_file) return;
    fwrite(&n, 4, 1, le_trace_file);
    fwrite(tensor, 1, n, le_trace_file);
    fwrite(&b, 4, 1, le_trace_file);
    fwrite(data, 1, bytes, le_trace_file);
}
#define @UP@_TRACE(t, d, b) le_trace(t, d, b)
#include "@NAME@.c"
int main(int argc, char **argv)
{
    static @IN_T@ in[@UP@_INPUT_SIZE];
@OUT_DECLS@
    if (argc > 1) le_trace_file = fopen(argv[1], "wb");
    while (fread(in, sizeof in, 1, stdin) == 1) {
        if (@NAME@_run(in, @OUT_ARGS@) != 0) return 2;
@OUT_WRITES@
    }
    if (le_trace_file) fclose(le_trace_file);
    return 0;
}
"""
CTYPES = {"float32": "float", "int8": "int8_t", "uint8": "uint8_t"}
NP = {"float32": np.float32, "int8": np.int8, "uint8": np.uint8}
FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]


def _manifest(c_dir: Path) -> dict:
    try:
        return json.loads((Path(c_dir) / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise LenetEdgeError(f"{c_dir}: no readable manifest.json (run `lenet-edge compile`): {e}") from None


def build_host(c_dir: Path, work: Path, flags=(), compiler: str | None = None) -> Path:
    from lenet_edge.check.hostbuild import find_compiler

    m = _manifest(c_dir)
    name = m["name"]
    up = name.upper()
    outs = m["outputs"]
    sfx = [""] if len(outs) == 1 else [str(k) for k in range(len(outs))]
    decls = "\n".join(f"    static {CTYPES[o['dtype']]} out{k}[{up}_OUTPUT{sfx[k]}_SIZE];" for k, o in enumerate(outs))
    writes = "\n".join(f"        fwrite(out{k}, sizeof out{k}, 1, stdout);" for k in range(len(outs)))
    src = (HARNESS.replace("@UP@", up).replace("@NAME@", name).replace("@IN_T@", CTYPES[m["input"]["dtype"]])
           .replace("@OUT_DECLS@", decls).replace("@OUT_WRITES@", writes)
           .replace("@OUT_ARGS@", ", ".join(f"out{k}" for k in range(len(outs)))))
    work.mkdir(parents=True, exist_ok=True)
    (work / "harness.c").write_text(src)
    exe = work / "harness"
    cc = find_compiler(compiler)
    cmd = [cc, *FLAGS, *flags, f"-I{Path(c_dir).resolve()}", str(work / "harness.c"), "-o", str(exe), "-lm"]
    # the model's C is one translation unit; 60 s per MB of source covers large weight files
    source_mb = sum(f.stat().st_size for f in Path(c_dir).glob("*.[ch]")) / 1e6
    proc = run_program(cmd, timeout=60 + 60 * source_mb, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if "error" in ln] or proc.stderr.splitlines() or ["?"]
        raise LenetEdgeError(f"{c_dir}: C build failed ({Path(cc).name}): {lines[0].strip()}")
    return exe


def run_host(exe: Path, m: dict, x: np.ndarray, trace: Path | None = None) -> list[np.ndarray]:
    """Every output of the C for inputs x [N, ...], in graph order."""
    # a few ms per input for the small CNNs this compiles; a generous floor for start-up
    proc = run_program([str(exe)] + ([str(trace)] if trace else []), timeout=30 + 0.05 * len(x),
                       input=x.tobytes(), capture_output=True)
    if proc.returncode != 0:
        raise LenetEdgeError(f"{exe}: exited with status {proc.returncode}")
    sizes = [int(np.prod(o["shape"])) * np.dtype(NP[o["dtype"]]).itemsize for o in m["outputs"]]
    raw = np.frombuffer(proc.stdout, np.uint8).reshape(len(x), sum(sizes))
    outs, col = [], 0
    for o, size in zip(m["outputs"], sizes):
        outs.append(raw[:, col:col + size].copy().view(NP[o["dtype"]]).reshape(len(x), *o["shape"][1:]))
        col += size
    return outs


def read_trace(path: Path) -> dict[str, bytes]:
    data, pos, out = Path(path).read_bytes(), 0, {}
    while pos < len(data):
        n = int(np.frombuffer(data, np.uint32, 1, pos)[0])
        name = data[pos + 4:pos + 4 + n].decode()
        pos += 4 + n
        b = int(np.frombuffer(data, np.uint32, 1, pos)[0])
        out[name] = data[pos + 4:pos + 4 + b]
        pos += 4 + b
    return out


def random_inputs(model: onnx.ModelProto, shape: list, dtype: str, count: int, seed: int = 0) -> np.ndarray:
    """`count` inputs: 2/3 uniform over 1.5x the range the input's QuantizeLinear can represent, 1/3
    Gaussian noise three times wider (values far outside the calibration range)."""
    rng = np.random.default_rng(seed)
    per = tuple(shape[1:])
    if dtype != "float32":
        info = np.iinfo(NP[dtype])
        return rng.integers(info.min, info.max + 1, (count, *per)).astype(NP[dtype])
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    inp = model.graph.input[0].name
    lo, hi = -1.0, 1.0
    for n in model.graph.node:
        if n.op_type == "QuantizeLinear" and n.input[0] == inp and n.input[1] in inits:
            s = float(inits[n.input[1]].reshape(-1)[0])
            zp = inits.get(n.input[2]) if len(n.input) > 2 else None
            z = int(zp.reshape(-1)[0]) if zp is not None else 0
            info = np.iinfo(zp.dtype if zp is not None else np.uint8)
            lo, hi = s * (info.min - z), s * (info.max - z)
            break
    mid, half = (lo + hi) / 2, (hi - lo) / 2 * 1.5
    k = (2 * count) // 3
    uni = rng.uniform(mid - half, mid + half, (k, *per))
    noise = rng.standard_normal((count - k, *per)) * (3 * (hi - lo) / 2) + mid
    return np.concatenate([uni, noise]).astype(np.float32)


def load_inputs(path: Path, shape: list, dtype: str) -> np.ndarray:
    try:
        x = np.load(path, allow_pickle=False)
    except Exception as e:
        raise LenetEdgeError(f"{path}: not a readable .npy array ({type(e).__name__})") from None
    per = tuple(shape[1:])
    if x.ndim == len(shape) - 1 and tuple(x.shape) == per:
        x = x[None]
    if x.ndim != len(shape) or tuple(x.shape[1:]) != per:
        raise LenetEdgeError(f"{path}: inputs have shape {list(x.shape)}, the model takes [N, "
                             f"{', '.join(map(str, per))}]")
    if dtype == "float32" and x.dtype.kind != "f" or dtype != "float32" and x.dtype != NP[dtype]:
        raise LenetEdgeError(f"{path}: inputs are {x.dtype}, the model takes {dtype}")
    return np.ascontiguousarray(x, dtype=NP[dtype])


def first_divergence(prep: Prepared, m: dict, exe: Path, x1: np.ndarray, work: Path) -> str:
    """The first unit (in execution order) whose output differs from ORT's tensor of the same name."""
    trace = work / "trace.bin"
    run_host(exe, m, x1, trace)
    got = read_trace(trace)
    model = onnx.ModelProto()
    model.CopyFrom(prep.optimized)
    existing = {o.name for o in model.graph.output}
    wanted = []
    for u in m["units"]:
        for o in u["outputs"]:
            if o["tensor"] not in existing:
                model.graph.output.append(helper.make_tensor_value_info(
                    o["tensor"], tables.ELEM_TYPES[np.dtype(NP[o["dtype"]])], None))
            wanted.append((u, o))
    try:
        outs = ort_oracle.run_in_memory(model, {m["input"]["name"]: x1})
    except LenetEdgeError:
        return "(could not expose ORT's intermediate tensors)"
    ref = dict(zip([o.name for o in model.graph.output], outs))
    for u, o in wanted:
        if o["tensor"] in ref and o["tensor"] in got:
            mine = np.frombuffer(got[o["tensor"]], NP[o["dtype"]])
            if not np.array_equal(mine, np.asarray(ref[o["tensor"]]).reshape(-1)):
                return f'unit {u["index"]} ONNX node "{u["node"]}" ({u["op"]}), tensor {o["tensor"]!r}'
    return "(no unit differs on the traced input)"


def ort_outputs(onnx_path: Path, x: np.ndarray) -> list[np.ndarray]:
    """The pinned session's outputs, in graph order, for inputs x [N, ...] (one at a time if the model's
    batch is fixed)."""
    sess = ort_oracle.reference_session(Path(onnx_path), lenet_contract=False)
    fixed = sess.get_inputs()[0].shape[0]
    batch = fixed if isinstance(fixed, int) and fixed > 0 else 1000
    try:
        res = ort_oracle.run_batches(sess, sess.get_inputs()[0].name, x, batch=batch)
    except Exception as e:  # ORT's run errors: one line
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise LenetEdgeError(f"{onnx_path}: ONNX Runtime cannot run the inputs: {first}") from None
    return [np.asarray(res[o.name]) for o in sess.get_outputs()]


def same_bits(mine: list, theirs: list) -> np.ndarray:
    """Per input: every element of every output has the same bit pattern."""
    n = len(mine[0])
    ok = np.ones(n, bool)
    for a, b in zip(mine, theirs):
        a = np.ascontiguousarray(a)
        b = np.ascontiguousarray(np.asarray(b, a.dtype).reshape(a.shape))
        ok &= (a.view(np.uint8).reshape(n, -1) == b.view(np.uint8).reshape(n, -1)).all(axis=1)
    return ok


def verify_cmd(onnx_path: Path, c_dir: Path, inputs: Path | None = None, random: int | None = None,
               flags=(), echo=print) -> dict:
    c_dir = Path(c_dir)
    m = _manifest(c_dir)
    prep = prepare(onnx_path)
    sha = hashlib.sha256(prep.model_bytes).hexdigest()
    if m["onnx"]["sha256"] != sha:
        raise LenetEdgeError(f"{c_dir}: generated from a different model (sha256 {m['onnx']['sha256'][:12]}..., "
                             f"{Path(onnx_path).name} is {sha[:12]}...); run `lenet-edge compile` again")
    shape, dtype = m["input"]["shape"], m["input"]["dtype"]
    if inputs is not None:
        x, source = load_inputs(inputs, shape, dtype), str(inputs)
    else:
        n = 1000 if random is None else int(random)
        if n < 1:
            raise LenetEdgeError(f"--random {n}: need at least one input")
        x, source = random_inputs(prep.model, shape, dtype, n), f"{n} random inputs"
    with tempfile.TemporaryDirectory(prefix="lenet-edge-verify-") as tmp:
        exe = build_host(c_dir, Path(tmp), flags)
        mine = run_host(exe, m, x)
        same = same_bits(mine, ort_outputs(Path(onnx_path), x))
        report = {"inputs": int(len(x)), "source": source, "identical": int(same.sum()),
                  "onnxruntime": ort_oracle.version()}
        if not same.all():
            bad = int(np.flatnonzero(~same)[0])
            where = first_divergence(prep, m, exe, x[bad:bad + 1], Path(tmp))
            raise LenetEdgeError(f"{c_dir}: {int((~same).sum())}/{len(x)} inputs differ from ONNX Runtime "
                                 f"(first: input {bad}); first diverging node: {where}")
    echo(f"verify {c_dir} against ONNX Runtime {ort_oracle.version()} ({Path(onnx_path).name}): "
         f"{report['identical']}/{report['inputs']} inputs bit-exact ({source})")
    return report
