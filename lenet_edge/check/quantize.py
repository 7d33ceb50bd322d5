"""`lenet-edge quantize`: a thin wrapper over `onnxruntime.quantization.quantize_static`.

A user with a float ONNX model (e.g. from `torch.onnx.export`) and a few calibration inputs gets
the int8 model that `lenet-edge compile` reads, in ORT's QDQ or QOperator form, with s8 or u8
activations and per-tensor or per-channel int8 weights. Everything else is ORT's defaults
(MinMax calibration, asymmetric activations, symmetric weights), so the result is exactly what
`quantize_static` makes of the same arguments. It lives beside the ORT oracle because calibration
runs ONNX Runtime.
"""
from __future__ import annotations

import collections
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from lenet_edge.errors import LenetEdgeError

FORMATS = ("qdq", "qoperator")
ACTIVATIONS = ("s8", "u8")
# Ops that only a quantized graph holds: a model with any of them is already int8.
QUANT_OPS = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "MatMulInteger",
             "ConvInteger", "QGemm", "QLinearAdd", "QLinearMul", "QLinearAveragePool",
             "QLinearGlobalAveragePool", "QLinearConcat", "QLinearLeakyRelu", "QLinearSigmoid",
             "QLinearSoftmax", "DynamicQuantizeLinear"}
FLOAT_TYPES = {onnx.TensorProto.FLOAT}


@dataclass
class QuantizeReport:
    out: Path
    fmt: str
    activations: str
    per_channel: bool
    calib_count: int
    input_name: str
    input_shape: tuple
    ops_before: dict = field(default_factory=dict)
    ops_after: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        before = ", ".join(f"{k} {v}" for k, v in sorted(self.ops_before.items()))
        after = ", ".join(f"{k} {v}" for k, v in sorted(self.ops_after.items()))
        weights = "per-channel" if self.per_channel else "per-tensor"
        act = {"s8": "int8", "u8": "uint8"}[self.activations]
        return [
            f"wrote {self.out}: {self.fmt.upper()} form, {act} activations, {weights} int8 weights",
            f"  calibration: {self.calib_count} input(s) for {self.input_name!r} "
            f"[{', '.join('N' if d is None else str(d) for d in self.input_shape)}], "
            f"MinMax (onnxruntime.quantization.quantize_static)",
            f"  float ops:  {before}",
            f"  int8 graph: {after}",
        ]


def _load_float_model(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise LenetEdgeError(f"{path}: no such model file")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as e:  # DecodeError, ValidationError, ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise LenetEdgeError(f"{path}: not a valid ONNX model: {first}") from None
    for n in model.graph.node:
        if n.op_type in QUANT_OPS:
            raise LenetEdgeError(f"{path}: node {n.name or n.output[0]!r} ({n.op_type}): the model is already "
                                 f"quantized; `lenet-edge compile` reads it as it is")
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise LenetEdgeError(f"{path}: the model has {len(inputs)} inputs "
                             f"({', '.join(i.name for i in inputs)}); quantize takes models with one input")
    if inputs[0].type.tensor_type.elem_type not in FLOAT_TYPES:
        raise LenetEdgeError(f"{path}: input {inputs[0].name!r} is "
                             f"{onnx.TensorProto.DataType.Name(inputs[0].type.tensor_type.elem_type)}, "
                             f"not float32: only a float model can be quantized")
    return model


def _input_shape(model: onnx.ModelProto) -> tuple[str, list]:
    """Name and shape of the single input; symbolic dimensions as None."""
    inits = {t.name for t in model.graph.initializer}
    (inp,) = [i for i in model.graph.input if i.name not in inits]
    dims = [d.dim_value if d.HasField("dim_value") else None for d in inp.type.tensor_type.shape.dim]
    return inp.name, dims


def _load_calib(path: Path, shape: list, model_path: Path) -> np.ndarray:
    """The calibration inputs as float32 [N, *shape[1:]]: an array whose first axis counts inputs."""
    if not path.is_file():
        raise LenetEdgeError(f"{path}: no such calibration file")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as e:  # ValueError (pickled/corrupt), OSError, ...
        raise LenetEdgeError(f"{path}: not a readable .npy array ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    if not isinstance(data, np.ndarray):
        raise LenetEdgeError(f"{path}: expected one .npy array, found an archive of several")
    if data.dtype.kind != "f":
        raise LenetEdgeError(f"{path}: calibration data is {data.dtype}, not float: give the float inputs "
                             f"the model takes (after your preprocessing)")
    per_item = shape[1:]
    if data.ndim != len(shape) or any(d is not None and d != e for d, e in zip(per_item, data.shape[1:])):
        want = "[N, " + ", ".join("?" if d is None else str(d) for d in per_item) + "]"
        raise LenetEdgeError(f"{path}: calibration array has shape {list(data.shape)}, but {model_path.name} "
                             f"takes {want} (N inputs along the first axis)")
    if len(data) == 0:
        raise LenetEdgeError(f"{path}: calibration array holds no inputs")
    if not np.isfinite(data).all():
        raise LenetEdgeError(f"{path}: calibration array holds NaN or infinite values")
    return np.ascontiguousarray(data, dtype=np.float32)


def _op_counts(model: onnx.ModelProto) -> dict[str, int]:
    return dict(collections.Counter(n.op_type for n in model.graph.node))


def quantize(model_path: Path, calib_path: Path, out: Path, fmt: str = "qdq", activations: str = "s8",
             per_channel: bool = False) -> QuantizeReport:
    """Quantize `model_path` with ORT's quantize_static; write `out` atomically; return what was done."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    if fmt not in FORMATS:
        raise LenetEdgeError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if activations not in ACTIVATIONS:
        raise LenetEdgeError(f"--activations {activations!r}: choose one of {', '.join(ACTIVATIONS)}")
    model_path, calib_path, out = Path(model_path), Path(calib_path), Path(out)
    model = _load_float_model(model_path)
    name, shape = _input_shape(model)
    data = _load_calib(calib_path, shape, model_path)
    batch_fixed = shape[0] is not None
    if batch_fixed and shape[0] != 1:
        raise LenetEdgeError(f"{model_path}: input {name!r} has a fixed batch of {shape[0]}; export it with "
                             f"batch 1 or a dynamic batch axis")

    class _Reader(CalibrationDataReader):
        def __init__(self):
            self.i = 0

        def get_next(self):
            if self.i >= len(data):
                return None
            self.i += 1
            return {name: data[self.i - 1:self.i]}

        def rewind(self):
            self.i = 0

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    # ORT logs a "consider pre-processing" warning at WARNING level through the root logger.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_static(
            str(model_path), tmp, _Reader(),
            quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
            per_channel=per_channel,
            activation_type=QuantType.QInt8 if activations == "s8" else QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        quantized = onnx.load(tmp)
        os.replace(tmp, out)
    except LenetEdgeError:
        raise
    except Exception as e:  # ORT's quantizer raises many types; all mean "this model did not quantize"
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise LenetEdgeError(f"{model_path}: onnxruntime quantize_static failed: {first}") from None
    finally:
        root.setLevel(level)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return QuantizeReport(out=out, fmt=fmt, activations=activations, per_channel=per_channel,
                          calib_count=len(data), input_name=name, input_shape=tuple(shape),
                          ops_before=_op_counts(model), ops_after=_op_counts(quantized))


def quantize_cmd(model_path: Path, calib_path: Path, out: Path, fmt: str, activations: str,
                 per_channel: bool, echo=print) -> QuantizeReport:
    report = quantize(model_path, calib_path, out, fmt, activations, per_channel)
    for line in report.lines():
        echo(line)
    return report
