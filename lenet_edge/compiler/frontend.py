"""ONNX -> IR. The only module that reads ONNX protos.

Walks the single chain of nodes from the uint8 `image` input to the `scores` / `label` outputs,
checking every op, dtype, shape and attribute against docs/onnx-contract.md, fusing multi-node
patterns into one IR layer (Cast->Gather tables, the RBF head, MatMulInteger->Add) and keeping the
ONNX node and tensor names. Anything it does not understand is a one-line LenetEdgeError naming the
node: the C compiler never guesses.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lenet_edge import contract
from lenet_edge.compiler import ir
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
            handler = getattr(self, f"op_{n.op_type}", None)
            if handler is None:
                raise self.err(n, f"op {n.op_type} is not supported by the C compiler")
            tensor, dtype, shape = handler(n, tensor, dtype, shape)
            if isinstance(self.layers[-1], ir.Arg):
                break

        if not self.layers or not isinstance(self.layers[-1], ir.Arg):
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
        return ir.Graph(layers=tuple(self.layers), opset=opset, sha256=self.sha256, source_name=self.file)

    def need(self, n, dtype, want, shape=None, rank=None):
        if dtype != want:
            raise self.err(n, f"input is {dtype}, expected {want}")
        if rank is not None and len(shape) != rank:
            raise self.err(n, f"input has shape {list(shape)}, expected rank {rank + 1} with the batch")

    # Cast -> Gather (table) or Cast -> Unsqueeze -> Sub -> Mul -> ReduceSum (RBF head)
    def op_Cast(self, n, tensor, dtype, shape):
        self.check_attrs(n, {"to": lambda v: v == TensorProto.INT32, "saturate": None})
        if dtype not in ("uint8", "int8"):
            raise self.err(n, f"input is {dtype}, expected uint8 or int8")
        nxt = self.next_node(n.output[0], ("Gather", "Unsqueeze"), after=n)
        if nxt.op_type == "Unsqueeze":
            return self.rbf(n, nxt, shape)
        self.check_attrs(nxt, {"axis": lambda v: v == 0})
        if nxt.input[1] != n.output[0]:
            raise self.err(nxt, "expected the Cast output as the Gather indices")
        table = self.const(nxt, 0, "table", "int8", shape=[(256,)])
        cls = ir.InputTable if dtype == "uint8" else ir.Table
        self.layers.append(cls(node=nxt.name, tensor=nxt.output[0], in_shape=shape, out_shape=shape,
                               table=table.copy()))
        return nxt.output[0], "int8", shape

    def op_Pad(self, n, tensor, dtype, shape):
        self.need(n, dtype, "int8", shape, rank=3)
        self.check_attrs(n, {"mode": lambda v: v in (b"constant", "constant")})
        pads = self.const(n, 1, "pads", "int64", shape=[(8,)])
        if len(n.input) > 3 and n.input[3]:
            raise self.err(n, "the axes input is not supported")
        value = self.const(n, 2, "constant_value", "int8", shape=[(), (1,)], optional=True)
        value = 0 if value is None else int(value.reshape(()))
        b = [int(p) for p in pads]
        if b[0] or b[1] or b[4] or b[5] or min(b) < 0:
            raise self.err(n, f"pads {b}: only non-negative padding of H and W is supported")
        top, left, bottom, right = b[2], b[3], b[6], b[7]
        c, h, w = shape
        out = (c, h + top + bottom, w + left + right)
        self.layers.append(ir.Pad(node=n.name, tensor=n.output[0], in_shape=shape, out_shape=out,
                                  pads=(top, left, bottom, right), value=value))
        return n.output[0], "int8", out

    def op_QLinearConv(self, n, tensor, dtype, shape):
        self.need(n, dtype, "int8", shape, rank=3)
        if n.input[0] != tensor:
            raise self.err(n, "the activation must be input x")
        c_in, h, w_ = shape
        x_scale = self.scalar(n, 1, "x_scale", "float32")
        x_zp = self.scalar(n, 2, "x_zero_point", "int8")
        w = self.const(n, 3, "w", "int8")
        if w.ndim != 4 or w.shape[2] != w.shape[3]:
            raise self.err(n, f"weight shape {list(w.shape)}: expected [C_out, C_in/group, k, k]")
        c_out, k = w.shape[0], w.shape[2]
        w_scale = self.const(n, 4, "w_scale", "float32", shape=[(), (1,), (c_out,)])
        w_zp = self.const(n, 5, "w_zero_point", "int8", shape=[(), (1,), (c_out,)])
        if np.any(w_zp != 0):
            raise self.err(n, "nonzero weight zero point is not supported (weights must be symmetric)")
        y_scale = self.scalar(n, 6, "y_scale", "float32")
        y_zp = self.scalar(n, 7, "y_zero_point", "int8")
        bias = self.const(n, 8, "B", "int32", shape=[(c_out,)], optional=True)
        if bias is None:
            bias = np.zeros(c_out, np.int32)
        a = self.check_attrs(n, {
            "auto_pad": lambda v: v in (b"NOTSET", "NOTSET", b"VALID", "VALID"),
            "dilations": lambda v: all(d == 1 for d in v),
            "group": None,
            "kernel_shape": lambda v: list(v) == [k, k],
            "pads": lambda v: all(p == 0 for p in v),
            "strides": lambda v: len(v) == 2 and v[0] == v[1] and v[0] >= 1,
        })
        group = int(a.get("group", 1))
        stride = int(a.get("strides", [1, 1])[0])
        if group == 1:
            ok = w.shape[1] == c_in
        else:  # depthwise: every group reads one input channel
            ok = group == c_in and w.shape[1] == 1 and c_out % c_in == 0
        if not ok:
            raise self.err(n, f"group={group} with input channels {c_in} and weight {list(w.shape)}: "
                              "only group=1 or depthwise is supported")
        if h < k or w_ < k:
            raise self.err(n, f"kernel {k}x{k} larger than the input {h}x{w_}")
        out = (c_out, (h - k) // stride + 1, (w_ - k) // stride + 1)
        w_scale = np.broadcast_to(w_scale.reshape(-1), (c_out,)).astype(np.float32).copy()
        for what, s in (("x_scale", x_scale), ("y_scale", y_scale), ("w_scale", w_scale)):
            if not np.all(np.isfinite(s)) or np.any(s <= 0):
                raise self.err(n, f"{what} must be positive and finite")
        self.layers.append(ir.Conv(
            node=n.name, tensor=n.output[0], in_shape=shape, out_shape=out, weight=w.copy(),
            bias=bias.astype(np.int32).copy(), x_scale=np.float32(x_scale), x_zp=int(x_zp),
            w_scale=w_scale, y_scale=np.float32(y_scale), y_zp=int(y_zp), kernel=int(k),
            stride=stride, group=group))
        return n.output[0], "int8", out

    def op_MaxPool(self, n, tensor, dtype, shape):
        self.need(n, dtype, "int8", shape, rank=3)
        if len([o for o in n.output if o]) != 1:
            raise self.err(n, "the Indices output is not supported")
        a = self.check_attrs(n, {
            "auto_pad": lambda v: v in (b"NOTSET", "NOTSET", b"VALID", "VALID"),
            "ceil_mode": lambda v: v == 0,
            "dilations": lambda v: all(d == 1 for d in v),
            "kernel_shape": lambda v: len(v) == 2 and v[0] == v[1],
            "pads": lambda v: all(p == 0 for p in v),
            "storage_order": lambda v: v == 0,
            "strides": lambda v: len(v) == 2 and v[0] == v[1] and v[0] >= 1,
        })
        if "kernel_shape" not in a:
            raise self.err(n, "missing kernel_shape")
        k = int(a["kernel_shape"][0])
        s = int(a.get("strides", [1, 1])[0])
        c, h, w = shape
        if h < k or w < k:
            raise self.err(n, f"kernel {k}x{k} larger than the input {h}x{w}")
        out = (c, (h - k) // s + 1, (w - k) // s + 1)
        self.layers.append(ir.MaxPool(node=n.name, tensor=n.output[0], in_shape=shape, out_shape=out,
                                      kernel=k, stride=s))
        return n.output[0], "int8", out

    def op_Flatten(self, n, tensor, dtype, shape):
        self.need(n, dtype, "int8")
        self.check_attrs(n, {"axis": lambda v: v == 1})
        return self.flatten(n, shape)

    def op_Reshape(self, n, tensor, dtype, shape):
        self.need(n, dtype, "int8")
        self.check_attrs(n, {"allowzero": lambda v: v == 0})
        target = [int(v) for v in self.const(n, 1, "shape", "int64")]
        size = int(np.prod(shape))
        if len(target) != 2 or target[1] not in (size, -1) or target[0] not in (-1, 0, 1):
            raise self.err(n, f"reshape to {target}: only [N, {size}] (flatten) is supported")
        return self.flatten(n, shape)

    def flatten(self, n, shape):
        out = (int(np.prod(shape)),)
        self.layers.append(ir.Flatten(node=n.name, tensor=n.output[0], in_shape=shape, out_shape=out))
        return n.output[0], "int8", out

    def rbf(self, cast, unsq, shape):
        if len(shape) != 1:
            raise self.err(cast, f"RBF head input has shape {list(shape)}, expected a flat vector")
        axes = self.const(unsq, 1, "axes", "int64")
        if [int(a) for a in axes.reshape(-1)] != [1]:
            raise self.err(unsq, "expected axes=[1]")
        sub = self.next_node(unsq.output[0], ("Sub",), after=unsq)
        if unsq.output[0] not in sub.input[:2] or sub.input[0] == sub.input[1]:
            raise self.err(sub, "expected x - centres")
        k = shape[0]
        # (x - p)^2 == (p - x)^2: either operand order is the same head
        centres = self.const(sub, 1 if sub.input[0] == unsq.output[0] else 0, "centres", "int32")
        if centres.ndim != 2 or centres.shape[1] != k:
            raise self.err(sub, f"centres shape {list(centres.shape)}, expected [classes, {k}]")
        if np.abs(centres.astype(np.int64)).max(initial=0) > 2**15:
            raise self.err(sub, "centres must lie within +-32768 (int32 sums of squares)")
        mul = self.next_node(sub.output[0], ("Mul",), after=sub)
        if list(mul.input) != [sub.output[0], sub.output[0]]:
            raise self.err(mul, "expected the square d * d")
        red = self.next_node(mul.output[0], ("ReduceSum",), after=mul)
        self.check_attrs(red, {"keepdims": lambda v: v == 0, "noop_with_empty_axes": lambda v: v == 0})
        axes = self.const(red, 1, "axes", "int64")
        if [int(a) for a in axes.reshape(-1)] not in ([2], [-1]):
            raise self.err(red, "expected axes=[2]")
        out = (centres.shape[0],)
        self.layers.append(ir.Rbf(node=red.name, tensor=red.output[0], in_shape=shape, out_shape=out,
                                  centres=centres.astype(np.int32).copy()))
        return red.output[0], "int32", out

    def op_MatMulInteger(self, n, tensor, dtype, shape):
        self.need(n, dtype, "int8")
        if len(shape) != 1 or n.input[0] != tensor:
            raise self.err(n, f"input A has shape {list(shape)}, expected a flat vector [N, K]")
        k = shape[0]
        w = self.const(n, 1, "B (weights)", "int8")
        if w.ndim != 2 or w.shape[0] != k:
            raise self.err(n, f"weight shape {list(w.shape)}, expected [{k}, classes]")
        a_zp = self.const(n, 2, "a_zero_point", "int8", shape=[(), (1,)], optional=True)
        b_zp = self.const(n, 3, "b_zero_point", "int8", shape=[(), (1,), (w.shape[1],)], optional=True)
        if b_zp is not None and np.any(b_zp != 0):
            raise self.err(n, "nonzero b_zero_point is not supported")
        add = self.next_node(n.output[0], ("Add",), after=n)
        other = [i for i in add.input if i != n.output[0]]
        if len(other) != 1:
            raise self.err(add, "expected MatMulInteger output + bias")
        bias = self.const(add, list(add.input).index(other[0]), "bias", "int32",
                          shape=[(w.shape[1],), (1, w.shape[1])])
        out = (w.shape[1],)
        self.layers.append(ir.Dense(node=add.name, tensor=add.output[0], in_shape=shape, out_shape=out,
                                    weight=w.copy(), bias=bias.reshape(-1).astype(np.int32).copy(),
                                    a_zp=0 if a_zp is None else int(a_zp.reshape(()))))
        return add.output[0], "int32", out

    def op_ArgMin(self, n, tensor, dtype, shape):
        return self.arg(n, dtype, shape, "min")

    def op_ArgMax(self, n, tensor, dtype, shape):
        return self.arg(n, dtype, shape, "max")

    def arg(self, n, dtype, shape, mode):
        if dtype != "int32" or len(shape) != 1:
            raise self.err(n, f"expected the int32 scores [N, classes], got {dtype} {list(shape)}")
        self.check_attrs(n, {"axis": lambda v: v in (1, -1), "keepdims": lambda v: v == 0,
                             "select_last_index": lambda v: v == 0})
        if "keepdims" not in self.attrs(n):
            raise self.err(n, "keepdims must be 0 (label [N])")
        self.layers.append(ir.Arg(node=n.name, tensor=n.output[0], in_shape=shape, out_shape=(1,), mode=mode))
        return n.output[0], "int64", (1,)


def _show(v) -> str:
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return str(list(v)) if isinstance(v, (list, tuple)) else str(v)
