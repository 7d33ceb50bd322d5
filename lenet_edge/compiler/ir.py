"""The compiler's intermediate representation: one op interface and one graph, for both commands.

A Graph is a DAG of ops over named tensors, in execution order (a topological order): each op reads
the tensors named in `inputs` and writes those named in `outputs`. `export --target c` builds a
chain (LeNet-5: each op reads the previous op's output), `compile` any DAG of ORT's optimized
graph; the passes (verify, fuse, memory, reference, emit) treat both alike. Every op keeps the name
of the ONNX node it came from (`node`), so the generated C can cite its origin and the trace hook
can name the tensor ORT reports for it. Shapes are per image: without the batch dimension for
`Layer`s ((C, H, W) feature maps, (K,) vectors), with batch 1 for `GraphOp`s (ORT's own shapes).
Arrays are numpy arrays stored unchanged from the ONNX initializers (NCHW / OIHW layouts).

`Op` is the interface every op unit implements (docs/compiler.md, "Adding an op"); the passes
call these methods and never ask which op they hold. Two bases implement it:
  Layer   - one input, one output, shapes fixed by the frontend (the ops of `export --target c`);
  GraphOp - any inputs and outputs, shapes traced through the graph (the ops of `compile`).
"""
from __future__ import annotations

import re
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
    instead_of: str = ""        # suffix of the array it replaces on the cores whose kernel reads
                                # it: every build keeps one of the two (--gc-sections drops the
                                # other), so flash counts only the bytes it has beyond that one

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
class Ctx:
    """What an op's `call` may use: C expressions of the buffers of its tensors (by name; `src` and
    `dst` are those of its first input and output), its const array symbols (by suffix), the shapes
    and dtypes of the graph's tensors, and its scratch buffer."""
    buf: dict                   # tensor name -> C expression ("image", "lenet5_arena + N", ...)
    symbols: dict               # CArray suffix -> C symbol
    src: str = ""
    dst: str = ""
    scratch: str = "0"          # C expression of the op's scratch (Layer.scratch_bytes / GraphOp.scratch_floats)
    shape: dict = field(default_factory=dict)   # tensor name -> shape (GraphOps: with the batch of 1)
    dtype: dict = field(default_factory=dict)   # tensor name -> numpy dtype name

    def sym(self, suffix: str) -> str:
        return self.symbols[suffix]


class Op:
    """The one op interface. An op unit is one module in ops/ holding everything about one op kind:
    how the frontend builds it from ONNX (`recognise` for Layers, a branch of frontend.parse for
    GraphOps), its checks, its constants in kernel order (`pack`), its numpy reference
    (`evaluate`, bit-exact with ONNX Runtime) and the C call it emits (`call`)."""
    node: str                                  # ONNX node name (the last node of a fused pattern)
    kind: ClassVar[str] = "op"                 # registry key (ops.REGISTRY), the manifest "kind"
    onnx_ops: ClassVar[tuple[str, ...]] = ()   # ONNX op types whose node may start this op's pattern
    in_place: ClassVar[bool] = False           # writes its output over its input (same buffer)
    scratch_bytes: ClassVar[int] = 0           # arena bytes the kernel may use while it runs

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "kind" not in cls.__dict__:             # QGlobalAvgPool -> "q_global_avg_pool"
            cls.kind = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", cls.__name__).lower()

    @property
    def inputs(self) -> tuple[str, ...]:
        raise NotImplementedError(type(self).__name__)

    @property
    def outputs(self) -> tuple[str, ...]:
        raise NotImplementedError(type(self).__name__)

    def fail(self, problem: str) -> LenetEdgeError:
        return LenetEdgeError(f'ONNX node "{self.node}": {problem}')

    def check(self) -> None:
        """IR invariants beyond what the frontend checked; raise self.fail(...)."""

    def evaluate(self, xs: list, int_requant: bool = False) -> list:
        """numpy semantics on a batch: one array per input -> one array per output."""
        raise NotImplementedError(type(self).__name__)

    def pack(self) -> Packed:
        """Flash arrays in the layout the kernel reads (plus MACs, form and manifest fields where
        the op knows them without the graph's shapes)."""
        return Packed()

    def macs(self, shape: dict) -> int:
        """Multiply-accumulates per inference, given the graph's tensor shapes."""
        return self.pack().macs

    def call(self, packed: Packed, io: Ctx) -> "Call | str":
        """The C the op emits: a kernel call (Call) or a C statement."""
        raise NotImplementedError(type(self).__name__)


@dataclass(frozen=True, eq=False)
class Layer(Op):
    """An op with one input and one output whose shapes the frontend fixed (per image, no batch)."""
    node: str                      # ONNX node name (the last node of a fused pattern)
    tensor: str                    # ONNX name of the output tensor
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    source: str = ""               # ONNX name of the input tensor (set by the frontend and fuse)

    # ---- class facts every layer states ----
    kind: ClassVar[str] = "layer"
    in_dtype: ClassVar[str] = "int8"         # "uint8": reads the caller's image
    out_dtype: ClassVar[str] = "int8"        # int8 output (traced) unless an op says otherwise
    terminal: ClassVar[bool] = False         # the last layer (the label)

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.source,)

    @property
    def outputs(self) -> tuple[str, ...]:
        return (self.tensor,)

    @property
    def in_size(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def out_size(self) -> int:
        return int(np.prod(self.out_shape))

    @classmethod
    def recognise(cls, walker, node, tensor: str, dtype: str, shape: tuple) -> "Layer | None":
        """Frontend: build this op from `node` (and the nodes after it) or return None if the
        pattern is not this op's. `walker` is frontend._Walker (constants, attributes, errors)."""
        return None

    def evaluate(self, xs: list, int_requant: bool = False) -> list:
        return [self.reference(xs[0], int_requant)]

    def reference(self, x: np.ndarray, int_requant: bool) -> np.ndarray:
        """numpy semantics on a batch: x [N, *in_shape] -> [N, *out_shape] (bit-exact with ORT)."""
        raise NotImplementedError(type(self).__name__)


@dataclass(eq=False)
class GraphOp(Op):
    """An op over named tensors of ORT's optimized graph; shapes come from tracing the graph
    (reference.trace). `attrs` are the ONNX node's attributes."""
    node: str                   # ONNX node name (of ORT's optimized graph)
    op: str                     # ONNX op type
    inputs: tuple = ()
    outputs: tuple = ()
    attrs: dict = field(default_factory=dict)

    kernel: ClassVar[str] = ""  # kernels/byo/<set>/<kernel>.c

    def fail(self, problem: str) -> LenetEdgeError:
        return LenetEdgeError(f'ONNX node "{self.node}" ({self.op}): {problem}')

    def macs(self, shape: dict) -> int:
        return 0

    def scratch_floats(self, shape: dict) -> int:
        """float32 work buffer (NAME_scratch, outside the arena) the kernel needs."""
        return 0


def const(suffix: str, ctype: str, values, comment: str = "") -> CArray:
    """A flat const array of a GraphOp."""
    return CArray(suffix, ctype, np.asarray(values).reshape(-1), "const", comment)


# ---- C types and helpers of the GraphOps ------------------------------------------------------
CTYPES = {"int8": "int8_t", "uint8": "uint8_t", "float32": "float", "int32": "int32_t"}
SUFFIX = {"int8": "s8", "uint8": "u8"}
NBYTES = {"int8": 1, "uint8": 1, "float32": 4, "int32": 4, "int64": 8}


def f32_bits(v) -> int:
    return int(np.asarray(v, np.float32).reshape(()).view(np.uint32))


def bits_array(v) -> np.ndarray:
    return np.asarray(v, np.float32).reshape(-1).view(np.uint32)


def layout_strides(shape4, channels_last: bool):
    """Element strides (c, y, x) of a [1, C, H, W] tensor stored NCHW, or of a [1, H, W, C] one
    stored NHWC (shape4 is the stored shape)."""
    if channels_last:
        _, h, w, c = shape4
        return (1, w * c, c), (c, h, w)
    _, c, h, w = shape4
    return (h * w, w, 1), (c, h, w)


@dataclass(frozen=True, eq=False)
class Graph:
    """The whole model: a DAG of ops in execution order, its graph inputs and outputs (the caller's
    buffers), and provenance. `export --target c` builds a chain (each op reads the previous op's
    output), `compile` any DAG."""
    ops: tuple[Op, ...]
    inputs: tuple[tuple[str, str, tuple], ...]   # (name, dtype, shape with the batch of 1)
    outputs: tuple[tuple[str, str], ...]         # (name, dtype), in graph order
    source_name: str                             # file name only, never a path
    sha256: str = ""
    opset: int = 0

    @property
    def input_name(self) -> str:
        return self.inputs[0][0]

    @property
    def input_dtype(self) -> str:
        return self.inputs[0][1]

    @property
    def input_shape(self) -> tuple:
        return self.inputs[0][2]

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.outputs)

    # the LeNet-5 API's view of a chain that ends in the scores and the label
    @property
    def head(self) -> Layer:
        return self.ops[-2]

    @property
    def arg(self) -> Layer:
        return self.ops[-1]
