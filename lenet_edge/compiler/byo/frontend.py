"""ORT's optimized graph -> units. Reads the ONNX protos of the graph the pinned session runs (made
by lenet_edge.check.byo, which also supplies ORT-computed tables through `table_fn`).

Float tensors are tracked as "chains": the output of a per-tensor DequantizeLinear, and of
elementwise float ops on chains of the same code tensor, is a function of one code. A chain that
reaches a QuantizeLinear becomes a Table (code -> code), one that reaches a float AveragePool or a
graph output an FTable (code -> float32); all entries are computed by ORT (table_fn) except plain
dequantization (ortmath, proven equal). Every other float op is refused by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lenet_edge.compiler import ortmath as om
from lenet_edge.compiler import ir
from lenet_edge.compiler import ops as units
from lenet_edge.errors import LenetEdgeError

DTYPES = {TensorProto.UINT8: "uint8", TensorProto.INT8: "int8", TensorProto.FLOAT: "float32",
          TensorProto.INT32: "int32"}
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


def _attrs(n) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in n.attribute}


def _identity(src: str, dst: str):
    """The per-code value is unchanged by a layout move: in the chain ORT evaluates, an Identity."""
    return helper.make_node("Identity", [src], [dst], name=f"{dst}:identity")


def _label(n) -> str:
    return n.name or n.output[0]


def parse(model: onnx.ModelProto, file_name: str, table_fn) -> ir.Graph:
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
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
        out.append(units.FTable(node=_label(ch.nodes[-1]), op="FTable", inputs=(ch.source,), outputs=(name,),
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
                out.append(units.TableX8(node=_label(n), op="Table", inputs=(src.source,), outputs=(n.output[0],),
                                       table=np.asarray(table).astype(dt)))
            elif src == "float":
                out.append(units.Quantize(node=_label(n), op=op, inputs=(ins[0],), outputs=(n.output[0],),
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
            out.append(units.AvgPoolF32(node=_label(n), op=op, inputs=(ins[0],), outputs=(n.output[0],), attrs=a))
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
            out.append(units.QConv(node=_label(n), op=op, inputs=(name,), outputs=(n.output[0],), attrs=a,
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
            out.append(units.QGemm(node=_label(n), op=op, inputs=(name,), outputs=(n.output[0],), attrs=a,
                                   a_scale=np.float32(scalar(n, 1, "a_scale")), a_zp=int(scalar(n, 2, "a_zero_point")),
                                   b_nk=np.ascontiguousarray(b_nk), b_scale=const(n, 4, "b_scale").astype(np.float32),
                                   b_zp=const(n, 5, "b_zero_point"), bias=bias, y_scale=np.float32(sy), y_zp=int(zy),
                                   alpha=alpha, dtype=str(zy.dtype)))
            kind[n.output[0]] = str(zy.dtype)
        elif op in ("MaxPool", "NhwcMaxPool"):
            name, dt = code(n, 0)
            out.append(units.MaxPoolX8(node=_label(n), op=op, inputs=(name,), outputs=tuple(n.output), attrs=a, dtype=dt))
            kind[n.output[0]] = dt
        elif op in ("QLinearAveragePool", "QLinearGlobalAveragePool"):
            name, dt = code(n, 0)
            cls = units.QAvgPool if op == "QLinearAveragePool" else units.QGlobalAvgPool
            out.append(cls(node=_label(n), op=op, inputs=(name,), outputs=(n.output[0],), attrs=a,
                           x_scale=np.float32(scalar(n, 1, "x_scale")), x_zp=int(scalar(n, 2, "x_zero_point")),
                           y_scale=np.float32(scalar(n, 3, "y_scale")), y_zp=int(scalar(n, 4, "y_zero_point")), dtype=dt))
            kind[n.output[0]] = dt
        elif op in ("QLinearAdd", "QLinearMul"):
            name, dt = code(n, 0)
            b_const = consts.get(ins[3])
            b_in = () if b_const is not None else (code(n, 3)[0],)
            cls = units.QAdd if op == "QLinearAdd" else units.QMul
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
            out.append(units.QConcat(node=_label(n), op=op, inputs=tuple(names), outputs=(n.output[0],), attrs=a,
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
            out.append(units.TableX8(node=_label(n), op=op, inputs=(name,), outputs=(n.output[0],), table=np.asarray(table)))
            kind[n.output[0]] = str(zy.dtype)
        elif op in ("Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze"):
            src = kind.get(ins[0])
            cls = units.Transpose if op == "Transpose" else units.Reshape
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
                out.append(units.PadX8(node=_label(n), op=op, inputs=(src.source,), outputs=(moved,), attrs=a,
                                     pads=tuple(int(v) for v in pads.reshape(-1)), value=int(codes[hit[0]]),
                                     dtype=kind[src.source]))
                kind[moved] = kind[src.source]
                kind[n.output[0]] = Chain(moved, src.nodes + [_identity(ins[0], n.output[0])], src.feed)
                continue
            if src not in ("int8", "uint8"):
                raise err(n, "Pad of a float tensor is not supported")
            value = const(n, 2, "constant_value") if len(ins) > 2 and ins[2] else np.zeros((), src)
            out.append(units.PadX8(node=_label(n), op=op, inputs=(ins[0],), outputs=(n.output[0],), attrs=a,
                                 pads=tuple(int(v) for v in pads.reshape(-1)), value=int(np.asarray(value).reshape(())),
                                 dtype=src))
            kind[n.output[0]] = src
        elif op == "QLinearSoftmax":
            name, dt = code(n, 0)
            zy = scalar(n, 4, "y_zero_point")
            out.append(units.QSoftmax(node=_label(n), op=op, inputs=(name,), outputs=(n.output[0],), attrs=a,
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
