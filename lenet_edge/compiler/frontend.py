"""ONNX -> IR. With the `recognise` methods of the op units (ops/), the only code that reads ONNX
protos.

Walks the single chain of nodes from the uint8 `image` input to the `scores` / `label` outputs. At
each node it asks the op units registered for that ONNX op type (ops.recognisers) to build their IR
layer; they check every dtype, shape and attribute against docs/onnx-contract.md with the helpers
here (const, scalar, check_attrs, next_node, peek, err), fuse multi-node patterns into one IR layer
(Cast->Gather tables, the RBF head, MatMulInteger->Add) and keep the ONNX node and tensor names. Anything it does not understand is a one-line LenetEdgeError naming the
node: the C compiler never guesses.
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lenet_edge import contract
from lenet_edge.compiler import ir, ops
from lenet_edge.errors import LenetEdgeError

MIN_OPSET = 13          # Unsqueeze / ReduceSum / Pad take their axes and pads as inputs
IMAGE_SHAPE = (1, 28, 28)
DTYPES = {TensorProto.UINT8: "uint8", TensorProto.INT8: "int8", TensorProto.INT32: "int32",
          TensorProto.INT64: "int64", TensorProto.FLOAT: "float32"}


def load_graph(path: Path) -> ir.Graph:
    """Read and check `path`; return the IR. One-line LenetEdgeError on any problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LenetEdgeError(f"{path}: cannot read the model ({e.strerror or e})") from None
    try:
        model = onnx.load_from_string(data)
        onnx.checker.check_model(model)
    except Exception as e:  # DecodeError, ValidationError, ...: all mean "not a usable ONNX file"
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise LenetEdgeError(f"{path}: not a valid ONNX model (truncated or corrupt?): {first}") from None
    if not model.graph.node:
        raise LenetEdgeError(f"{path}: not a valid ONNX model (empty graph; truncated or corrupt?)")
    return _Walker(model, path.name, hashlib.sha256(data).hexdigest()).run()


class _Walker:
    def __init__(self, model: onnx.ModelProto, file_name: str, sha256: str):
        self.model = model
        self.file = file_name
        self.sha256 = sha256
        g = model.graph
        self.consts: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.nodes = []
        for i, n in enumerate(g.node):
            if n.domain not in ("", "ai.onnx"):
                raise self.err(n, f"custom domain {n.domain!r} is not supported", i)
            if n.op_type == "Constant":
                self.consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
            else:
                self.nodes.append((i, n))
        self.consumers: dict[str, list] = {}
        for i, n in self.nodes:
            for name in dict.fromkeys(n.input):      # a node using a tensor twice (d * d) counts once
                if name:
                    self.consumers.setdefault(name, []).append((i, n))
        self.visited: set[int] = set()
        self.layers: list[ir.Layer] = []

    # ---- helpers -----------------------------------------------------------------------------
    @staticmethod
    def node_label(n, index=None) -> str:
        return n.name if n.name else f"{n.op_type}#{index}"

    def err(self, n, problem: str, index=None) -> LenetEdgeError:
        return LenetEdgeError(f'{self.file}: ONNX node "{self.node_label(n, index)}" ({n.op_type}): {problem}')

    def attrs(self, n) -> dict:
        return {a.name: helper.get_attribute_value(a) for a in n.attribute}

    def check_attrs(self, n, allowed: dict) -> dict:
        """Return the attributes; error on unknown ones or on values other than those allowed
        (`allowed[name]` is a predicate, or None for 'any')."""
        a = self.attrs(n)
        for k, v in a.items():
            if k not in allowed:
                raise self.err(n, f"attribute {k}={_show(v)} is not supported")
            ok = allowed[k]
            if ok is not None and not ok(v):
                raise self.err(n, f"attribute {k}={_show(v)} is not supported")
        return a

    def const(self, n, idx: int, what: str, dtype: str | None = None, shape=None, optional=False):
        name = n.input[idx] if idx < len(n.input) else ""
        if not name:
            if optional:
                return None
            raise self.err(n, f"missing input {what}")
        if name not in self.consts:
            raise self.err(n, f"{what} ({name!r}) must be a constant initializer")
        v = self.consts[name]
        if dtype is not None and v.dtype != np.dtype(dtype):
            raise self.err(n, f"{what} ({name!r}) has dtype {v.dtype}, expected {dtype}")
        if shape is not None and tuple(v.shape) not in [tuple(s) for s in shape]:
            raise self.err(n, f"{what} ({name!r}) has shape {list(v.shape)}, expected "
                              + " or ".join(str(list(s)) for s in shape))
        return v

    def scalar(self, n, idx, what, dtype):
        return self.const(n, idx, what, dtype, shape=[(), (1,)]).reshape(())

    def next_node(self, tensor: str, expect: tuple[str, ...] | None = None, after=None):
        cons = [(i, n) for i, n in self.consumers.get(tensor, []) if i not in self.visited]
        if not cons:
            return None
        if len(cons) > 1:
            i, n = cons[1]
            raise self.err(n, f"tensor {tensor!r} feeds {len(cons)} nodes; the compiler only "
                              "supports a single chain", i)
        i, n = cons[0]
        if expect is not None and n.op_type not in expect:
            what = f" after {after.op_type} node \"{after.name}\"" if after is not None else ""
            raise self.err(n, f"expected {' or '.join(expect)}{what}", i)
        self.visited.add(i)
        return n

    # ---- the walk ----------------------------------------------------------------------------
    def run(self) -> ir.Graph:
        g = self.model.graph
        opset = next((o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx")), 0)
        if opset < MIN_OPSET:
            raise LenetEdgeError(f"{self.file}: opset {opset} is too old (need >= {MIN_OPSET})")
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise LenetEdgeError(f"{self.file}: expected one graph input (the uint8 image), found {len(inputs)}")
        inp = inputs[0]
        elem = inp.type.tensor_type.elem_type
        if elem != TensorProto.UINT8:
            hint = " (this looks like the float model; pass lenet5_int8.onnx)" if elem == TensorProto.FLOAT else ""
            raise LenetEdgeError(f"{self.file}: graph input {inp.name!r} is {DTYPES.get(elem, elem)}, "
                                 f"expected uint8 [N,1,28,28]{hint}")
        # lenet5_float.onnx also takes uint8 bytes, so the input type alone cannot tell the models apart.
        float_node = next((n for n in g.node if n.op_type in ("Conv", "Gemm", "MatMul")), None)
        if float_node is not None:
            raise LenetEdgeError(f"{self.file}: ONNX node {float_node.name!r} ({float_node.op_type}) is float "
                                 "arithmetic: this is a float model; the C compiler reads the int8 model "
                                 "lenet5_int8.onnx")
        dims = [d.dim_value if d.HasField("dim_value") else None for d in inp.type.tensor_type.shape.dim]
        if len(dims) != 4 or tuple(dims[1:]) != IMAGE_SHAPE:
            raise LenetEdgeError(f"{self.file}: graph input {inp.name!r} has shape {dims}, expected [N,1,28,28]")

        tensor, dtype, shape = inp.name, "uint8", IMAGE_SHAPE
        while True:
            n = self.next_node(tensor)
            if n is None:
                break
            layer = replace(self.recognise(n, tensor, dtype, shape), source=tensor)
            self.layers.append(layer)
            tensor, dtype, shape = layer.tensor, layer.out_dtype, layer.out_shape
            if layer.terminal:
                break

        if not self.layers or not self.layers[-1].terminal:
            raise LenetEdgeError(f"{self.file}: the graph does not end in ArgMin/ArgMax over the scores "
                                 f"(stopped at tensor {tensor!r})")
        for i, n in self.nodes:
            if i not in self.visited:
                raise self.err(n, "is not on the image -> scores -> label chain", i)
        outs = {o.name for o in g.output}
        want = {self.layers[-2].tensor, self.layers[-1].tensor}
        if outs != want:
            raise LenetEdgeError(f"{self.file}: graph outputs are {sorted(outs)}, expected {sorted(want)} "
                                 "(the scores and the label)")
        named = (self.layers[-2].tensor, self.layers[-1].tensor)
        if named != (contract.SCORES, contract.LABEL):  # verify and run read the outputs by these names
            raise LenetEdgeError(f"{self.file}: outputs are named {named[0]!r} (scores) and {named[1]!r} (label); "
                                 f"the contract (docs/onnx-contract.md) names them {contract.SCORES!r} and "
                                 f"{contract.LABEL!r}")
        return ir.Graph(ops=tuple(self.layers), inputs=((inp.name, "uint8", (1, *IMAGE_SHAPE)),),
                        outputs=((contract.SCORES, "int32"), (contract.LABEL, "int64")),
                        source_name=self.file, sha256=self.sha256, opset=opset)

    def recognise(self, n, tensor, dtype, shape) -> ir.Layer:
        """The first op unit whose pattern starts at node n (see ops/__init__.py)."""
        candidates = ops.recognisers(n.op_type)
        for op in candidates:
            layer = op.recognise(self, n, tensor, dtype, shape)
            if layer is not None:
                return layer
        if candidates:
            after = self.peek(n.output[0]) if n.output else None
            raise self.err(n, f"no supported pattern starts here ({n.op_type} followed by {after or 'nothing'})")
        raise self.err(n, f"op {n.op_type} is not supported by the C compiler")

    def peek(self, tensor: str) -> str | None:
        """The op type of the single unvisited consumer of `tensor` (None if none); consumes nothing."""
        cons = [n for i, n in self.consumers.get(tensor, []) if i not in self.visited]
        return cons[0].op_type if len(cons) == 1 else None

    def need(self, n, dtype, want, shape=None, rank=None):
        if dtype != want:
            raise self.err(n, f"input is {dtype}, expected {want}")
        if rank is not None and len(shape) != rank:
            raise self.err(n, f"input has shape {list(shape)}, expected rank {rank + 1} with the batch")



def _show(v) -> str:
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return str(list(v)) if isinstance(v, (list, tuple)) else str(v)
