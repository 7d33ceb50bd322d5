"""The compiler's intermediate representation: one frozen dataclass per layer, in execution order.

The IR is a view of the int8 ONNX graph (built only by `frontend.py`). Every layer keeps the name of
the ONNX node it came from (`node`) and the name of the ONNX tensor it produces (`tensor`), so the
generated C can cite its origin and the trace hook can name the tensor ORT reports for it.
Shapes are per image, without the batch dimension: (C, H, W) for feature maps, (K,) for vectors.
Arrays are numpy arrays stored unchanged from the ONNX initializers (NCHW / OIHW layouts).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Layer:
    node: str                      # ONNX node name (the last node of a fused pattern)
    tensor: str                    # ONNX name of the output tensor
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    @property
    def in_size(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def out_size(self) -> int:
        return int(np.prod(self.out_shape))

    # int8 output (traced) unless a subclass says otherwise
    out_dtype = "int8"
    in_place = False               # elementwise layers overwrite their input buffer


@dataclass(frozen=True, eq=False)
class InputTable(Layer):
    """Cast(uint8 -> int32) -> Gather(table): out[i] = table[image[i]]; image uint8 [1,28,28]."""
    table: np.ndarray = field(repr=False)      # int8 [256], indexed by the raw pixel byte


@dataclass(frozen=True, eq=False)
class Table(Layer):
    """Cast(int8 -> int32) -> Gather(table): x[i] = table[x[i] & 0xFF] (in place)."""
    table: np.ndarray = field(repr=False)      # int8 [256], indexed by the raw byte of the code
    in_place = True


@dataclass(frozen=True, eq=False)
class Pad(Layer):
    """Constant spatial padding of an int8 [C,H,W] map."""
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)   # top, left, bottom, right
    value: int = 0                                   # int8 code written in the border


@dataclass(frozen=True, eq=False)
class Conv(Layer):
    """QLinearConv, no padding, dilation 1, group 1 or depthwise.

    acc[o] = B[o] + sum over (i, ky, kx) of (x[i] - x_zp) * w[o, i, ky, kx]     (int32, exact)
    y[o]   = clamp(RNE(fl(float(acc) * M[o])) + y_zp, -128, 127)
    """
    weight: np.ndarray = field(repr=False)     # int8 [C_out, C_in/group, k, k], OIHW
    bias: np.ndarray = field(repr=False)       # int32 [C_out]
    x_scale: np.float32 = np.float32(1)
    x_zp: int = 0
    w_scale: np.ndarray = field(default=None, repr=False)  # float32 [C_out]
    y_scale: np.float32 = np.float32(1)
    y_zp: int = 0
    kernel: int = 1
    stride: int = 1
    group: int = 1

    def input_channels(self, o: int) -> list[int]:
        """The input channels output channel o reads (before dropping all-zero kernels)."""
        c_in = self.in_shape[0]
        per_group_in = c_in // self.group
        per_group_out = self.out_shape[0] // self.group
        g = o // per_group_out
        return list(range(g * per_group_in, (g + 1) * per_group_in))


@dataclass(frozen=True, eq=False)
class MaxPool(Layer):
    """int8 max over k x k windows with the given stride, no padding."""
    kernel: int = 2
    stride: int = 2


@dataclass(frozen=True, eq=False)
class Flatten(Layer):
    """Flatten / Reshape [C,H,W] -> [C*H*W]: the NCHW bytes do not move, so no code is emitted."""
    in_place = True


@dataclass(frozen=True, eq=False)
class Rbf(Layer):
    """Paper head: scores[c] = sum_j (x[j] - centres[c, j])^2, int32 (Cast/Unsqueeze/Sub/Mul/ReduceSum)."""
    centres: np.ndarray = field(repr=False)    # int32 [10, K]
    out_dtype = "int32"


@dataclass(frozen=True, eq=False)
class Dense(Layer):
    """Modern head: scores[c] = bias[c] + sum_j (x[j] - a_zp) * w[j, c]  (MatMulInteger -> Add), int32."""
    weight: np.ndarray = field(repr=False)     # int8 [K, 10]
    bias: np.ndarray = field(repr=False)       # int32 [10]
    a_zp: int = 0
    out_dtype = "int32"


@dataclass(frozen=True, eq=False)
class Arg(Layer):
    """ArgMin (paper) / ArgMax (modern) over the scores, first index on ties."""
    mode: str = "min"                          # "min" | "max"
    out_dtype = "int64"


@dataclass(frozen=True, eq=False)
class Graph:
    """The whole model: the layers in execution order plus provenance."""
    layers: tuple[Layer, ...]
    opset: int
    sha256: str
    source_name: str                           # file name only, never a path

    @property
    def head(self) -> Layer:
        return self.layers[-2]

    @property
    def arg(self) -> Arg:
        return self.layers[-1]
