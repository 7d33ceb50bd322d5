"""Hand-built int8 ONNX graphs that follow docs/onnx-contract.md, for the compiler tests.

`GraphBuilder` appends contract-shaped layers to a chain that starts at the uint8 `image`;
`paper_model` / `modern_model` build whole LeNet-5 graphs with random (seeded) int8 weights and
realistic scales; `op_model` wraps one op between the fixed input table and a minimal
MatMulInteger head, so every supported op can be compared with ONNX Runtime through lenet5_predict
and the trace hook. Tables are computed in numpy here (the real exporter uses ORT); the C only
looks them up, so any table tests the lookup.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
PIXEL_LO, PIXEL_HI = -0.1, 1.175
ACT_SCALE = np.float32(1 / 74)


def quantize(x, scale, zp) -> np.ndarray:
    t = (np.asarray(x, np.float32) / np.float32(scale)).astype(np.float32)
    return np.clip(np.rint(t) + zp, -128, 127).astype(np.int8)


class GraphBuilder:
    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.exposed: list[onnx.ValueInfoProto] = []   # intermediate tensors, for ORT checks
        self.cur = "image"
        self.shape = (1, 28, 28)
        self.dtype = TensorProto.UINT8
        self.scale, self.zp = np.float32(1), 0          # of the current int8 tensor
        self.outputs: list[onnx.ValueInfoProto] = []

    # ---- plumbing ----
    def init(self, name, array) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, name, out=None, **attrs) -> str:
        out = out or name + "_out"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def set(self, tensor, shape, dtype=TensorProto.INT8, scale=None, zp=None):
        self.cur, self.shape, self.dtype = tensor, tuple(shape), dtype
        if scale is not None:
            self.scale, self.zp = np.float32(scale), int(zp)
        self.exposed.append(helper.make_tensor_value_info(tensor, dtype, ["N", *shape]))

    # ---- layers ----
    def input_table(self, name="input_table"):
        p = np.arange(256, dtype=np.float32)
        x = np.float32(PIXEL_LO) + np.float32(PIXEL_HI - PIXEL_LO) * p / np.float32(255)
        scale = np.float32((PIXEL_HI - PIXEL_LO) / 255)
        zp = -128 - int(np.rint(PIXEL_LO / scale))
        table = quantize(x, scale, zp)
        c = self.node("Cast", [self.cur], "input_cast", to=TensorProto.INT32)
        out = self.node("Gather", [self.init(name, table), c], name, axis=0)
        self.set(out, self.shape, scale=scale, zp=zp)
        return self

    def pad(self, top=2, left=2, bottom=2, right=2, name="pad", value=None):
        value = self.zp if value is None else value
        pads = self.init(name + "_pads", np.array([0, 0, top, left, 0, 0, bottom, right], np.int64))
        cv = self.init(name + "_value", np.array(value, np.int8))
        out = self.node("Pad", [self.cur, pads, cv], name, mode="constant")
        c, h, w = self.shape
        self.set(out, (c, h + top + bottom, w + left + right))
        return self

    def conv(self, name, c_out, k, stride=1, group=1, mask=None, relu=False, weight=None, y_scale=None,
             y_zp=None, bias_scale=1.0, w_codes=None, w_scale=None, bias=None, **attrs):
        """QLinearConv with random weights ~U(+-2.4/fan_in), per-channel symmetric int8; the output
        scale covers about +-3 sigma of the pre-activation ([0, 3 sigma] with zero point -128 if relu).
        w_codes (int8 [c_out, c_in/group, k, k]) with w_scale [c_out], and bias (int32 [c_out]) replace
        the random ones as given."""
        c_in, h, w = self.shape
        cig = c_in // group
        fan_in = cig * k * k
        bound = 2.4 / fan_in * 3
        wf = self.rng.uniform(-bound, bound, (c_out, cig, k, k)).astype(np.float32) if weight is None else weight
        if mask is not None:
            wf = wf * mask.reshape(c_out, cig, 1, 1)
        wmax = np.abs(wf).reshape(c_out, -1).max(axis=1)
        if w_codes is None:
            w_scale = np.where(wmax > 0, wmax, 2.4 / fan_in).astype(np.float32) / np.float32(127)
            wq = np.clip(np.rint(wf / w_scale.reshape(-1, 1, 1, 1)), -127, 127).astype(np.int8)
        else:
            wq, w_scale = np.asarray(w_codes, np.int8), np.asarray(w_scale, np.float32)
        if mask is not None:
            wq = (wq * mask.reshape(c_out, cig, 1, 1)).astype(np.int8)
        x_std = 0.6
        std = np.sqrt((wq.astype(np.float64) ** 2).reshape(c_out, -1).sum(1).mean()) * float(w_scale.mean()) * x_std
        if bias is None:
            bias = np.rint(self.rng.uniform(-bound, bound, c_out) * bias_scale / (self.scale * w_scale)).astype(np.int32)
        bias = np.asarray(bias, np.int32)
        if y_scale is None:
            y_scale = np.float32((3 if relu else 6) * std / 255)
        if y_zp is None:
            y_zp = -128 if relu else 0
        ins = [self.cur, self.init(name + "_x_scale", np.array(self.scale, np.float32)),
               self.init(name + "_x_zp", np.array(self.zp, np.int8)), self.init(name + "_w", wq),
               self.init(name + "_w_scale", w_scale), self.init(name + "_w_zp", np.zeros(c_out, np.int8)),
               self.init(name + "_y_scale", np.array(y_scale, np.float32)),
               self.init(name + "_y_zp", np.array(y_zp, np.int8)), self.init(name + "_b", bias)]
        out = self.node("QLinearConv", ins, name, out=name + "_q", kernel_shape=[k, k], strides=[stride, stride],
                        group=group, **attrs)
        self.set(out, (c_out, (h - k) // stride + 1, (w - k) // stride + 1), scale=y_scale, zp=y_zp)
        return self

    def squash(self, name):
        """Cast -> Gather table of 1.7159 tanh(2a/3) at scale 1/74, zero point 0."""
        q = np.arange(256, dtype=np.int32)
        codes = np.where(q < 128, q, q - 256)               # entry i holds the code with raw byte i
        a = (codes - self.zp).astype(np.float32) * self.scale
        table = quantize(1.7159 * np.tanh(2 * a.astype(np.float64) / 3), ACT_SCALE, 0)
        c = self.node("Cast", [self.cur], name + "_cast", to=TensorProto.INT32)
        out = self.node("Gather", [self.init(name + "_table", table), c], name, axis=0)
        self.set(out, self.shape, scale=ACT_SCALE, zp=0)
        return self

    def maxpool(self, name, k=2, stride=2):
        out = self.node("MaxPool", [self.cur], name, kernel_shape=[k, k], strides=[stride, stride])
        c, h, w = self.shape
        self.set(out, (c, (h - k) // stride + 1, (w - k) // stride + 1))
        return self

    def flatten(self, name="flatten", reshape=False):
        n = int(np.prod(self.shape))
        if reshape:
            out = self.node("Reshape", [self.cur, self.init(name + "_shape", np.array([-1, n], np.int64))], name)
        else:
            out = self.node("Flatten", [self.cur], name, axis=1)
        self.set(out, (n,))
        return self

    def rbf_head(self, classes=10):
        k = self.shape[0]
        centres = np.where(self.rng.random((classes, k)) < 0.5, -74, 74).astype(np.int32)
        c = self.node("Cast", [self.cur], "rbf_cast", to=TensorProto.INT32)
        u = self.node("Unsqueeze", [c, self.init("rbf_axes1", np.array([1], np.int64))], "rbf_unsqueeze")
        d = self.node("Sub", [u, self.init("rbf_centres", centres)], "rbf_sub")
        sq = self.node("Mul", [d, d], "rbf_square")
        s = self.node("ReduceSum", [sq, self.init("rbf_axes2", np.array([2], np.int64))], "rbf_sum",
                      out="scores", keepdims=0)
        self.cur, self.shape, self.dtype = s, (classes,), TensorProto.INT32
        return self.label("ArgMin")

    def dense_head(self, classes=10):
        k = self.shape[0]
        w = self.rng.integers(-127, 128, (k, classes)).astype(np.int8)
        bias = self.rng.integers(-5000, 5000, classes).astype(np.int32)
        m = self.node("MatMulInteger", [self.cur, self.init("out_w", w), self.init("out_a_zp", np.array(self.zp, np.int8)),
                                        self.init("out_b_zp", np.array(0, np.int8))], "out")
        s = self.node("Add", [m, self.init("out_bias", bias)], "out_bias", out="scores")
        self.cur, self.shape, self.dtype = s, (classes,), TensorProto.INT32
        return self.label("ArgMax")

    def label(self, op):
        out = self.node(op, [self.cur], "label", out="label", axis=1, keepdims=0, select_last_index=0)
        self.outputs = [helper.make_tensor_value_info("scores", TensorProto.INT32, ["N", self.shape[0]]),
                        helper.make_tensor_value_info(out, TensorProto.INT64, ["N"])]
        return self

    def model(self, expose: bool = False) -> onnx.ModelProto:
        """The ModelProto; with expose=True every int8 intermediate is also a graph output (for ORT)."""
        inp = helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", 1, 28, 28])
        outs = list(self.outputs) + (self.exposed if expose else [])
        g = helper.make_graph(self.nodes, "lenet5_int8", [inp], outs, initializer=self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tests")
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m

    def bytes(self, expose: bool = False) -> bytes:
        return self.model(expose).SerializeToString()


C3_TABLE = ((0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1), (0, 1, 2, 3), (1, 2, 3, 4),
            (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2), (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
            (0, 1, 2, 3, 4, 5))


def c3_mask() -> np.ndarray:
    m = np.zeros((16, 6), np.float32)
    for k, ins in enumerate(C3_TABLE):
        m[k, list(ins)] = 1
    return m


def subsampling_weight(rng, c) -> np.ndarray:
    coef = rng.uniform(-1.2, 1.2, c).astype(np.float32)
    return np.broadcast_to(coef.reshape(c, 1, 1, 1), (c, 1, 2, 2)).copy()


def paper_builder(seed: int = 0, wide_s4: bool = False) -> GraphBuilder:
    """wide_s4: as a trained model can be, one S4 coefficient is tiny (its weight scale |a|/127 too),
    so the int32 bias beta/(x_scale*w_scale) is about 3*10^7 and |acc| exceeds 2^24 at s4."""
    b = GraphBuilder(seed).input_table().pad()
    b.conv("c1", 6, 5).squash("c1_act")
    b.conv("s2", 6, 2, stride=2, group=6, weight=subsampling_weight(b.rng, 6)).squash("s2_act")
    b.conv("c3", 16, 5, mask=c3_mask()).squash("c3_act")
    w4 = subsampling_weight(b.rng, 16)
    if wide_s4:
        w4[5] = 1.2e-5                         # beta ~ 0.04 over (1/74 * 1.2e-5/127) ~ 3e7
        b.conv("s4", 16, 2, stride=2, group=16, weight=w4, bias=s4_bias_with(b, w4, 5, 0.04)).squash("s4_act")
    else:
        b.conv("s4", 16, 2, stride=2, group=16, weight=w4).squash("s4_act")
    b.conv("c5", 120, 5).squash("c5_act")
    b.conv("f6", 84, 1).squash("f6_act")
    return b.flatten().rbf_head()


def s4_bias_with(b: GraphBuilder, weight: np.ndarray, channel: int, beta: float) -> np.ndarray:
    """Random S4 biases as conv() makes them, except `channel` gets the float bias beta."""
    w_scale = (np.abs(weight).reshape(len(weight), -1).max(axis=1) / np.float32(127)).astype(np.float32)
    bias = b.rng.uniform(-0.9, 0.9, len(weight)) / (b.scale * w_scale)
    bias[channel] = beta / (b.scale * w_scale[channel])
    return np.rint(bias).astype(np.int32)


def modern_builder(seed: int = 0) -> GraphBuilder:
    b = GraphBuilder(seed).input_table().pad()
    b.conv("c1", 6, 5, relu=True).maxpool("s2")
    b.conv("c3", 16, 5, relu=True).maxpool("s4")
    b.conv("c5", 120, 5, relu=True).conv("f6", 84, 1, relu=True)
    return b.flatten().dense_head()


def paper_model(seed: int = 0, expose: bool = False, wide_s4: bool = False) -> bytes:
    return paper_builder(seed, wide_s4).bytes(expose)


def modern_model(seed: int = 0, expose: bool = False) -> bytes:
    return modern_builder(seed).bytes(expose)


def sample_images(n_random: int, seed: int = 1) -> np.ndarray:
    """Structured images (blank, full ink, every byte value, stripes) then uniform random bytes."""
    rng = np.random.default_rng(seed)
    structured = [np.zeros((28, 28)), np.full((28, 28), 255), np.arange(784).reshape(28, 28) % 256,
                  (np.arange(784).reshape(28, 28) * 37) % 256, np.tile([0, 255], 392).reshape(28, 28),
                  np.kron(rng.integers(0, 2, (7, 7)), np.ones((4, 4))) * 255]
    rand = rng.integers(0, 256, (n_random, 28, 28))
    sparse = rng.integers(0, 256, (n_random, 28, 28)) * (rng.random((n_random, 28, 28)) < 0.2)
    return np.concatenate([np.array(structured), rand, sparse]).astype(np.uint8)


# ---- compare helpers: generated C vs ONNX Runtime -----------------------------------------------

REQUANT_FLAGS = {"float": [], "int": ["-DLENET5_INT_REQUANT"]}


def assert_codes_equal(layer: str, got: np.ndarray, want: np.ndarray) -> None:
    """Exact equality; on failure the message names (layer, image, index, got, want) of the first
    difference and how many differ."""
    got = np.asarray(got).reshape(len(want), -1)
    want = np.asarray(want).reshape(len(want), -1)
    assert got.shape == want.shape, f"{layer}: shape {got.shape} != {want.shape}"
    bad = np.argwhere(got != want)
    if len(bad):
        i, j = bad[0]
        raise AssertionError(f"layer {layer!r}: image {i}, index {j}: got {got[i, j]}, want {want[i, j]} "
                             f"({len(bad)} of {got.size} values differ)")


def ort_outputs(builder: GraphBuilder, images: np.ndarray) -> dict[str, np.ndarray]:
    """ORT's scores, label and every int8 intermediate for `images` [N,28,28]."""
    from lenet_edge.check import ort

    model = builder.model(expose=True)
    outs = ort.run_in_memory(model, {"image": np.ascontiguousarray(images, np.uint8).reshape(-1, 1, 28, 28)})
    return dict(zip([o.name for o in model.graph.output], outs))


def compile_model(builder: GraphBuilder, tmp, requant: str = "float", extra_flags=(), golden_images=None):
    """Write the model, generate C, build the host driver with the trace hook; -> (exe, c_dir)."""
    from pathlib import Path

    from lenet_edge.check import hostbuild
    from lenet_edge.compiler import export_c_cmd

    tmp = Path(tmp)
    onnx_path = tmp / "lenet5_int8.onnx"
    onnx_path.write_bytes(builder.bytes())
    c_dir = tmp / "c"
    export_c_cmd(onnx_path, c_dir, golden_images=golden_images)
    exe = hostbuild.build(c_dir, ["-DLENET5_TRACE", *REQUANT_FLAGS[requant], *extra_flags],
                          work_dir=tmp / f"build_{requant}")
    return exe, c_dir


def check_c_against_ort(builder: GraphBuilder, tmp, images: np.ndarray, requant: str = "float") -> dict:
    """Every traced int8 layer, the scores and the label of the C equal ORT's exactly."""
    from lenet_edge.check import hostbuild

    exe, c_dir = compile_model(builder, tmp, requant)
    got = hostbuild.run_images(exe, images, trace=True)
    want = ort_outputs(builder, images)
    manifest = json.loads((c_dir / "manifest.json").read_text())
    fused_away = {t for e in manifest["layers"] for t in e.get("fused_tensors", [])}   # inside a fused op
    assert set(got["trace"]) == {t for t in want if t not in ("scores", "label")} - fused_away
    for tensor, codes in got["trace"].items():
        assert_codes_equal(tensor, codes, want[tensor])
    assert_codes_equal("scores", got["scores"], want["scores"])
    assert_codes_equal("label", got["label"], want["label"])
    return got
