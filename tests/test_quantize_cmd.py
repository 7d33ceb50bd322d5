"""`lenet-edge quantize`: a thin wrapper over onnxruntime's quantize_static that writes exactly what
quantize_static writes for the same arguments, says what it did, and fails in one line."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from byo_models import calibration, export_float
from lenet_edge.cli import main


@pytest.fixture(scope="module")
def float_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("qcmd")
    path = export_float("cnn", d / "cnn_float.onnx")
    calib = d / "calib.npy"
    np.save(calib, calibration("cnn", 16))
    return path, calib


def _run(*args):
    result = CliRunner().invoke(main, ["quantize", *map(str, args)])
    return result.exit_code, result.output


def _weight_scale_sizes(model):
    """Sizes of the scale initializers that quantize weights (the Conv/Gemm weight scales)."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    sizes = []
    for n in model.graph.node:
        if n.op_type == "QLinearConv":
            sizes.append(inits[n.input[4]].size)
        if n.op_type == "DequantizeLinear" and n.input[0] in inits and inits[n.input[0]].dtype == np.int8 \
                and inits[n.input[0]].ndim == 4:
            sizes.append(inits[n.input[1]].size)
    return sizes


@pytest.mark.parametrize("fmt", ["qdq", "qoperator"])
@pytest.mark.parametrize("act", ["s8", "u8"])
@pytest.mark.parametrize("per_channel", [False, True])
def test_quantize_writes_the_requested_form(float_model, tmp_path, fmt, act, per_channel):
    src, calib = float_model
    out = tmp_path / "m_int8.onnx"
    args = [src, "--calib", calib, "--out", out, "--format", fmt, "--activations", act]
    code, text = _run(*args, *(["--per-channel"] if per_channel else []))
    assert code == 0, text
    model = onnx.load(str(out))
    ops = {n.op_type for n in model.graph.node}
    if fmt == "qdq":
        assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops and "QLinearConv" not in ops
    else:
        assert "QLinearConv" in ops and "Conv" not in ops
    q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear")
    zp = {t.name: t for t in model.graph.initializer}[q.input[2]]
    assert zp.data_type == (TensorProto.INT8 if act == "s8" else TensorProto.UINT8)
    sizes = _weight_scale_sizes(model)
    assert len(sizes) == 3
    assert (sizes == [8, 8, 12]) if per_channel else (sizes == [1, 1, 1])
    form = "QDQ" if fmt == "qdq" else "QOPERATOR"
    assert f"{form} form" in text and ("per-channel" if per_channel else "per-tensor") in text
    assert ("uint8" if act == "u8" else "int8") in text and "16 input(s)" in text


def test_quantize_is_exactly_quantize_static(float_model, tmp_path):
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    src, calib = float_model
    data = np.load(calib)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"x": data[i:i + 1]} for i in range(len(data))])

        def get_next(self):
            return next(self.it, None)

    direct = tmp_path / "direct.onnx"
    quantize_static(str(src), str(direct), Reader(), quant_format=QuantFormat.QOperator, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    ours = tmp_path / "ours.onnx"
    code, text = _run(src, "--calib", calib, "--out", ours, "--format", "qoperator", "--activations", "u8",
                      "--per-channel")
    assert code == 0, text
    assert onnx.load(str(ours)).SerializeToString() == onnx.load(str(direct)).SerializeToString()


def _two_input_model(path):
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 4])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    g = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"])], "g", [a, b], [y])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_quantize_errors_are_one_line(float_model, tmp_path):
    src, calib = float_model
    out = tmp_path / "o.onnx"
    q = tmp_path / "q.onnx"
    assert _run(src, "--calib", calib, "--out", q)[0] == 0
    bad_shape = tmp_path / "bad_shape.npy"
    np.save(bad_shape, np.zeros((4, 1, 28, 28), np.float32))
    ints = tmp_path / "ints.npy"
    np.save(ints, np.zeros((4, 1, 16, 16), np.uint8))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    text_npy = tmp_path / "calib.npy.txt"
    text_npy.write_text("1 2 3")
    cases = [
        ((tmp_path / "missing.onnx", "--calib", calib, "--out", out), "no such model file"),
        ((junk, "--calib", calib, "--out", out), "not a valid ONNX model"),
        ((q, "--calib", calib, "--out", out), "already quantized"),
        ((src, "--calib", bad_shape, "--out", out), "takes [N, 1, 16, 16]"),
        ((src, "--calib", ints, "--out", out), "not float"),
        ((src, "--calib", text_npy, "--out", out), "not a readable .npy array"),
        ((src, "--calib", tmp_path / "nope.npy", "--out", out), "no such calibration file"),
        ((_two_input_model(tmp_path / "two.onnx"), "--calib", calib, "--out", out), "2 inputs"),
    ]
    for args, expected in cases:
        code, text = _run(*args)
        assert code == 1, (args, text)
        lines = text.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("lenet-edge: error: "), text
        assert expected in lines[0], (expected, lines[0])
        assert "Traceback" not in text
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
