"""The unit interface of `lenet-edge compile` (docs/byo.md): one module per op kind in ops/, each
holding its ONNX recognition (`build`), its numpy reference (lenet_edge.compiler.ortmath, bit-exact
with ORT), its constants (`arrays`), its work (`macs`) and the C call it emits (`call`, naming a
kernel of kernels/byo/<set>/). Tensors are per-image (batch 1) with ORT's own names."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from lenet_edge.errors import LenetEdgeError

CTYPES = {"int8": "int8_t", "uint8": "uint8_t", "float32": "float", "int32": "int32_t"}
SUFFIX = {"int8": "s8", "uint8": "u8"}
NBYTES = {"int8": 1, "uint8": 1, "float32": 4, "int32": 4}


def f32_bits(v) -> int:
    return int(np.asarray(v, np.float32).reshape(()).view(np.uint32))


def bits_array(v) -> np.ndarray:
    return np.asarray(v, np.float32).reshape(-1).view(np.uint32)


@dataclass(frozen=True)
class Const:
    """One const array in NAME_weights.h: symbol NAME_<unit id>_<suffix>."""
    suffix: str
    ctype: str          # int8_t uint8_t int32_t uint32_t
    values: np.ndarray
    comment: str = ""

    @property
    def nbytes(self) -> int:
        return int(np.asarray(self.values).size) * {"int8_t": 1, "uint8_t": 1, "int32_t": 4, "uint32_t": 4}[self.ctype]


@dataclass
class Ctx:
    """What a unit's `call` may use: C expressions of its tensors' buffers, const symbols, shapes,
    dtypes, and a scratch float buffer."""
    buf: dict
    sym: dict
    shape: dict
    dtype: dict
    scratch: str = ""


@dataclass
class Unit:
    node: str                   # ONNX node name (of ORT's optimized graph)
    op: str                     # ONNX op type
    inputs: tuple
    outputs: tuple
    attrs: dict = field(default_factory=dict)

    kernel: ClassVar[str] = ""  # kernels/byo/<set>/<kernel>.c

    def fail(self, problem: str) -> LenetEdgeError:
        return LenetEdgeError(f'ONNX node "{self.node}" ({self.op}): {problem}')

    def reference(self, xs: list) -> list:
        raise NotImplementedError

    def arrays(self) -> list:
        return []

    def macs(self, shape: dict) -> int:
        return 0

    def scratch_floats(self, shape: dict) -> int:
        return 0

    def call(self, ctx: Ctx) -> str:
        raise NotImplementedError


def layout_strides(shape4, channels_last: bool):
    """Element strides (c, y, x) of a [1, C, H, W] tensor stored NCHW, or of a [1, H, W, C] one
    stored NHWC (shape4 is the stored shape)."""
    if channels_last:
        _, h, w, c = shape4
        return (1, w * c, c), (c, h, w)
    _, c, h, w = shape4
    return (h * w, w, 1), (c, h, w)
