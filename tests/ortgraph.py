"""A numpy interpreter of the graph ONNX Runtime actually runs (its optimized model, as saved by
SessionOptions.optimized_model_filepath), built on lenet_edge.compiler.ortmath, for proving that
ortmath reproduces every intermediate tensor of a quantize_static model bit for bit.

Float tensors that are a function of one 8-bit tensor (the output of a DequantizeLinear and of
elementwise float ops after it) are kept as `Coded(codes, table)`: value = table[byte of code].
An elementwise float op on such tensors is applied by ORT to the 256-entry tables
(lenet_edge.check.tables), never approximated in numpy; a float AveragePool materialises the values
and pools them in ORT's summation order (ortmath.average_pool_float).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from lenet_edge.check import tables
from lenet_edge.compiler import ortmath as om

ELEMENTWISE_FLOAT = {"Tanh", "Sigmoid", "HardSigmoid", "HardSwish", "Relu", "Clip", "LeakyRelu", "Mul",
                     "Add", "Sub", "Div", "Neg", "Abs", "Exp", "Erf", "Sqrt", "Min", "Max"}


@dataclass
class Coded:
    codes: np.ndarray        # int8/uint8 array
    table: np.ndarray        # float32 [256], indexed by raw byte

    def value(self) -> np.ndarray:
        return om.lookup(self.codes, self.table)


def _attrs(node) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _nchw(x, channels_last):
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if channels_last else x


def _nhwc(y, channels_last):
    return np.ascontiguousarray(y.transpose(0, 2, 3, 1)) if channels_last else y


def _pads(a, nd=2):
    p = list(a.get("pads", [0] * (2 * nd)))
    return (p[0], p[1], p[2], p[3])


class Interpreter:
    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        for n in model.graph.node:
            if n.op_type == "Constant":
                self.consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
        self.ops_seen: set[str] = set()
        self._table_cache: dict = {}

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every tensor the graph computes, materialised, by name."""
        env: dict = dict(self.consts)
        env.update(feeds)
        for node in self.model.graph.node:
            if node.op_type == "Constant":
                continue
            outs = self.step(node, env)
            for name, v in zip(node.output, outs):
                env[name] = v
        return {k: (v.value() if isinstance(v, Coded) else v) for k, v in env.items() if k not in self.consts}

    # ------------------------------------------------------------------ dispatch
    def step(self, node, env):
        op = node.op_type
        self.ops_seen.add(op)
        a = _attrs(node)
        g = [env[i] if i else None for i in node.input]
        fn = getattr(self, f"op_{op}", None)
        if fn is not None:
            return fn(node, g, a)
        if op in ELEMENTWISE_FLOAT:
            return [self.float_elementwise(node, g)]
        raise NotImplementedError(f"{node.name}: {node.domain}:{op}")

    # ------------------------------------------------------------------ quantize / float chains
    def op_QuantizeLinear(self, node, g, a):
        x, s, z = g[0], g[1], g[2]
        dt = np.asarray(z).dtype
        if isinstance(x, Coded):
            return [om.lookup(x.codes, om.quantize_linear(x.table, s, z, dt))]
        return [om.quantize_linear(x, s, z, dt, axis=a.get("axis", 1))]

    def op_DequantizeLinear(self, node, g, a):
        x, s, z = g[0], g[1], g[2]
        if np.asarray(s).size == 1:
            return [Coded(x, om.dequantize_linear(om.all_codes(x.dtype), s, z))]
        return [om.dequantize_linear(x, s, z, axis=a.get("axis", 1))]

    def float_elementwise(self, node, g):
        coded = [v for v in g if isinstance(v, Coded)]
        if not coded or any(c.codes is not coded[0].codes for c in coded):
            raise NotImplementedError(f"{node.name}: float {node.op_type} not on one code tensor")
        feeds, inits = {}, {}
        for name, v in zip(node.input, g):
            if isinstance(v, Coded):
                feeds[name] = v.table
            elif name:
                inits[name] = np.asarray(v)
        out = tables.run_nodes([node], feeds, {node.output[0]: np.float32}, inits)[node.output[0]]
        return Coded(coded[0].codes, out)

    def op_AveragePool(self, node, g, a):
        x = g[0].value() if isinstance(g[0], Coded) else g[0]
        return [om.average_pool_float(x, tuple(a["kernel_shape"]), tuple(a.get("strides", (1, 1))),
                                      _pads(a), bool(a.get("count_include_pad", 0)))]

    def op_GlobalAveragePool(self, node, g, a):
        x = g[0].value() if isinstance(g[0], Coded) else g[0]
        return [om.average_pool_float(x, x.shape[2:])]

    # ------------------------------------------------------------------ layout
    def _layout(self, x, fn):
        if isinstance(x, Coded):
            return Coded(fn(x.codes), x.table)
        return fn(x)

    def op_Transpose(self, node, g, a):
        return [self._layout(g[0], lambda v: np.ascontiguousarray(np.transpose(v, a["perm"])))]

    def op_Reshape(self, node, g, a):
        shape = [int(d) for d in g[1]]
        def fn(v):
            s = [v.shape[i] if d == 0 else d for i, d in enumerate(shape)]
            return v.reshape(s)
        return [self._layout(g[0], fn)]

    def op_Flatten(self, node, g, a):
        axis = a.get("axis", 1)
        return [self._layout(g[0], lambda v: v.reshape(int(np.prod(v.shape[:axis])), -1))]

    def op_MaxPool(self, node, g, a):
        return [om.max_pool(g[0], tuple(a["kernel_shape"]), tuple(a.get("strides", (1, 1))), _pads(a))]

    def op_NhwcMaxPool(self, node, g, a):
        x = _nchw(g[0], True)
        y = om.max_pool(x, tuple(a["kernel_shape"]), tuple(a.get("strides", (1, 1))), _pads(a))
        return [_nhwc(y, True)]

    # ------------------------------------------------------------------ integer ops
    def op_QLinearConv(self, node, g, a):
        cl = bool(a.get("channels_last", 0))
        x, sx, zx, w, sw, zw, sy, zy = g[:8]
        bias = g[8] if len(g) > 8 else None
        y = om.qlinear_conv(_nchw(x, cl), sx, zx, w, sw, zw, sy, zy, bias, tuple(a.get("strides", (1, 1))),
                            _pads(a), tuple(a.get("dilations", (1, 1))), a.get("group", 1))
        return [_nhwc(y, cl)]

    def op_QGemm(self, node, g, a):
        A, sa, za, B, sb, zb = g[:6]
        C = g[6] if len(g) > 6 else None
        sy = g[7] if len(g) > 7 else None
        zy = g[8] if len(g) > 8 else None
        return [om.qgemm(A, sa, za, B, sb, zb, C, sy, zy, a.get("alpha", 1.0), bool(a.get("transA", 0)),
                         bool(a.get("transB", 0)))]

    def op_QLinearMatMul(self, node, g, a):
        return [om.qlinear_matmul(*g[:8])]

    def op_MatMulInteger(self, node, g, a):
        za = g[2] if len(g) > 2 and g[2] is not None else 0
        zb = g[3] if len(g) > 3 and g[3] is not None else 0
        return [om.matmul_integer(g[0], g[1], za, zb)]

    def op_QLinearAdd(self, node, g, a):
        return [om.qlinear_add(*g[:8])]

    def op_QLinearMul(self, node, g, a):
        return [om.qlinear_mul(*g[:8])]

    def op_QLinearAveragePool(self, node, g, a):
        cl = bool(a.get("channels_last", 0))
        x, sx, zx, sy, zy = g[:5]
        y = om.qlinear_average_pool(_nchw(x, cl), sx, zx, sy, zy, tuple(a["kernel_shape"]),
                                    tuple(a.get("strides", (1, 1))), _pads(a), bool(a.get("count_include_pad", 0)))
        return [_nhwc(y, cl)]

    def op_QLinearGlobalAveragePool(self, node, g, a):
        cl = bool(a.get("channels_last", 0))
        x, sx, zx, sy, zy = g[:5]
        return [_nhwc(om.qlinear_global_average_pool(_nchw(x, cl), sx, zx, sy, zy), cl)]

    def op_QLinearConcat(self, node, g, a):
        sy, zy = g[0], g[1]
        parts = [(g[i], g[i + 1], g[i + 2]) for i in range(2, len(g), 3)]
        return [om.qlinear_concat(parts, sy, zy, a["axis"])]

    def op_QLinearLeakyRelu(self, node, g, a):
        x, sx, zx, sy, zy = g[:5]
        return [om.lookup(x, om.leaky_relu_table(sx, zx, sy, zy, a.get("alpha", 0.01), x.dtype))]

    def op_QLinearSigmoid(self, node, g, a):
        x = g[0]
        key = (node.name, x.dtype.str)
        if key not in self._table_cache:   # ORT's own logistic approximation: the table comes from ORT
            inits = {n: np.asarray(v) for n, v in zip(node.input[1:], g[1:]) if n}
            self._table_cache[key] = tables.node_table(node, x.dtype, np.asarray(g[4]).dtype, inits)
        return [om.lookup(x, self._table_cache[key])]
