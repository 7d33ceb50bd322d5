"""Build the two ONNX graphs with onnx.helper: `lenet5_float.onnx` from torch weights and
`lenet5_int8.onnx` from a `QuantLeNet` (docs/onnx-contract.md). No I/O here, no sessions.

Both graphs take `image` uint8 [N,1,28,28] (raw MNIST bytes; padding and scaling happen inside)
and give `scores` [N,10] and `label` int64 [N]. Node names follow the layers (c1, s2, c3, ...);
every intermediate tensor gets a full value_info from ONNX shape inference. Building is a pure
function of the numbers, so the serialized bytes are identical every time.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lenet_edge import __version__
from lenet_edge.errors import LenetEdgeError
from lenet_edge.model.lenet5 import PAD, PIXEL_HI, PIXEL_LO, SQUASH_A, SQUASH_S, rbf_glyphs
from lenet_edge.model.quantize import QuantLeNet

OPSET = 17
IR_VERSION = 8  # the IR version that goes with opset 17
BATCH = "N"


class Graph:
    """Collects nodes and initializers; each `node` call returns its output tensor name."""

    def __init__(self):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._init_names: set[str] = set()

    def has(self, name: str) -> bool:
        return name in self._init_names

    def const(self, name: str, value, dtype) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        self._init_names.add(name)
        return name

    def node(self, op: str, inputs: list[str], name: str, out: str | None = None, **attrs) -> str:
        out = out or name
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def model(self, outputs: list[onnx.ValueInfoProto], doc: str, metadata: dict[str, str]) -> onnx.ModelProto:
        image = helper.make_tensor_value_info("image", TensorProto.UINT8, [BATCH, 1, 28, 28])
        graph = helper.make_graph(self.nodes, "lenet5", [image], outputs, initializer=self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  ir_version=IR_VERSION, producer_name="lenet-edge",
                                  producer_version=__version__, doc_string=doc)
        helper.set_model_props(model, metadata)
        _check_initializers_used(graph)
        model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
        _check_value_infos(model)
        onnx.checker.check_model(model, full_check=True)
        return model


def unused_initializers(graph: onnx.GraphProto) -> list[str]:
    """Names of initializers that no node reads (ONNX Runtime warns "Removing initializer" for each)."""
    used = {name for node in graph.node for name in node.input}
    return [t.name for t in graph.initializer if t.name not in used]


def _check_initializers_used(graph: onnx.GraphProto) -> None:
    unused = unused_initializers(graph)
    if unused:
        raise LenetEdgeError(f"graph {graph.name}: internal error: initializers no node reads: {', '.join(unused)}")


def _check_value_infos(model: onnx.ModelProto) -> None:
    """Every intermediate tensor must have a fully known type and shape (N may be symbolic)."""
    infos = {vi.name: vi for vi in model.graph.value_info}
    outputs = {o.name for o in model.graph.output}
    for node in model.graph.node:
        for out in node.output:
            if out in outputs:
                continue
            vi = infos.get(out)
            dims = vi.type.tensor_type.shape.dim if vi is not None else None
            if vi is None or not vi.type.tensor_type.HasField("shape") or any(
                    not (d.HasField("dim_value") or d.HasField("dim_param")) for d in dims):
                raise LenetEdgeError(f"node {node.name}: shape inference left {out!r} incomplete")


def _metadata(common: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, str]:
    return dict(sorted({**common, **(extra or {})}.items()))


def _f32(x) -> str:
    """Shortest decimal that reads back as the same float32."""
    return np.format_float_positional(np.float32(x), unique=True, trim="-")


# ---------------------------------------------------------------------------------------------
# Float graph

def float_graph(model, provenance: dict[str, str]) -> onnx.ModelProto:
    """The torch model as float32 ONNX: same preprocessing, same layer order, same arithmetic."""
    sd = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    f32 = np.float32
    g = Graph()
    x = g.node("Cast", ["image"], "input_cast", "image_f", to=TensorProto.FLOAT)
    x = g.node("Pad", [x, g.const("pad_pads", [0, 0, PAD, PAD, 0, 0, PAD, PAD], np.int64),
                       g.const("pad_value", 0.0, f32)], "pad", "padded", mode="constant")
    # -0.1 + 1.275 * p / 255, in preprocess()'s order: [N,1,32,32]
    x = g.node("Mul", [x, g.const("input_gain", PIXEL_HI - PIXEL_LO, f32)], "input_mul", "input_mul")
    x = g.node("Div", [x, g.const("input_divisor", 255.0, f32)], "input_div", "input_div")
    x = g.node("Add", [x, g.const("input_offset", PIXEL_LO, f32)], "input_add", "input")

    def conv(x, name, w, b, **attrs):
        return g.node("Conv", [x, g.const(f"{name}_weight", w, f32), g.const(f"{name}_bias", b, f32)],
                      name, **attrs)

    def squash(x, name):
        """1.7159 * tanh(2/3 * a). The products are float32 as in torch; tanh itself runs in float64
        and is rounded once to float32, so it matches torch's (nearly correctly rounded) float32 tanh
        instead of carrying ORT's float32 approximation error (a few ulp) into every later layer."""
        x = g.node("Mul", [x, g.const(f"{name}_act_s", SQUASH_S, f32)], f"{name}_act_mul", f"{name}_act_in")
        x = g.node("Cast", [x], f"{name}_act_to_f64", f"{name}_act_in64", to=TensorProto.DOUBLE)
        x = g.node("Tanh", [x], f"{name}_act_tanh", f"{name}_act_tanh64")
        x = g.node("Cast", [x], f"{name}_act_to_f32", f"{name}_act_tanh", to=TensorProto.FLOAT)
        return g.node("Mul", [x, g.const(f"{name}_act_a", SQUASH_A, f32)], f"{name}_act")

    def squash64(x, name):
        """1.7159 * tanh(2/3 * a) on a float64 tensor, in torch's operation order."""
        x = g.node("Mul", [x, g.const(f"{name}_act_s", SQUASH_S, np.float64)], f"{name}_act_mul", f"{name}_act_in")
        x = g.node("Tanh", [x], f"{name}_act_tanh", f"{name}_act_tanh")
        return g.node("Mul", [x, g.const(f"{name}_act_a", SQUASH_A, np.float64)], f"{name}_act")

    if model.arch == "paper":
        x = squash(conv(x, "c1", sd["c1.weight"], sd["c1.bias"]), "c1")
        x = squash(conv(x, "s2", model.s2.kernel().detach().numpy(), sd["s2.bias"], group=6, strides=[2, 2]), "s2")
        x = squash(conv(x, "c3", model.c3.masked_weight().detach().numpy(), sd["c3.bias"]), "c3")
        x = squash(conv(x, "s4", model.s4.kernel().detach().numpy(), sd["s4.bias"], group=16, strides=[2, 2]), "s4")
        # C5 and F6 in float64, as in the torch model (ORT has no float64 Conv, so C5, whose output
        # is 1x1, is the equivalent Flatten + Gemm over the C,H,W-ordered 400 inputs).
        x = g.node("Flatten", [x], "flatten", axis=1)
        x = g.node("Cast", [x], "c5_to_f64", "c5_in64", to=TensorProto.DOUBLE)
        f64 = np.float64
        x = g.node("Gemm", [x, g.const("c5_weight", sd["c5.weight"].reshape(120, 400), f64),
                            g.const("c5_bias", sd["c5.bias"], f64)], "c5", transB=1)
        x = squash64(x, "c5")
        x = g.node("Gemm", [x, g.const("f6_weight", sd["f6.weight"], f64), g.const("f6_bias", sd["f6.bias"], f64)],
                   "f6", transB=1)
        x = squash64(x, "f6")
        # RBF: sum_j (x_j - P_cj)^2: [N,84] -> [N,1,84] - [10,84] -> [N,10,84] -> [N,10], summed in
        # float64 and rounded once to float32, exactly like the torch RBF layer.
        x = g.node("Unsqueeze", [x, g.const("rbf_axes", [1], np.int64)], "rbf_unsqueeze")
        d = g.node("Sub", [x, g.const("rbf_centres", rbf_glyphs(), np.float64)], "rbf_sub")
        d = g.node("Mul", [d, d], "rbf_square")
        d = g.node("ReduceSum", [d, g.const("rbf_sum_axes", [2], np.int64)], "rbf_sum", "rbf_sum64", keepdims=0)
        g.node("Cast", [d], "rbf_to_f32", "scores", to=TensorProto.FLOAT)
        g.node("ArgMin", ["scores"], "label", axis=1, keepdims=0, select_last_index=0)
    else:
        x = g.node("Relu", [conv(x, "c1", sd["c1.weight"], sd["c1.bias"])], "c1_relu")
        x = g.node("MaxPool", [x], "s2", kernel_shape=[2, 2], strides=[2, 2])
        x = g.node("Relu", [conv(x, "c3", sd["c3.weight"], sd["c3.bias"])], "c3_relu")
        x = g.node("MaxPool", [x], "s4", kernel_shape=[2, 2], strides=[2, 2])
        x = g.node("Relu", [conv(x, "c5", sd["c5.weight"], sd["c5.bias"])], "c5_relu")
        x = g.node("Flatten", [x], "flatten", axis=1)
        x = g.node("Gemm", [x, g.const("f6_weight", sd["f6.weight"], f32), g.const("f6_bias", sd["f6.bias"], f32)],
                   "f6", transB=1)
        x = g.node("Relu", [x], "f6_relu")
        g.node("Gemm", [x, g.const("out_weight", sd["out.weight"], f32), g.const("out_bias", sd["out.bias"], f32)],
               "out", "scores", transB=1)
        g.node("ArgMax", ["scores"], "label", axis=1, keepdims=0, select_last_index=0)
    outputs = [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [BATCH, 10]),
               helper.make_tensor_value_info("label", TensorProto.INT64, [BATCH])]
    doc = (f"LeNet-5 ({model.arch}) float32, exported by lenet-edge {__version__}. "
           "scores: " + ("RBF distances (argmin)" if model.arch == "paper" else "logits (argmax)"))
    return g.model(outputs, doc, _metadata(provenance))


# ---------------------------------------------------------------------------------------------
# Int8 graph (docs/onnx-contract.md)

def int8_graph(q: QuantLeNet, provenance: dict[str, str]) -> onnx.ModelProto:
    g = Graph()
    i8 = np.int8
    # tensor -> (the tensor that defined its quantization, scale, zero point). The scale and zero
    # point initializers are made when a node first reads them, so the graph holds no unused ones.
    qparams: dict[str, tuple[str, np.float32, int]] = {}
    meta: dict[str, str] = {}

    def quantized(tensor: str, scale, zp) -> None:
        qparams[tensor] = (tensor, scale, zp)
        meta[f"scale:{tensor}"], meta[f"zero_point:{tensor}"] = _f32(scale), str(int(zp))

    def same_as(tensor: str, src: str) -> None:  # Pad / MaxPool / Flatten keep the quantization
        qparams[tensor] = qparams[src]
        meta[f"scale:{tensor}"], meta[f"zero_point:{tensor}"] = meta[f"scale:{src}"], meta[f"zero_point:{src}"]

    def scale_of(tensor: str) -> str:
        owner, scale, _ = qparams[tensor]
        name = f"{owner}_scale"
        return name if g.has(name) else g.const(name, scale, np.float32)

    def zero_point_of(tensor: str) -> str:
        owner, _, zp = qparams[tensor]
        name = f"{owner}_zero_point"
        return name if g.has(name) else g.const(name, zp, i8)

    def table(x: str, cast: str, gather: str, table_name: str, out: str, values: np.ndarray) -> str:
        """Cast(-> int32) -> Gather(table, axis 0). Negative int8 codes index from the end, i.e. the
        table is indexed by the code's raw byte."""
        idx = g.node("Cast", [x], cast, f"{cast}_idx", to=TensorProto.INT32)
        return g.node("Gather", [g.const(table_name, values, i8), idx], gather, out, axis=0)

    x = table("image", "input_cast", "input_table", "input_table", "input_q", q.input_table)
    quantized("input_q", *q.act_scale["input_q"])
    pad_value = q.input_table[0:1].reshape(())  # int8 scalar: the code of background byte 0
    x = g.node("Pad", [x, g.const("pad_pads", [0, 0, PAD, PAD, 0, 0, PAD, PAD], np.int64),
                       g.const("pad_value", pad_value, i8)], "pad", "padded", mode="constant")
    same_as("padded", "input_q")
    for conv in q.convs:
        xs, xz = scale_of(x), zero_point_of(x)
        meta[f"scale:{conv.name}_weight"] = json.dumps([_f32(s) for s in conv.w_scale])
        meta[f"zero_point:{conv.name}_weight"] = "0"
        quantized(conv.name, conv.y_scale, conv.y_zp)
        ys, yz = scale_of(conv.name), zero_point_of(conv.name)
        inputs = [x, xs, xz, g.const(f"{conv.name}_weight", conv.weight, i8),
                  g.const(f"{conv.name}_weight_scale", conv.w_scale, np.float32),
                  g.const(f"{conv.name}_weight_zero_point", np.zeros(len(conv.weight)), i8),
                  ys, yz, g.const(f"{conv.name}_bias", conv.bias, np.int32)]
        kh, kw = conv.weight.shape[2:]
        x = g.node("QLinearConv", inputs, conv.name, kernel_shape=[kh, kw], strides=[conv.stride] * 2,
                   group=conv.group, pads=[0, 0, 0, 0], dilations=[1, 1])
        if conv.table is not None:
            act = f"{conv.name}_act"
            x = table(x, f"{act}_cast", act, f"{act}_table", act, conv.table)
            quantized(x, *q.act_scale[x])
        elif conv.name in ("c1", "c3"):  # modern S2 / S4
            pool = "s2" if conv.name == "c1" else "s4"
            x = g.node("MaxPool", [x], pool, kernel_shape=[2, 2], strides=[2, 2])
            same_as(pool, conv.name)
    src = x
    x = g.node("Flatten", [x], "flatten", axis=1)  # [N,84,1,1] -> [N,84]
    same_as("flatten", src)
    if q.arch == "paper":
        # sum_j (q_j - p_cj)^2 in int32: [N,84] -> [N,1,84] - [10,84] -> [N,10,84] -> [N,10]
        x = g.node("Cast", [x], "rbf_cast", to=TensorProto.INT32)
        x = g.node("Unsqueeze", [x, g.const("rbf_axes", [1], np.int64)], "rbf_unsqueeze")
        d = g.node("Sub", [x, g.const("rbf_centres", q.rbf_centres, np.int32)], "rbf_sub")
        d = g.node("Mul", [d, d], "rbf_square")
        g.node("ReduceSum", [d, g.const("rbf_sum_axes", [2], np.int64)], "rbf_sum", "scores", keepdims=0)
        g.node("ArgMin", ["scores"], "label", axis=1, keepdims=0, select_last_index=0)
        meta["scale:scores"] = _f32(np.float32(q.act_scale["f6_act"][0]) ** 2)
    else:
        xz = zero_point_of(x)
        acc = g.node("MatMulInteger", [x, g.const("out_weight", q.out_weight, i8), xz,
                                       g.const("out_weight_zero_point", 0, i8)], "out", "out_acc")
        g.node("Add", [acc, g.const("out_bias", q.out_bias, np.int32)], "out_bias", "scores")
        g.node("ArgMax", ["scores"], "label", axis=1, keepdims=0, select_last_index=0)
        meta["scale:out_weight"], meta["zero_point:out_weight"] = _f32(q.out_w_scale), "0"
        meta["scale:scores"] = _f32(np.float32(meta["scale:flatten"]) * np.float32(q.out_w_scale))
    meta["calibration"] = json.dumps(q.calibration, sort_keys=True)
    outputs = [helper.make_tensor_value_info("scores", TensorProto.INT32, [BATCH, 10]),
               helper.make_tensor_value_info("label", TensorProto.INT64, [BATCH])]
    doc = (f"LeNet-5 ({q.arch}) int8, QOperator form (docs/onnx-contract.md), exported by lenet-edge "
           f"{__version__}. scores: int32 " + ("squared RBF distances in units of (1/74)^2 (argmin)"
                                                if q.arch == "paper" else "logits in units of scale:scores (argmax)"))
    return g.model(outputs, doc, _metadata(provenance, meta))
