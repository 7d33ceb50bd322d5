"""Small torch CNNs turned into int8 ONNX the way users do it: `torch.onnx.export` (the TorchScript
exporter, `dynamo=False`, which needs no onnxscript) and then ORT's `quantize_static` through
`lenet-edge quantize` (`lenet_edge.check.quantize`).

Three networks cover the ops of issue 11 between them:

* `cnn`:    Conv (pads, stride 2, depthwise, groups=4 with a non-square kernel), Relu, Clip (ReLU6),
            MaxPool, AveragePool, Flatten, Gemm
* `blocks`: Conv 1x1, LeakyRelu, Sigmoid, Add, Mul, Concat, GlobalAveragePool, Reshape, MatMul
* `acts`:   Tanh, AveragePool after Tanh, HardSigmoid, HardSwish, Transpose (H<->W only), Mul by a
            constant, Flatten, Gemm
* `mobile`: a MobileNet-style block on 3x32x32: stride-2 stem with BatchNorm and ReLU6, depthwise and
            pointwise convs, a squeeze-excitation gate (GlobalAveragePool, 1x1 convs, Sigmoid, Mul
            broadcast over H and W), a residual Add, HardSwish, global pooling of a float tensor,
            Flatten, Gemm

`build(name, fmt, activations, per_channel, folder)` writes `<name>_float.onnx`, the calibration
array and the quantized file and returns their paths; `ModelCache` keeps one copy per session.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NAMES = ("cnn", "blocks", "acts", "mobile")
FORMATS = ("qdq", "qoperator")
ACTIVATIONS = ("s8", "u8")
CALIB_COUNT = 32
OPSET = 17


def _nets():
    import torch
    from torch import nn

    class Cnn(nn.Module):
        input_shape = (1, 1, 16, 16)

        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 8, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
            self.g4 = nn.Conv2d(8, 12, (3, 2), padding=(1, 0), groups=4)
            self.avg = nn.AvgPool2d(2, stride=1)
            self.fc = nn.Linear(12 * 3 * 2, 10)

        def forward(self, x):
            x = self.pool(torch.relu(self.c1(x)))
            x = torch.clamp(self.dw(x), 0.0, 6.0)       # ReLU6 -> Clip(0, 6)
            x = self.avg(torch.relu(self.g4(x)))
            return self.fc(torch.flatten(x, 1))

    class Blocks(nn.Module):
        input_shape = (1, 3, 8, 8)

        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 8, 1)
            self.c2 = nn.Conv2d(8, 8, 3, padding=1)
            self.w = nn.Parameter(torch.randn(16, 10) * 0.3)

        def forward(self, x):
            x = self.c1(x)
            a = nn.functional.leaky_relu(x, 0.1)
            b = torch.sigmoid(self.c2(x))
            y = torch.cat([a + b, a * b], dim=1)         # Add, Mul, Concat
            y = nn.functional.adaptive_avg_pool2d(y, 1)  # GlobalAveragePool
            return torch.reshape(y, (-1, 16)) @ self.w   # Reshape, MatMul

    class Acts(nn.Module):
        input_shape = (1, 2, 8, 8)

        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(2, 6, 3, padding=1)
            self.c2 = nn.Conv2d(6, 6, 3, padding=1)
            self.c3 = nn.Conv2d(6, 6, 3, padding=1)
            self.c4 = nn.Conv2d(6, 4, 3)
            self.fc = nn.Linear(4 * 2 * 2, 5)

        def forward(self, x):
            x = nn.functional.avg_pool2d(torch.tanh(self.c1(x)), 2)   # Tanh, AveragePool -> 4x4
            x = nn.functional.hardsigmoid(self.c2(x))
            x = nn.functional.hardswish(self.c3(x)) * 1.5             # Mul by a constant
            x = torch.transpose(x, 2, 3)                              # layout only
            return self.fc(torch.flatten(self.c4(x), 1))

    class SqueezeExcite(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.a = nn.Conv2d(c, c // 2, 1)
            self.b = nn.Conv2d(c // 2, c, 1)

        def forward(self, x):
            w = torch.sigmoid(self.b(torch.relu(self.a(nn.functional.adaptive_avg_pool2d(x, 1)))))
            return x * w

    class Mobile(nn.Module):
        input_shape = (1, 3, 32, 32)

        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU6())
            self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU6())
            self.pw = nn.Sequential(nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8))
            self.se = SqueezeExcite(8)
            self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1)
            self.fc = nn.Linear(16, 10)
            for m in self.modules():          # trained-looking BatchNorm statistics
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
                    m.weight.data.uniform_(0.5, 1.5)

        def forward(self, x):
            x = self.stem(x)
            x = x + self.se(self.pw(self.dw(x)))                       # residual Add
            x = nn.functional.hardswish(self.down(x))
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    return {"cnn": Cnn, "blocks": Blocks, "acts": Acts, "mobile": Mobile}


def calibration(name: str, count: int = CALIB_COUNT, seed: int = 0) -> np.ndarray:
    """Calibration inputs [count, C, H, W] float32: uniform [0, 1) for `cnn` (image-like), N(0, 1)
    otherwise."""
    shape = _nets()[name].input_shape
    rng = np.random.default_rng(seed)
    if name == "cnn":
        return rng.random((count, *shape[1:]), dtype=np.float32)
    return rng.standard_normal((count, *shape[1:])).astype(np.float32)


def export_float(name: str, path: Path, seed: int = 0) -> Path:
    """The float model `name` with seeded weights, exported as users do; input `x`, output `y`,
    dynamic batch."""
    import torch

    torch.manual_seed(seed)
    net = _nets()[name]().eval()
    x = torch.zeros(net.input_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(path), input_names=["x"], output_names=["y"], opset_version=OPSET,
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, dynamo=False)
    return path


@dataclass(frozen=True)
class Built:
    name: str
    fmt: str
    activations: str
    per_channel: bool
    float_path: Path
    calib_path: Path
    path: Path          # the int8 model

    @property
    def tag(self) -> str:
        return f"{self.name}-{self.fmt}-{self.activations}-{'pc' if self.per_channel else 'pt'}"


def build(name: str, fmt: str, activations: str, per_channel: bool, folder: Path) -> Built:
    from lenet_edge.check.quantize import quantize

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    float_path = folder / f"{name}_float.onnx"
    calib_path = folder / f"{name}_calib.npy"
    if not float_path.exists():
        export_float(name, float_path)
        np.save(calib_path, calibration(name))
    tag = f"{name}-{fmt}-{activations}-{'pc' if per_channel else 'pt'}"
    out = folder / f"{tag}.onnx"
    if not out.exists():
        quantize(float_path, calib_path, out, fmt=fmt, activations=activations, per_channel=per_channel)
    return Built(name, fmt, activations, per_channel, float_path, calib_path, out)


class ModelCache:
    """One build per (name, format, activations, per-channel) per test session."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._built: dict[tuple, Built] = {}

    def get(self, name: str, fmt: str = "qdq", activations: str = "s8", per_channel: bool = False) -> Built:
        key = (name, fmt, activations, per_channel)
        if key not in self._built:
            self._built[key] = build(name, fmt, activations, per_channel, self.folder)
        return self._built[key]


def all_configs():
    """Every (name, format, activations, per_channel) combination."""
    return [(n, f, a, pc) for n in NAMES for f in FORMATS for a in ACTIVATIONS for pc in (False, True)]
