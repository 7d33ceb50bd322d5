"""The ONNX Runtime oracle. This is the only module that builds an InferenceSession for checking.

The reference session is pinned (docs/quantization.md): CPU execution provider, ORT's default
optimization level (ORT_ENABLE_ALL), int8 activations kept as int8 on x86
(`session.qdqisint8allowed`), one thread, so every run computes the same integers.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from lenet_edge import contract
from lenet_edge.errors import LenetEdgeError, require_onnx

SESSION_CONFIG = {"session.qdqisint8allowed": "1"}
OPT_LEVEL = ort.GraphOptimizationLevel.ORT_ENABLE_ALL


def version() -> str:
    """The ONNX Runtime version the reports name."""
    return ort.__version__


def session_options(optimized_model_path: Path | None = None) -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.graph_optimization_level = OPT_LEVEL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.use_deterministic_compute = True  # as docs/onnx-contract.md pins it
    so.log_severity_level = 3
    for key, value in SESSION_CONFIG.items():
        so.add_session_config_entry(key, value)
    if optimized_model_path is not None:
        so.optimized_model_filepath = str(optimized_model_path)
    return so


def _session_from(model: bytes | Path, optimized_model_path: Path | None = None) -> ort.InferenceSession:
    src = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(src, session_options(optimized_model_path),
                                    providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises several types; all mean "this model will not load"
        name = "<in-memory model>" if isinstance(model, bytes) else str(model)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise LenetEdgeError(f"{name}: ONNX Runtime cannot load the model: {first}") from None


def reference_session(model_path: Path, lenet_contract: bool = True) -> ort.InferenceSession:
    """The pinned session for a model file, after checking a LeNet-5 model against the contract
    (lenet_contract=False for a user's own model compiled by `lenet-edge compile`)."""
    model_path = require_onnx(model_path)
    sess = _session_from(model_path)
    if lenet_contract:
        check_contract(sess, model_path)
    return sess


def _describe(arg) -> tuple[str, list]:
    """('uint8', [None, 1, 28, 28]) from an ORT NodeArg ('tensor(uint8)', ['N', 1, 28, 28])."""
    elem = arg.type[len("tensor("):-1] if arg.type.startswith("tensor(") else arg.type
    return elem, [d if isinstance(d, int) and d >= 0 else None for d in (arg.shape or [])]


def _shape_fits(got: list, want: tuple) -> bool:
    return len(got) == len(want) and all(w is None or g is None or g == w for g, w in zip(got, want))


def _fmt(shape) -> str:
    return "[" + ",".join("N" if d is None else str(d) for d in shape) + "]"


def check_contract(sess: ort.InferenceSession, model_path: Path) -> None:
    """The model's input and outputs must be exactly the contract's (lenet_edge.contract,
    docs/onnx-contract.md): one input `image` uint8 [N,1,28,28]; outputs `scores` [N,10] and
    `label` int64 [N]. The first mismatch is a one-line error naming it."""
    where = f"{model_path}: does not follow the lenet-edge ONNX contract (docs/onnx-contract.md)"
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        raise LenetEdgeError(f"{where}: {len(inputs)} inputs {[i.name for i in inputs]}, expected one, "
                             f"{contract.INPUT!r}")
    elem, shape = _describe(inputs[0])
    if inputs[0].name != contract.INPUT:
        raise LenetEdgeError(f"{where}: input is named {inputs[0].name!r}, expected {contract.INPUT!r}")
    if elem != contract.INPUT_TYPE or not _shape_fits(shape, contract.INPUT_SHAPE):
        raise LenetEdgeError(f"{where}: input {contract.INPUT!r} is {elem} {_fmt(shape)}, expected "
                             f"{contract.INPUT_TYPE} {_fmt(contract.INPUT_SHAPE)}")
    if shape and shape[0] not in (None, 1):  # a batch of 1 is fed one image at a time (run_batches)
        raise LenetEdgeError(f"{where}: input {contract.INPUT!r} has a fixed batch of {shape[0]}; expected N "
                             "(any size) or 1")
    outputs = {o.name: o for o in sess.get_outputs()}
    if set(outputs) != set(contract.OUTPUTS):
        missing = [n for n in contract.OUTPUTS if n not in outputs]
        extra = [n for n in outputs if n not in contract.OUTPUTS]
        raise LenetEdgeError(f"{where}: outputs are {list(outputs)}, expected {list(contract.OUTPUTS)}"
                             + (f" (missing {', '.join(map(repr, missing))})" if missing else "")
                             + (f" (unexpected {', '.join(map(repr, extra))})" if extra else ""))
    for name, (types, want_shape) in contract.OUTPUTS.items():
        elem, shape = _describe(outputs[name])
        if elem not in types or not _shape_fits(shape, want_shape):
            raise LenetEdgeError(f"{where}: output {name!r} is {elem} {_fmt(shape)}, expected "
                                 f"{' or '.join(types)} {_fmt(want_shape)}")


def run_batches(sess: ort.InferenceSession, feed_name: str, inputs: np.ndarray,
                batch: int = 1000) -> dict[str, np.ndarray]:
    """Run `inputs` [N, ...] through the session in batches; concatenate every output by name."""
    names = [o.name for o in sess.get_outputs()]
    if sess.get_inputs()[0].shape[:1] == [1]:  # a model exported with a fixed batch of one
        batch = 1
    parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for i in range(0, len(inputs), batch):
        outs = sess.run(names, {feed_name: inputs[i:i + batch]})
        for n, o in zip(names, outs):
            parts[n].append(o)
    return {n: np.concatenate(v) for n, v in parts.items()}


def predict(model_path: Path, images: np.ndarray) -> dict[str, np.ndarray]:
    """uint8 images [N,28,28] or [N,1,28,28] -> {'scores': [N,10], 'label': [N]} from ORT."""
    sess = reference_session(model_path)
    x = np.ascontiguousarray(images, dtype=np.uint8).reshape(-1, 1, 28, 28)
    return run_batches(sess, contract.INPUT, x)


def with_intermediate_outputs(model_path: Path, tensor_names: list[str]) -> bytes:
    """The model with `tensor_names` added as extra graph outputs (types from shape inference), so
    ORT reports each layer's int8 codes for a per-layer comparison."""
    model = onnx.load(str(model_path))
    inferred = onnx.shape_inference.infer_shapes(model)
    infos = {vi.name: vi for vi in list(inferred.graph.value_info) + list(inferred.graph.output)}
    existing = {o.name for o in model.graph.output}
    for name in tensor_names:
        if name in existing:
            continue
        if name not in infos:
            raise LenetEdgeError(f"{model_path}: no tensor named {name!r} to expose")
        model.graph.output.append(infos[name])
    return model.SerializeToString()


def run_with_intermediates(model_path: Path, images: np.ndarray, tensor_names: list[str]) -> dict[str, np.ndarray]:
    """Like `predict`, plus the named intermediate tensors."""
    sess = _session_from(with_intermediate_outputs(model_path, tensor_names))
    x = np.ascontiguousarray(images, dtype=np.uint8).reshape(-1, 1, 28, 28)
    return run_batches(sess, sess.get_inputs()[0].name, x)


def optimized_graph(model_path: Path, dest: Path) -> onnx.ModelProto:
    """Let the pinned session optimize the model, save the result to `dest`, and return it."""
    _session_from(Path(model_path), optimized_model_path=dest)
    return onnx.load(str(dest))


def run_in_memory(model: onnx.ModelProto | bytes, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Run a small in-memory model (e.g. a one-node table generator) once under the pinned session."""
    data = model if isinstance(model, bytes) else model.SerializeToString()
    sess = _session_from(data)
    return sess.run(None, feeds)
