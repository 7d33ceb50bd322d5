"""ONNX -> IR, for both commands: the one module that reads ONNX protos for compilation (with the
`recognise` methods of the Layer units in ops/).

load_graph (`export --target c`): the lenet-edge ONNX contract (docs/onnx-contract.md). Walks the
single chain of nodes from the uint8 `image` input to the `scores` / `label` outputs. At each node
it asks the Layers registered for that ONNX op type (ops.recognisers) to build their op; they check
every dtype, shape and attribute with the helpers here (const, scalar, check_attrs, next_node,
peek, err), fuse multi-node patterns into one op (Cast->Gather tables, the RBF head,
MatMulInteger->Add) and keep the ONNX node and tensor names.

parse (`compile`): the graph the pinned ONNX Runtime session really runs (its optimized model, made
by lenet_edge.check.byo, which also supplies ORT-computed tables through `table_fn`), into
GraphOps. Float tensors are tracked as "chains": the output of a per-tensor DequantizeLinear, and
of elementwise float ops on chains of the same code tensor, is a function of one code. A chain that
reaches a QuantizeLinear becomes a TableX8 (code -> code), one that reaches a float AveragePool or a
graph output an FTable (code -> float32); all entries are computed by ORT (table_fn) except plain
dequantization (ortmath, proven equal). Every other float op is refused by name.

Anything either does not understand is a one-line LenetEdgeError naming the node: the C compiler
never guesses.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lenet_edge import contract
from lenet_edge.compiler import ir, ops
from lenet_edge.compiler import ortmath as om
from lenet_edge.errors import LenetEdgeError

MIN_OPSET = 13          # Unsqueeze / ReduceSum / Pad take their axes and pads as inputs
IMAGE_SHAPE = (1, 28, 28)
DTYPES = {TensorProto.UINT8: "uint8", TensorProto.INT8: "int8", TensorProto.INT32: "int32",
          TensorProto.INT64: "int64", TensorProto.FLOAT: "float32"}


def _constants(g) -> dict[str, np.ndarray]:
    """The graph's initializers and Constant node outputs, by tensor name."""
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return consts


def _attrs(n) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in n.attribute}


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
        self.consts = _constants(g)
        self.nodes = []
        for i, n in enumerate(g.node):
            if n.domain not in ("", "ai.onnx"):
                raise self.err(n, f"custom domain {n.domain!r} is not supported", i)
            if n.op_type != "Constant":
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

    @staticmethod
    def attrs(n) -> dict:
        return _attrs(n)

    def check_attrs(self, n, allowed: dict) -> dict:
        """Return the attributes; error on unknown ones or on values other than those allowed
        (`allowed[name]` is a predicate, or None for 'any')."""
        a = _attrs(n)
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


# ---- compile: the graph ONNX Runtime runs -------------------------------------------------------
ELEMENTWISE = {"Tanh", "Sigmoid", "HardSigmoid", "HardSwish", "Relu", "Clip", "LeakyRelu", "Mul", "Add", "Sub",
               "Div", "Neg", "Abs", "Exp", "Erf", "Sqrt", "Min", "Max", "Elu", "Softplus", "Softsign", "Selu"}
KERNEL_DEPENDENT = {
    "Conv": "a float convolution ONNX Runtime did not fuse into QLinearConv",
    "ConvTranspose": "a float transposed convolution",
    "Gemm": "a float Gemm ONNX Runtime did not fuse into QGemm",
    "MatMul": "a float MatMul ONNX Runtime did not fuse into QLinearMatMul",
    "FusedConv": "a float convolution", "FusedGemm": "a float Gemm", "FusedMatMul": "a float MatMul",
    "Softmax": "a float Softmax",
    "LogSoftmax": "a float LogSoftmax",
}


@dataclass
class Chain:
    source: str                      # the code tensor the float values are a function of
    nodes: list = field(default_factory=list)
    feed: str = ""                   # the tensor the chain's first node reads (source, unless a layout
                                     # op moved the codes: layout commutes with a per-code function)

    def __post_init__(self):
        self.feed = self.feed or self.source


def _identity(src: str, dst: str):
    """The per-code value is unchanged by a layout move: in the chain ORT evaluates, an Identity."""
    return helper.make_node("Identity", [src], [dst], name=f"{dst}:identity")


def _label(n) -> str:
    return n.name or n.output[0]


def parse(model: onnx.ModelProto, file_name: str, table_fn) -> ir.Graph:
    """`compile`: ORT's optimized graph -> ir.Graph of GraphOps (see the module docstring)."""
    g = model.graph
    consts = _constants(g)
    inputs = [i for i in g.input if i.name not in consts]
    if len(inputs) != 1:
        raise LenetEdgeError(f"{file_name}: the model has {len(inputs)} inputs; lenet-edge compile takes one")
    inp = inputs[0]
    in_dtype = DTYPES.get(inp.type.tensor_type.elem_type)
    if in_dtype not in ("float32", "int8", "uint8"):
        raise LenetEdgeError(f"{file_name}: input {inp.name!r} has an unsupported element type")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in inp.type.tensor_type.shape.dim]
    if not dims or any(d is None for d in dims[1:]):
        raise LenetEdgeError(f"{file_name}: input {inp.name!r} needs fixed dimensions after the batch, has {dims}")
    if dims[0] not in (None, 1):
        raise LenetEdgeError(f"{file_name}: input {inp.name!r} has a fixed batch of {dims[0]}; use 1 or a dynamic batch")
    shape = (1, *dims[1:])

    kind: dict[str, object] = {inp.name: "float" if in_dtype == "float32" else in_dtype}
    out: list = []
    chain_units: dict[str, object] = {}

    def err(n, problem):
        return LenetEdgeError(f'{file_name}: ONNX node "{_label(n)}" ({n.op_type}): {problem}')

    def const(n, i, what):
        name = n.input[i] if i < len(n.input) else ""
        if not name:
            return None
        if name not in consts:
            raise err(n, f"{what} ({name!r}) must be a constant")
        return consts[name]

    def code(n, i):
        name = n.input[i]
        k = kind.get(name)
        if k not in ("int8", "uint8"):
            raise err(n, f"input {name!r} is {'float' if k is not None else 'unknown'}, expected int8/uint8 codes")
        return name, k

    def scalar(n, i, what):
        v = const(n, i, what)
        if v is None or v.size != 1:
            raise err(n, f"{what} must be one value (per-tensor)")
        return v.reshape(())

    def materialise(n, name, table_out="float32"):
        """A chain as an FTable unit (code -> float32) writing tensor `name`."""
        ch = kind[name]
        src_dtype = kind[ch.source]
        if len(ch.nodes) == 1:     # a bare DequantizeLinear: ortmath, proven equal to ORT
            dq = ch.nodes[0]
            table = om.dequantize_linear(om.all_codes(src_dtype), consts[dq.input[1]], consts[dq.input[2]])
        else:
            table = table_fn(ch.nodes, ch.feed, src_dtype, name, np.float32, consts)
        out.append(ops.FTable(node=_label(ch.nodes[-1]), op="FTable", inputs=(ch.source,), outputs=(name,),
                                table=np.asarray(table, np.float32)))
        kind[name] = "float"

    for n in g.node:   # first, anything whose float result depends on ORT's kernel choice, by name
        if n.op_type in KERNEL_DEPENDENT:
            raise err(n, f"{KERNEL_DEPENDENT[n.op_type]}: its result depends on which float kernel ORT picks, "
                         f"so it cannot be made bit-exact; compile the graph before it with --cut-at")
    for n in g.node:
        op = n.op_type
        if op == "Constant":
            continue
        a = _attrs(n)
        if n.domain not in ("", "ai.onnx", "com.microsoft"):
            raise err(n, f"domain {n.domain!r} is not supported")
        ins = list(n.input)
        if op == "QuantizeLinear":
            s, z = scalar(n, 1, "y_scale"), scalar(n, 2, "y_zero_point")
            dt = str(z.dtype)
            src = kind.get(ins[0])
            if isinstance(src, Chain):
                table = table_fn(src.nodes + [n], src.feed, kind[src.source], n.output[0], np.dtype(dt), consts)
                out.append(ops.TableX8(node=_label(n), op="Table", inputs=(src.source,), outputs=(n.output[0],),
                                       table=np.asarray(table).astype(dt)))
            elif src == "float":
                out.append(ops.Quantize(node=_label(n), op=op, inputs=(ins[0],), outputs=(n.output[0],),
                                          scale=np.float32(s), zero_point=int(z), out_dtype=dt))
            else:
                raise err(n, "input is not float")
            kind[n.output[0]] = dt
        elif op == "DequantizeLinear":
            name, _ = code(n, 0)
            scalar(n, 1, "x_scale")
            kind[n.output[0]] = Chain(name, [n])
        elif op in ELEMENTWISE:
            chains = [kind.get(i) for i in ins if i and i not in consts]
            if chains and all(isinstance(c, Chain) for c in chains) and len({c.source for c in chains}) == 1:
                nodes = []
                for c in chains:
                    nodes += [x for x in c.nodes if x not in nodes]
                kind[n.output[0]] = Chain(chains[0].source, nodes + [n], chains[0].feed)
            else:
                raise err(n, "float arithmetic on values that are not a function of one int8 tensor; "
                             "ORT's result depends on its float kernels")
        elif op in ("AveragePool", "GlobalAveragePool"):
            src = kind.get(ins[0])
            if isinstance(src, Chain):
                materialise(n, ins[0])
            elif src != "float":
                raise err(n, "float pooling of a tensor that is not float")
            out.append(ops.AvgPoolF32(node=_label(n), op=op, inputs=(ins[0],), outputs=(n.output[0],), attrs=a))
            kind[n.output[0]] = "float"
        elif op in ("QLinearConv",):
            name, dt = code(n, 0)
            w = const(n, 3, "w")
            if w.dtype != np.int8 or w.ndim != 4:
                raise err(n, "weights must be int8 [M, C/group, KH, KW]")
            if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
                raise err(n, f"auto_pad={a['auto_pad']!r} is not supported (export with explicit pads)")
            bias = const(n, 8, "B") if len(ins) > 8 else None
            y_zp = scalar(n, 7, "y_zero_point")
            out.append(ops.QConv(node=_label(n), op=op, inputs=(name,), outputs=(n.output[0],), attrs=a,
                                   x_scale=np.float32(scalar(n, 1, "x_scale")), x_zp=int(scalar(n, 2, "x_zero_point")),
                                   weight=w, w_scale=const(n, 4, "w_scale").astype(np.float32),
                                   w_zp=const(n, 5, "w_zero_point"), y_scale=np.float32(scalar(n, 6, "y_scale")),
                                   y_zp=int(y_zp), bias=bias, dtype=str(y_zp.dtype)))
            kind[n.output[0]] = str(y_zp.dtype)
        elif op in ("QGemm", "QLinearMatMul"):
            name, dt = code(n, 0)
            if op == "QGemm":
                if a.get("transA", 0):
                    raise err(n, "transA=1 is not supported")
                if len(ins) < 9 or not ins[8]:
                    raise err(n, "QGemm with a float output is not supported")
                b = const(n, 3, "B")
                b_nk = b if a.get("transB", 0) else b.T
                bias = const(n, 6, "C") if len(ins) > 6 and ins[6] else None
                if bias is not None and bias.ndim == 2 and bias.shape[0] > 1:
                    raise err(n, "a bias C of shape [M, N] is not supported")
                sy, zy = scalar(n, 7, "y_scale"), scalar(n, 8, "y_zero_point")
                alpha = float(a.get("alpha", 1.0))
            else:
                b = const(n, 3, "b")
                if b.ndim != 2:
                    raise err(n, "B must be a 2-D constant")
                b_nk, bias, alpha = b.T, None, None
                sy, zy = scalar(n, 6, "y_scale"), scalar(n, 7, "y_zero_point")
            if b.dtype != np.int8:
                raise err(n, "B must be int8")
            out.append(ops.QGemm(node=_label(n), op=op, inputs=(name,), outputs=(n.output[0],), attrs=a,
                                   a_scale=np.float32(scalar(n, 1, "a_scale")), a_zp=int(scalar(n, 2, "a_zero_point")),
                                   b_nk=np.ascontiguousarray(b_nk), b_scale=const(n, 4, "b_scale").astype(np.float32),
                                   b_zp=const(n, 5, "b_zero_point"), bias=bias, y_scale=np.float32(sy), y_zp=int(zy),
                                   alpha=alpha, dtype=str(zy.dtype)))
            kind[n.output[0]] = str(zy.dtype)
        elif op in ("MaxPool", "NhwcMaxPool"):
            name, dt = code(n, 0)
            out.append(ops.MaxPoolX8(node=_label(n), op=op, inputs=(name,), outputs=tuple(n.output), attrs=a, dtype=dt))
            kind[n.output[0]] = dt
        elif op in ("QLinearAveragePool", "QLinearGlobalAveragePool"):
            name, dt = code(n, 0)
            cls = ops.QAvgPool if op == "QLinearAveragePool" else ops.QGlobalAvgPool
            out.append(cls(node=_label(n), op=op, inputs=(name,), outputs=(n.output[0],), attrs=a,
                           x_scale=np.float32(scalar(n, 1, "x_scale")), x_zp=int(scalar(n, 2, "x_zero_point")),
                           y_scale=np.float32(scalar(n, 3, "y_scale")), y_zp=int(scalar(n, 4, "y_zero_point")), dtype=dt))
            kind[n.output[0]] = dt
        elif op in ("QLinearAdd", "QLinearMul"):
            name, dt = code(n, 0)
            b_const = consts.get(ins[3])
            b_in = () if b_const is not None else (code(n, 3)[0],)
            cls = ops.QAdd if op == "QLinearAdd" else ops.QMul
            out.append(cls(node=_label(n), op=op, inputs=(name, *b_in), outputs=(n.output[0],), attrs=a,
                           a_scale=np.float32(scalar(n, 1, "A_scale")), a_zp=int(scalar(n, 2, "A_zero_point")),
                           b_scale=np.float32(scalar(n, 4, "B_scale")), b_zp=int(scalar(n, 5, "B_zero_point")),
                           c_scale=np.float32(scalar(n, 6, "C_scale")), c_zp=int(scalar(n, 7, "C_zero_point")),
                           b_const=b_const, dtype=dt))
            kind[n.output[0]] = dt
        elif op == "QLinearConcat":
            sy, zy = scalar(n, 0, "Y_scale"), scalar(n, 1, "Y_zero_point")
            names, parts = [], []
            for i in range(2, len(ins), 3):
                names.append(code(n, i)[0])
                parts.append((np.float32(scalar(n, i + 1, "scale")), int(scalar(n, i + 2, "zero_point"))))
            out.append(ops.QConcat(node=_label(n), op=op, inputs=tuple(names), outputs=(n.output[0],), attrs=a,
                                     y_scale=np.float32(sy), y_zp=int(zy), parts=parts, dtype=str(zy.dtype)))
            kind[n.output[0]] = str(zy.dtype)
        elif op in ("QLinearLeakyRelu", "QLinearSigmoid"):
            name, dt = code(n, 0)
            zy = scalar(n, 4, "Y_zero_point")
            if op == "QLinearLeakyRelu":
                table = om.leaky_relu_table(scalar(n, 1, "X_scale"), scalar(n, 2, "X_zero_point"),
                                            scalar(n, 3, "Y_scale"), zy, a.get("alpha", 0.01), dt, str(zy.dtype))
            else:
                table = table_fn([n], name, dt, n.output[0], zy.dtype, consts)
            out.append(ops.TableX8(node=_label(n), op=op, inputs=(name,), outputs=(n.output[0],), table=np.asarray(table)))
            kind[n.output[0]] = str(zy.dtype)
        elif op in ("Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze"):
            src = kind.get(ins[0])
            cls = ops.Transpose if op == "Transpose" else ops.Reshape
            attrs = a if op == "Transpose" else {**a, "_shape_input": consts.get(ins[1]) if len(ins) > 1 else None}
            if isinstance(src, Chain):
                # a layout move of a per-code function = the same function of the moved codes
                moved = f"{n.output[0]}:codes"
                out.append(cls(node=_label(n), op=op, inputs=(src.source,), outputs=(moved,), attrs=attrs))
                kind[moved] = kind[src.source]
                kind[n.output[0]] = Chain(moved, src.nodes + [_identity(ins[0], n.output[0])], src.feed)
                continue
            if src not in ("int8", "uint8", "float"):
                raise err(n, f"input {ins[0]!r} is not a computed tensor")
            if src == "float" and op == "Transpose":
                raise err(n, "Transpose of a float tensor is not supported")
            out.append(cls(node=_label(n), op=op, inputs=(ins[0],), outputs=(n.output[0],), attrs=attrs))
            kind[n.output[0]] = src
        elif op == "Pad":
            src = kind.get(ins[0])
            mode = a.get("mode", b"constant")
            if mode not in (b"constant", "constant"):
                raise err(n, f"mode={mode!r} is not supported (constant only)")
            pads = const(n, 1, "pads")
            if len(ins) > 3 and ins[3]:
                raise err(n, "the axes input is not supported")
            if isinstance(src, Chain):
                # Pad of dequantized codes (QDQ form): exact as a Pad of the codes when a code dequantizes
                # to the pad value bit for bit (0.0 <- the zero point)
                fval = const(n, 2, "constant_value") if len(ins) > 2 and ins[2] else np.zeros((), np.float32)
                dq = src.nodes[0]
                if len(src.nodes) != 1 or dq.op_type != "DequantizeLinear":
                    raise err(n, "Pad after float arithmetic is not supported")
                codes = om.all_codes(kind[src.source])
                values = om.dequantize_linear(codes, consts[dq.input[1]], consts[dq.input[2]])
                hit = np.flatnonzero(values.view(np.uint32) == np.asarray(fval, np.float32).reshape(()).view(np.uint32))
                if hit.size == 0:
                    raise err(n, f"no code dequantizes to the pad value {float(fval)!r}")
                moved = f"{n.output[0]}:codes"
                out.append(ops.PadX8(node=_label(n), op=op, inputs=(src.source,), outputs=(moved,), attrs=a,
                                     pads=tuple(int(v) for v in pads.reshape(-1)), value=int(codes[hit[0]]),
                                     dtype=kind[src.source]))
                kind[moved] = kind[src.source]
                kind[n.output[0]] = Chain(moved, src.nodes + [_identity(ins[0], n.output[0])], src.feed)
                continue
            if src not in ("int8", "uint8"):
                raise err(n, "Pad of a float tensor is not supported")
            value = const(n, 2, "constant_value") if len(ins) > 2 and ins[2] else np.zeros((), src)
            out.append(ops.PadX8(node=_label(n), op=op, inputs=(ins[0],), outputs=(n.output[0],), attrs=a,
                                 pads=tuple(int(v) for v in pads.reshape(-1)), value=int(np.asarray(value).reshape(())),
                                 dtype=src))
            kind[n.output[0]] = src
        elif op == "QLinearSoftmax":
            name, dt = code(n, 0)
            zy = scalar(n, 4, "y_zero_point")
            out.append(ops.QSoftmax(node=_label(n), op=op, inputs=(name,), outputs=(n.output[0],), attrs=a,
                                      x_scale=np.float32(scalar(n, 1, "x_scale")), y_scale=np.float32(scalar(n, 3, "y_scale")),
                                      y_zp=int(zy), dtype=str(zy.dtype)))
            kind[n.output[0]] = str(zy.dtype)
        else:
            raise err(n, "this op is not supported by lenet-edge compile")

    outputs = []
    for o in g.output:
        k = kind.get(o.name)
        if isinstance(k, Chain):
            materialise(None, o.name)
            k = "float"
        outputs.append((o.name, "float32" if k == "float" else k))
    return ir.Graph(ops=tuple(out), inputs=((inp.name, in_dtype, shape),), outputs=tuple(outputs), source_name=file_name)
