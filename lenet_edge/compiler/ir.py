"""The compiler's intermediate representation: one frozen dataclass per layer, in execution order.

The IR is a view of the int8 ONNX graph (built by `frontend.py` with the recognisers of the op
units in `ops/`). Every layer keeps the name of the ONNX node it came from (`node`) and the name of
the ONNX tensor it produces (`tensor`), so the generated C can cite its origin and the trace hook can
name the tensor ORT reports for it. Shapes are per image, without the batch dimension: (C, H, W) for
feature maps, (K,) for vectors. Arrays are numpy arrays stored unchanged from the ONNX initializers
(NCHW / OIHW layouts).

`Layer` is the interface every op unit implements (see docs/compiler.md, "Adding an op"): the
passes (verify, memory, reference, emit) call these methods and never ask which op they hold.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from lenet_edge.errors import LenetEdgeError

CTYPE_BYTES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4,
               "le_rq_t": 16}  # le_rq_t: integer path {int64 r, int32 a, int32 sh} (float path: uint32 bits)


@dataclass(frozen=True, eq=False)
class CArray:
    """One const array in lenet5_weights.c."""
    suffix: str                 # symbol = lenet5_<layer id>_<suffix>
    ctype: str
    values: np.ndarray          # flat ([n, 3] rows for le_rq_t)
    kind: str                   # weights | bias | requant | index | table
    comment: str                # shape and layout
    variant: str = ""           # "" (always) | "float" | "int" (requant path)
    align4: bool = False        # 4-byte aligned (LE_ALIGN4): a kernel reads it with LDRD

    @property
    def nbytes(self) -> int:
        return CTYPE_BYTES[self.ctype] * self.count

    @property
    def count(self) -> int:
        """C array length (le_rq_t values are [n, 3] rows of {r, a, sh})."""
        return int(self.values.shape[0])


@dataclass(frozen=True)
class Packed:
    """What an op stores in flash and how much work it does: its const arrays, already in the layout
    its kernel reads; the MACs per image it executes; a storage form tag; extra manifest fields."""
    arrays: tuple[CArray, ...] = ()
    macs: int = 0
    form: str = ""
    manifest: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """The C statement a layer emits: `[result =] kernel(args...);` (kernel None: no code). The kernel
    is the function of kernels/<set>/<kernel>.c."""
    kernel: str | None
    args: tuple[str, ...] = ()
    result: str | None = None


@dataclass(frozen=True)
class IO:
    """Where a layer's call reads and writes: C expressions, and its const array symbols."""
    src: str                    # "image" or "lenet5_arena + N"
    dst: str                    # "lenet5_arena + N", or "scores" for int32 heads
    symbols: dict               # CArray suffix -> C symbol
    scratch: str = "0"          # "lenet5_arena + N": the layer's scratch_bytes, if any

    def sym(self, suffix: str) -> str:
        return self.symbols[suffix]


@dataclass(frozen=True, eq=False)
class Layer:
    node: str                      # ONNX node name (the last node of a fused pattern)
    tensor: str                    # ONNX name of the output tensor
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    # ---- class facts every op states ----
    kind: ClassVar[str] = "layer"            # registry key, also the manifest "kind"
    onnx_ops: ClassVar[tuple[str, ...]] = ()  # ONNX op types whose node may start this op's pattern
    in_dtype: ClassVar[str] = "int8"         # "uint8": reads the caller's image
    out_dtype: ClassVar[str] = "int8"        # int8 output (traced) unless an op says otherwise
    in_place: ClassVar[bool] = False         # elementwise layers overwrite their input buffer
    terminal: ClassVar[bool] = False         # the last layer (the label)
    scratch_bytes: ClassVar[int] = 0         # arena bytes the kernel may use while it runs

    @property
    def in_size(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def out_size(self) -> int:
        return int(np.prod(self.out_shape))

    def fail(self, problem: str) -> LenetEdgeError:
        return LenetEdgeError(f'ONNX node "{self.node}": {problem}')

    # ---- the op interface ----
    @classmethod
    def recognise(cls, walker, node, tensor: str, dtype: str, shape: tuple) -> "Layer | None":
        """Frontend: build this op from `node` (and the nodes after it) or return None if the
        pattern is not this op's. `walker` is frontend._Walker (constants, attributes, errors)."""
        return None

    def check(self) -> None:
        """IR invariants beyond what the frontend checked; raise self.fail(...)."""

    def pack(self) -> Packed:
        """Flash arrays in kernel order, MAC count, form."""
        return Packed()

    def reference(self, x: np.ndarray, int_requant: bool) -> np.ndarray:
        """numpy semantics on a batch: x [N, *in_shape] -> [N, *out_shape] (bit-exact with ORT)."""
        raise NotImplementedError(type(self).__name__)

    def call(self, packed: Packed, io: IO) -> Call:
        """The C call this layer emits."""
        raise NotImplementedError(type(self).__name__)


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
    def arg(self) -> Layer:
        return self.layers[-1]
