"""lenet_edge.compiler.ortmath is bit-exact with ONNX Runtime's pinned reference session.

Two levels:
* op by op, against one-node ORT models: exhaustively (all 65,536 code pairs) for QLinearAdd and
  QLinearMul in every broadcast path, all 256 codes for tables and (de)quantization, thousands of
  random outputs with random shapes, groups, pads, strides, scales and zero points for the rest;
* whole models made the way users make them (torch.onnx.export -> quantize_static, tests/byo_models):
  a numpy interpreter (tests/ortgraph.py) runs the graph ORT actually executes after its
  optimizations and must reproduce every intermediate tensor and the output, on digits, noise and
  values far outside the calibration range, for QDQ and QOperator, s8 and u8, per-tensor and
  per-channel weights.
Negative controls show the comparisons can fail: the obvious alternative arithmetic (no FMA in
QLinearAdd, a different summation order in AveragePool, rounding half away from zero) disagrees
with ORT on the same inputs.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from byo_models import ModelCache, all_configs, calibration
from lenet_edge.check import ort as ort_oracle
from lenet_edge.check import tables
from lenet_edge.compiler import ortmath as om
from ort_nodes import run_node
from ortgraph import Interpreter

f32 = np.float32
DTYPES = (np.int8, np.uint8)
MS = "com.microsoft"


def _rng(seed):
    return np.random.default_rng(seed)


def _codes(rng, dt, shape):
    i = np.iinfo(dt)
    return rng.integers(i.min, i.max + 1, shape).astype(dt)


def _zp(rng, dt):
    i = np.iinfo(dt)
    return dt(rng.integers(i.min, i.max + 1))


def _scale(rng, lo=-3.0, hi=-1.0):
    return f32(10 ** rng.uniform(lo, hi))


def _assert_same(ours, theirs, what):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs ORT {theirs.shape}"
    bad = np.flatnonzero(ours.reshape(-1) != theirs.reshape(-1))
    assert bad.size == 0, (f"{what}: {bad.size}/{ours.size} values differ from ORT, first at {bad[0]}: "
                           f"{ours.reshape(-1)[bad[0]]} vs {theirs.reshape(-1)[bad[0]]}")


# ---------------------------------------------------------------- op level

@pytest.mark.parametrize("dt", DTYPES)
def test_quantize_and_dequantize_linear(dt):
    rng = _rng(1)
    for _ in range(10):
        s, z = _scale(rng), _zp(rng, dt)
        x = (rng.standard_normal(4000) * rng.uniform(0.01, 5)).astype(f32)
        x[:200] = ((np.arange(200) - 100) + f32(0.5)).astype(f32) * s     # ties
        x[200:210] = [1e9, -1e9, 0.0, -0.0, 3e-39, 1e-45, 127.5 * s, -128.5 * s, 255.5 * s, 0.5 * s]
        _assert_same(om.quantize_linear(x, s, z, dt),
                     run_node("QuantizeLinear", [("x", x, 1), ("s", s, 0), ("z", z, 0)], dt), "QuantizeLinear")
        codes = om.all_codes(dt)
        _assert_same(om.dequantize_linear(codes, s, z),
                     run_node("DequantizeLinear", [("x", codes, 1), ("s", s, 0), ("z", z, 0)], f32), "DequantizeLinear")


def _binary(op, dt, a, b, sa, za, sb, zb, sc, zc):
    return run_node(op, [("a", a, 1), ("sa", sa, 0), ("za", za, 0), ("b", b, 1), ("sb", sb, 0), ("zb", zb, 0),
                         ("sc", sc, 0), ("zc", zc, 0)], dt, domain=MS)


@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
@pytest.mark.parametrize("dt", DTYPES)
def test_qlinear_add_mul_exhaustive(op, dt):
    """All 65,536 code pairs, in the three broadcast paths ORT's helper uses (both vary; B one value
    per span; A one value per span), for random scales and zero points."""
    fn = om.qlinear_add if op == "QLinearAdd" else om.qlinear_mul
    rng = _rng(2)
    col, row = om.all_codes(dt).reshape(256, 1), om.all_codes(dt).reshape(1, 256)
    a_all, b_all = (v.reshape(-1) for v in np.meshgrid(om.all_codes(dt), om.all_codes(dt)))
    for trial in range(12):
        sa, sb, sc = _scale(rng), _scale(rng), _scale(rng)
        if trial % 4 == 0:
            sc = f32(sa * rng.choice([0.5, 1.0, 2.0, 3.0]))     # ratios with many exact ties
        za, zb, zc = _zp(rng, dt), _zp(rng, dt), _zp(rng, dt)
        for a, b, path in ((a_all, b_all, "vector"), (row, col, "b_scalar"), (col, row, "a_scalar")):
            assert om.broadcast_paths(a.shape, b.shape) == path
            _assert_same(fn(a, sa, za, b, sb, zb, sc, zc), _binary(op, dt, a, b, sa, za, sb, zb, sc, zc),
                         f"{op} {path} trial {trial}")
        c4, c1 = _codes(rng, dt, (2, 5, 6, 7)), _codes(rng, dt, (1, 5, 1, 1))
        _assert_same(fn(c4, sa, za, c1, sb, zb, sc, zc), _binary(op, dt, c4, c1, sa, za, sb, zb, sc, zc),
                     f"{op} per-channel broadcast")


def test_qlinear_add_needs_the_fused_multiply_adds():
    """Negative control: the same arithmetic with separately rounded products and sums (or the
    dequantize-add-quantize of the ONNX spec) disagrees with ORT on some code pairs."""
    rng = _rng(3)
    a, b = (v.reshape(-1) for v in np.meshgrid(om.all_codes(np.int8), om.all_codes(np.int8)))
    plain = spec = 0
    for _ in range(30):
        sa, sb, sc = _scale(rng), _scale(rng), _scale(rng)
        za, zb, zc = _zp(rng, np.int8), _zp(rng, np.int8), _zp(rng, np.int8)
        ort = _binary("QLinearAdd", np.int8, a, b, sa, za, sb, zb, sc, zc)
        _assert_same(om.qlinear_add(a, sa, za, b, sb, zb, sc, zc), ort, "QLinearAdd")
        ra, rb = f32(sa / sc), f32(sb / sc)
        base = f32(f32(zc) - f32(f32(ra * f32(za)) + f32(rb * f32(zb))))
        t = ((base + (b.astype(f32) * rb).astype(f32)).astype(f32) + (a.astype(f32) * ra).astype(f32)).astype(f32)
        plain += int((np.clip(np.rint(t), -128, 127) != ort).sum())
        x = (om.dequantize_linear(a, sa, za) + om.dequantize_linear(b, sb, zb)).astype(f32)
        spec += int((om.quantize_linear(x, sc, zc, np.int8) != ort).sum())
    assert plain > 0 and spec > 0, (plain, spec)


@pytest.mark.parametrize("dt", DTYPES)
def test_qlinear_conv(dt):
    """Groups (incl. depthwise), pads, strides, dilations, per-channel and per-tensor weights."""
    rng = _rng(4)
    total = 0
    for trial in range(30):
        group = [1, 2, 3][trial % 3]
        cin, m = group * int(rng.integers(1, 4)), group * int(rng.integers(1, 4))
        if trial % 5 == 0:
            group, cin = 6, 6
            m = 6 * int(rng.integers(1, 3))                       # depthwise (x channel multiplier)
        kh, kw = (int(v) for v in rng.integers(1, 4, 2))
        dil = (1, 1) if trial % 4 else (2, 1)
        h, w = (int(v) for v in rng.integers(dil[0] * kh + 1, dil[0] * kh + 9, 2))
        strides = tuple(int(v) for v in rng.integers(1, 3, 2))
        pads = tuple(int(v) for v in rng.integers(0, 3, 4))
        x, wt = _codes(rng, dt, (3, cin, h, w)), _codes(rng, np.int8, (m, cin // group, kh, kw))
        per_channel = trial % 2 == 0
        sw = (10 ** rng.uniform(-3, -1, m)).astype(f32) if per_channel else _scale(rng)
        zw = np.zeros(m, np.int8) if per_channel else np.int8(0)
        sx, sy, zx, zy = _scale(rng), _scale(rng, -2, 0), _zp(rng, dt), _zp(rng, dt)
        bias = rng.integers(-30000, 30000, m).astype(np.int32)
        ort = run_node("QLinearConv", [("x", x, 1), ("sx", sx, 0), ("zx", zx, 0), ("w", wt, 0), ("sw", sw, 0),
                                       ("zw", zw, 0), ("sy", sy, 0), ("zy", zy, 0), ("b", bias, 0)], dt,
                       strides=list(strides), pads=list(pads), group=group, dilations=list(dil))
        ours = om.qlinear_conv(x, sx, zx, wt, sw, zw, sy, zy, bias, strides, pads, dil, group)
        _assert_same(ours, ort, f"QLinearConv trial {trial}")
        total += ours.size
    assert total > 5000


@pytest.mark.parametrize("dt", DTYPES)
def test_qgemm_qlinear_matmul_matmul_integer(dt):
    rng = _rng(5)
    for trial in range(16):
        m, k, n = int(rng.integers(1, 9)), int(rng.integers(1, 60)), int(rng.integers(1, 20))
        a = _codes(rng, dt, (m, k))
        trans_b = trial % 2 == 0
        b = _codes(rng, np.int8, (n, k) if trans_b else (k, n))
        per_channel = trial % 3 != 0
        sa, sy, za, zy = _scale(rng), _scale(rng, -2, 0), _zp(rng, dt), _zp(rng, dt)
        sb = (10 ** rng.uniform(-3, -1, n)).astype(f32) if per_channel else _scale(rng)
        zb = np.zeros(n, np.int8) if per_channel else np.int8(0)
        bias = rng.integers(-30000, 30000, n).astype(np.int32)
        common = [("a", a, 1), ("sa", sa, 0), ("za", za, 0), ("b", b, 0), ("sb", sb, 0), ("zb", zb, 0), ("c", bias, 0)]
        _assert_same(om.qgemm(a, sa, za, b, sb, zb, bias, sy, zy, trans_b=trans_b),
                     run_node("QGemm", common + [("sy", sy, 0), ("zy", zy, 0)], dt, domain=MS, transB=int(trans_b)),
                     "QGemm")
        _assert_same(om.qgemm(a, sa, za, b, sb, zb, bias, trans_b=trans_b),
                     run_node("QGemm", common, f32, domain=MS, transB=int(trans_b)), "QGemm float output")
        bm = np.ascontiguousarray(b.T) if trans_b else b
        _assert_same(om.qlinear_matmul(a, sa, za, bm, sb, zb, sy, zy),
                     run_node("QLinearMatMul", [("a", a, 1), ("sa", sa, 0), ("za", za, 0), ("b", bm, 0), ("sb", sb, 0),
                                                ("zb", zb, 0), ("sy", sy, 0), ("zy", zy, 0)], dt), "QLinearMatMul")
        _assert_same(om.matmul_integer(a, bm, za, zb),
                     run_node("MatMulInteger", [("a", a, 1), ("b", bm, 0), ("za", za, 0), ("zb", zb, 0)], np.int32),
                     "MatMulInteger")


def _pool_case(rng):
    kh, kw = (int(v) for v in rng.integers(1, 4, 2))
    h, w = (int(v) for v in rng.integers(max(kh, kw) + 1, 13, 2))
    strides = [int(v) for v in rng.integers(1, 4, 2)]
    p = [int(v) for v in rng.integers(0, 2, 4)]
    pads = [min(p[0], kh - 1), min(p[1], kw - 1), min(p[2], kh - 1), min(p[3], kw - 1)]
    return (kh, kw), (h, w), strides, pads


@pytest.mark.parametrize("dt", DTYPES)
def test_pools(dt):
    """QLinearAveragePool (NCHW and NHWC), QLinearGlobalAveragePool (both layouts), MaxPool."""
    rng = _rng(6)
    for trial in range(24):
        kernel, (h, w), strides, pads = _pool_case(rng)
        cip = trial % 3 == 0
        x = _codes(rng, dt, (2, 5, h, w))
        sx, sy, zx, zy = _scale(rng), _scale(rng), _zp(rng, dt), _zp(rng, dt)
        for cl in (0, 1):
            xin = np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if cl else x
            q = [("x", xin, 1), ("sx", sx, 0), ("zx", zx, 0), ("sy", sy, 0), ("zy", zy, 0)]
            y = run_node("QLinearAveragePool", q, dt, domain=MS, kernel_shape=list(kernel), strides=strides,
                         pads=pads, count_include_pad=int(cip), channels_last=cl)
            y = y.transpose(0, 3, 1, 2) if cl else y
            _assert_same(om.qlinear_average_pool(x, sx, zx, sy, zy, kernel, strides, pads, cip), y,
                         f"QLinearAveragePool channels_last={cl}")
            y = run_node("QLinearGlobalAveragePool", q, dt, domain=MS, channels_last=cl)
            y = y.transpose(0, 3, 1, 2) if cl else y
            _assert_same(om.qlinear_global_average_pool(x, sx, zx, sy, zy), y, f"QLinearGlobalAveragePool cl={cl}")
        _assert_same(om.max_pool(x, kernel, strides, pads),
                     run_node("MaxPool", [("x", x, 1)], dt, kernel_shape=list(kernel), strides=strides, pads=pads),
                     "MaxPool")


def test_float_average_pool_kernels():
    """ORT's float AveragePool in its three MLAS kernels (global, vector, generic) on random floats,
    and GlobalAveragePool; a plain row-major sum disagrees with ORT on the same inputs."""
    rng = _rng(7)
    naive_diffs = 0
    for trial in range(30):
        kernel, (h, w), strides, pads = _pool_case(rng)
        cip = trial % 2 == 0
        x = rng.standard_normal((2, 4, h, w)).astype(f32)
        y = run_node("AveragePool", [("x", x, 1)], f32, kernel_shape=list(kernel), strides=strides, pads=pads,
                     count_include_pad=int(cip))
        _assert_same(om.average_pool_float(x, kernel, strides, pads, cip), y, f"AveragePool trial {trial}")
        xx = x.astype(np.float64)
        rows, cols = om._pool_windows(h, w, kernel, strides, pads)
        naive = np.array([[[[(xx[n, c, r0:r1, c0:c1].sum()) for (c0, c1) in cols] for (r0, r1) in rows]
                           for c in range(4)] for n in range(2)])
        counts = np.array([[(r1 - r0) * (c1 - c0) if not cip else kernel[0] * kernel[1] for (c0, c1) in cols]
                           for (r0, r1) in rows])
        naive_diffs += int(((naive / counts).astype(f32) != y).sum())
        _assert_same(om.average_pool_float(x, (h, w)),
                     run_node("GlobalAveragePool", [("x", x, 1)], f32), "GlobalAveragePool")
        _assert_same(om.average_pool_float(x, (h, w)),
                     run_node("AveragePool", [("x", x, 1)], f32, kernel_shape=[h, w]), "AveragePool = input")
    assert naive_diffs > 0


@pytest.mark.parametrize("dt", DTYPES)
def test_concat_and_tables(dt):
    """QLinearConcat (inputs at other scales go through requant tables), QLinearLeakyRelu's table on
    all 256 codes, QLinearSigmoid through an ORT-made table."""
    rng = _rng(8)
    for trial in range(10):
        sy, zy = _scale(rng), _zp(rng, dt)
        parts, feeds = [], []
        for k in range(3):
            xs = _codes(rng, dt, (2, int(rng.integers(1, 4)), 3, 4))
            s, z = (sy, zy) if k == 1 else (_scale(rng), _zp(rng, dt))
            parts.append((xs, s, z))
            feeds += [(f"x{k}", xs, 1), (f"s{k}", f32(s), 0), (f"z{k}", z, 0)]
        _assert_same(om.qlinear_concat(parts, sy, zy, 1),
                     run_node("QLinearConcat", [("sy", sy, 0), ("zy", zy, 0)] + feeds, dt, domain=MS, axis=1),
                     "QLinearConcat")
        codes = om.all_codes(dt)
        sx, zx, alpha = _scale(rng), _zp(rng, dt), f32(rng.choice([0.01, 0.1, 0.2, 0.3]))
        q = [("x", codes, 1), ("sx", sx, 0), ("zx", zx, 0), ("sy", sy, 0), ("zy", zy, 0)]
        _assert_same(om.leaky_relu_table(sx, zx, sy, zy, alpha, dt),
                     run_node("QLinearLeakyRelu", q, dt, domain=MS, alpha=float(alpha)), "QLinearLeakyRelu")
        node = helper.make_node("QLinearSigmoid", ["x", "sx", "zx", "sy", "zy"], ["y"], domain=MS)
        table = tables.node_table(node, dt, dt, {"sx": sx, "zx": zx, "sy": sy, "zy": zy})
        x = _codes(rng, dt, (4, 7, 9))
        _assert_same(om.lookup(x, table),
                     run_node("QLinearSigmoid", [("x", x, 1)] + q[1:], dt, domain=MS), "QLinearSigmoid via table")


@pytest.mark.parametrize("dt", DTYPES)
def test_qlinear_softmax(dt):
    """QLinearSoftmax: ORT's double-precision exp table, float32 row sums, its output clamp."""
    rng = _rng(10)
    for trial in range(30):
        d = int(rng.integers(2, 60))
        x = _codes(rng, dt, (64, d))
        sx = f32(10 ** rng.uniform(-2.5, 0.3))
        sy = f32(1 / 256) if trial % 3 else _scale(rng, -3, -1)
        zx = _zp(rng, dt)
        zy = dt(np.iinfo(dt).min) if trial % 3 else _zp(rng, dt)
        y = run_node("QLinearSoftmax", [("x", x, 1), ("sx", sx, 0), ("zx", zx, 0), ("sy", sy, 0), ("zy", zy, 0)], dt,
                     domain=MS, axis=-1, opset=13)
        _assert_same(om.qlinear_softmax(x, sx, sy, zy), y, f"QLinearSoftmax trial {trial}")


def test_float_chain_table_is_ort():
    """A DequantizeLinear -> HardSigmoid -> Mul -> QuantizeLinear chain (HardSwish as ORT inlines it)
    becomes a table computed by ORT; looked up, it equals ORT running the chain on a tensor."""
    rng = _rng(9)
    s, z, so, zo = f32(0.0037), np.int8(-3), f32(0.0019), np.int8(-23)
    nodes = [helper.make_node("DequantizeLinear", ["q", "s", "z"], ["f"]),
             helper.make_node("HardSigmoid", ["f"], ["h"], alpha=1 / 6, beta=0.5),
             helper.make_node("Mul", ["f", "h"], ["m"]),
             helper.make_node("QuantizeLinear", ["m", "so", "zo"], ["y"])]
    consts = {"s": s, "z": z, "so": so, "zo": zo}
    table = tables.chain_table(nodes, "q", np.int8, "y", np.int8, consts)
    x = _codes(rng, np.int8, (3, 6, 5, 5))
    (y,) = tables.run_nodes(nodes, {"q": x}, {"y": np.int8}, consts).values()
    _assert_same(om.lookup(x, table), y, "HardSwish chain table")


# ---------------------------------------------------------------- whole models

@pytest.fixture(scope="session")
def byo_models(tmp_path_factory):
    return ModelCache(tmp_path_factory.mktemp("byo_models"))


def _inputs(name: str, count: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """`count` inputs of three families: like the calibration data, digits (for the 16x16 `cnn`) or
    more calibration-like data, and noise ~3x outside the calibration range."""
    rng = _rng(seed)
    calib = calibration(name, count // 3, seed=seed + 100)
    shape = calib.shape[1:]
    if name == "cnn":
        from lenet_edge.data.embedded import load_mnist_5k
        digits, _ = load_mnist_5k()
        second = (digits[rng.choice(len(digits), count // 3, replace=False), 6:22, 6:22] / f32(255)).astype(f32)
        second = second.reshape(-1, *shape)
    else:
        second = calibration(name, count // 3, seed=seed + 200)
    noise = (rng.standard_normal((count - 2 * (count // 3), *shape)) * 3).astype(f32)
    return np.concatenate([calib, second, noise]), ["calibration-like", "digits/second draw", "noise x3"]


def _all_tensors(model: onnx.ModelProto, ours: dict[str, np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
    """ORT running `model` (already optimized) with every node output exposed as a graph output."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    existing = {o.name for o in m.graph.output}
    for node in m.graph.node:
        for name in node.output:
            if name and name not in existing:
                m.graph.output.append(helper.make_tensor_value_info(
                    name, tables.ELEM_TYPES[np.asarray(ours[name]).dtype], None))
    outs = ort_oracle.run_in_memory(m, {m.graph.input[0].name: x})
    return dict(zip([o.name for o in m.graph.output], outs))


@pytest.mark.parametrize("name,fmt,act,per_channel", all_configs(),
                         ids=[f"{n}-{f}-{a}-{'pc' if p else 'pt'}" for n, f, a, p in all_configs()])
def test_model_every_tensor_bit_exact(byo_models, tmp_path, name, fmt, act, per_channel):
    built = byo_models.get(name, fmt, act, per_channel)
    optimized = ort_oracle.optimized_graph(built.path, tmp_path / "optimized.onnx")
    x, _ = _inputs(name, 1500, seed=len(built.tag))
    interp = Interpreter(optimized)
    ours = interp.run({"x": x})
    theirs = _all_tensors(optimized, ours, x)
    assert len(theirs) >= 10
    for tensor, value in theirs.items():
        _assert_same(ours[tensor], value, f"{built.tag}: tensor {tensor}")
    (reference,) = ort_oracle.run_in_memory(onnx.load(str(built.path)), {"x": x})
    _assert_same(ours["y"], reference, f"{built.tag}: output vs the user's model under ORT")
    # the interpreter really ran the int8 graph, not float: at least one integer kernel per model
    assert interp.ops_seen & {"QLinearConv", "QGemm", "QLinearMatMul"}


EXPECTED_OPS = {
    # what the pinned session runs after its optimizations (docs/ort-int8-ops.md, table 1)
    ("cnn", "qdq"): {"QLinearConv", "NhwcMaxPool", "QLinearAveragePool", "QGemm"},
    ("cnn", "qoperator"): {"QLinearConv", "NhwcMaxPool", "QLinearAveragePool", "QGemm"},
    ("blocks", "qdq"): {"QLinearConv", "QLinearLeakyRelu", "QLinearSigmoid", "QLinearAdd", "QLinearMul",
                        "QLinearConcat", "QLinearGlobalAveragePool", "QLinearMatMul"},
    ("blocks", "qoperator"): {"QLinearConv", "QLinearLeakyRelu", "QLinearSigmoid", "QLinearAdd", "QLinearMul",
                              "QLinearConcat", "QLinearGlobalAveragePool", "QLinearMatMul"},
    ("acts", "qdq"): {"QLinearConv", "Tanh", "AveragePool", "HardSigmoid", "Mul", "QLinearMul", "QGemm"},
    ("acts", "qoperator"): {"QLinearConv", "Tanh", "QLinearAveragePool", "HardSigmoid", "Mul", "QLinearMul", "QGemm"},
}


@pytest.mark.parametrize("name,fmt", sorted(EXPECTED_OPS))
def test_optimized_graph_ops(byo_models, tmp_path, name, fmt):
    """The ops the reference session executes: Relu/Clip vanish into the quantization ranges, no float
    Conv/Gemm/MatMul is left, and what stays float (Tanh, HardSigmoid, the AveragePool after a Tanh in
    QDQ form) sits between a DequantizeLinear and a QuantizeLinear."""
    for act in ("s8", "u8"):
        optimized = ort_oracle.optimized_graph(byo_models.get(name, fmt, act).path, tmp_path / f"{act}.onnx")
        ops = {n.op_type for n in optimized.graph.node}
        assert EXPECTED_OPS[(name, fmt)] <= ops, ops
        assert not ops & {"Conv", "Gemm", "MatMul", "Relu", "Clip", "FusedConv", "FusedGemm"}, ops
