"""Property-based tests (hypothesis): the IDX reader and the ONNX contract check, on valid and
mutated files. Whatever the bytes, the only possible outcomes are a correct result or a one-line
LenetEdgeError; never another exception."""
from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lenet_edge.data import idx
from lenet_edge.errors import LenetEdgeError

# derandomize: CI runs the same examples every time (run with --hypothesis-seed=N to explore further)
FAST = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _write(data: bytes, gz: bool) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="lenet-edge-prop-"))
    path = folder / ("f-idx3-ubyte.gz" if gz else "f-idx3-ubyte")
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def _one_line(e: LenetEdgeError, path: Path) -> None:
    msg = str(e)
    assert "\n" not in msg and path.name in msg.split(": ")[0], msg  # names the file first


arrays = st.sampled_from(sorted(idx.DTYPES)).flatmap(lambda code: st.tuples(
    st.just(code), st.lists(st.integers(1, 5), min_size=1, max_size=4)))


@FAST
@given(spec=arrays, seed=st.integers(0, 2**32 - 1), gz=st.booleans())
def test_idx_round_trip(spec, seed, gz):
    code, dims = spec
    dtype = idx.DTYPES[code].newbyteorder("=")
    raw = np.random.default_rng(seed).integers(0, 256, size=int(np.prod(dims)) * dtype.itemsize, dtype=np.uint8)
    array = raw.view(dtype).reshape(dims)
    path = _write(b"", gz)
    idx.write_idx(path, array)
    back = idx.read_idx(path)
    assert back.dtype == dtype and back.shape == tuple(dims)
    assert back.tobytes() == array.tobytes()


def _valid_images(n: int = 3) -> bytes:
    return bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (n, 28, 28)) + bytes(range(256)) * 10


@FAST
@given(data=st.data(), gz=st.booleans())
def test_idx_mutations_give_an_array_or_one_line_error(data, gz):
    """Flip, cut, extend or overwrite the header or body of a valid file: the reader returns exactly
    what the header declares, or names the file in a one-line error."""
    blob = bytearray(_valid_images())
    blob = blob[:16 + 3 * 784]
    blob += bytes(16 + 3 * 784 - len(blob))
    op = data.draw(st.sampled_from(["flip", "cut", "extend", "header"]))
    if op == "flip":
        for pos in data.draw(st.lists(st.integers(0, len(blob) - 1), min_size=1, max_size=4)):
            blob[pos] ^= data.draw(st.integers(1, 255))
    elif op == "cut":
        blob = blob[:data.draw(st.integers(0, len(blob) - 1))]
    elif op == "extend":
        blob += data.draw(st.binary(min_size=1, max_size=64))
    else:
        start = data.draw(st.integers(0, 15))
        blob[start:start + 4] = data.draw(st.binary(min_size=4, max_size=4))
    path = _write(bytes(blob), gz)
    try:
        arr = idx.read_idx(path, idx.IMAGES_MAGIC)
    except LenetEdgeError as e:
        _one_line(e, path)
        return
    dims = tuple(int.from_bytes(blob[4 + 4 * i: 8 + 4 * i], "big") for i in range(3))
    assert arr.shape == dims and arr.dtype == np.uint8
    assert arr.tobytes() == bytes(blob[16:])


@FAST
@given(blob=st.binary(max_size=200), gz=st.booleans())
def test_idx_arbitrary_bytes(blob, gz):
    path = _write(blob, gz)
    try:
        idx.read_idx(path)
    except LenetEdgeError as e:
        _one_line(e, path)


@FAST
@given(dims=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=6), code=st.sampled_from(sorted(idx.DTYPES)))
def test_idx_any_declared_dims_are_checked_before_reading(dims, code):
    """Huge, zero or overflowing dims: refused from the header alone (no data follows it here)."""
    header = bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    path = _write(header, gz=True)
    with pytest.raises(LenetEdgeError) as e:
        idx.read_idx(path)
    _one_line(e.value, path)


# ---------------------------------------------------------------------------------------------
# The ONNX contract on mutated models

TYPES = [onnx.TensorProto.UINT8, onnx.TensorProto.INT8, onnx.TensorProto.INT32, onnx.TensorProto.INT64,
         onnx.TensorProto.FLOAT]
names = st.sampled_from(["image", "scores", "label", "logits", "x", "*/ evil", "ü"])


@pytest.fixture(scope="session")
def int8_model(short_run) -> Path:
    return short_run["modern"] / "lenet5_int8.onnx"


def _mutate(model: onnx.ModelProto, data) -> None:
    which = data.draw(st.sampled_from(["input", "output"]))
    values = model.graph.input if which == "input" else model.graph.output
    vi = values[data.draw(st.integers(0, len(values) - 1))]
    what = data.draw(st.sampled_from(["name", "type", "dim", "drop"]))
    if what == "name":
        old, new = vi.name, data.draw(names)
        for node in model.graph.node:
            node.input[:] = [new if t == old else t for t in node.input]
            node.output[:] = [new if t == old else t for t in node.output]
        vi.name = new
    elif what == "type":
        vi.type.tensor_type.elem_type = data.draw(st.sampled_from(TYPES))
    elif what == "dim":
        dims = vi.type.tensor_type.shape.dim
        if len(dims):
            dims[data.draw(st.integers(0, len(dims) - 1))].dim_value = data.draw(st.integers(1, 40))
    elif which == "output":
        del values[data.draw(st.integers(0, len(values) - 1))]


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_contract_check_on_mutated_models(int8_model, data, tmp_path_factory):
    """A mutated model is either refused in one line naming the file, by the ORT check (evaluate,
    verify, run) and by the compiler frontend alike, or it still meets the contract and predicts."""
    from lenet_edge.check import ort
    from lenet_edge.compiler import frontend

    model = onnx.load(str(int8_model))
    for _ in range(data.draw(st.integers(1, 2))):
        _mutate(model, data)
    path = tmp_path_factory.mktemp("mutated") / "lenet5_int8.onnx"
    path.write_bytes(model.SerializeToString())
    try:
        out = ort.predict(path, np.zeros((2, 28, 28), np.uint8))
    except LenetEdgeError as e:
        _one_line(e, path)
    else:
        assert set(out) == {"scores", "label"} and out["scores"].shape == (2, 10) and out["label"].shape == (2,)
    try:
        graph = frontend.load_graph(path)
    except LenetEdgeError as e:
        _one_line(e, path)
    else:
        assert (graph.ops[-2].tensor, graph.ops[-1].tensor) == ("scores", "label")
