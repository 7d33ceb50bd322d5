"""`export --target onnx` on briefly trained runs of both architectures: the float graph matches
torch, the int8 graph is the form of docs/onnx-contract.md, integer after ORT's optimizations,
byte-stable, and within 0.1 accuracy points of float on the official test set."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from lenet_edge import lineage
from lenet_edge.check import ort as ort_oracle
from lenet_edge.cli import export_onnx_cmd
from lenet_edge.data import load_test
from lenet_edge.model import lenet5
from lenet_edge.model.checkpoint import load_model
from lenet_edge.model.export import build_onnx, calibration_images, load_training_data
from lenet_edge.model.train import TrainConfig, fit

ARCHS = ("paper", "modern")
EPOCHS = 3
CALIB = 500
SUBSET = 1000  # official test images compared float-vs-torch here; the benchmark does all 10k

PAPER_NODES = [
    "input_cast", "input_table", "pad",
    "c1", "c1_act_cast", "c1_act", "s2", "s2_act_cast", "s2_act",
    "c3", "c3_act_cast", "c3_act", "s4", "s4_act_cast", "s4_act",
    "c5", "c5_act_cast", "c5_act", "f6", "f6_act_cast", "f6_act", "flatten",
    "rbf_cast", "rbf_unsqueeze", "rbf_sub", "rbf_square", "rbf_sum", "label",
]
MODERN_NODES = ["input_cast", "input_table", "pad", "c1", "s2", "c3", "s4", "c5", "f6", "flatten",
                "out", "out_bias", "label"]
FLOAT_OPS = {"Conv", "Gemm", "MatMul", "QuantizeLinear", "DequantizeLinear", "Tanh", "Relu",
             "AveragePool", "QLinearAveragePool", "Sigmoid", "FusedConv", "FusedGemm", "FusedMatMul"}


@pytest.fixture(scope="session")
def runs(tmp_path_factory, official_test_dir):
    """{arch: run folder} trained EPOCHS passes on mnist-5k, then exported."""
    out = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: one thread is fastest, and far faster on a busy host
    try:
        for arch in ARCHS:
            run = tmp_path_factory.mktemp(f"run_{arch}")
            fit(run, TrainConfig(arch=arch, epochs=EPOCHS), progress=False, echo=lambda *a, **k: None)
            export_onnx_cmd(run, calib_images=CALIB, test_dir=official_test_dir, echo=lambda *a, **k: None)
            out[arch] = run
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="session")
def test_images(official_test_dir):
    return load_test(official_test_dir)


@pytest.fixture(params=ARCHS)
def arch(request):
    return request.param


def _int8(runs, arch) -> onnx.ModelProto:
    return onnx.load(str(runs[arch] / "lenet5_int8.onnx"))


def _inits(model) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def test_float_onnx_matches_torch(runs, arch, test_images):
    model, _ = load_model(runs[arch] / "checkpoint.pt")
    images = test_images.images[:SUBSET]
    with torch.no_grad():
        want = model(lenet5.preprocess(images)).numpy()
    got = ort_oracle.predict(runs[arch] / "lenet5_float.onnx", images)
    assert got["scores"].dtype == np.float32 and got["label"].dtype == np.int64
    assert np.abs(got["scores"] - want).max() <= 1e-4
    np.testing.assert_array_equal(got["label"], model.predict(torch.from_numpy(want)).numpy())


@pytest.mark.parametrize("name", ["lenet5_float.onnx", "lenet5_int8.onnx"])
def test_checker_and_complete_shapes(runs, arch, name):
    model = onnx.load(str(runs[arch] / name))
    onnx.checker.check_model(model, full_check=True)
    infos = {vi.name: vi for vi in list(model.graph.value_info) + list(model.graph.output)}
    for node in model.graph.node:
        assert node.name, f"unnamed {node.op_type} node"
        for out in node.output:
            shape = infos[out].type.tensor_type.shape
            assert shape.dim, f"{out}: no shape"
            assert all(d.HasField("dim_value") or d.dim_param == "N" for d in shape.dim), out
    image = model.graph.input[0]
    assert image.name == "image" and image.type.tensor_type.elem_type == TensorProto.UINT8
    assert [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim] == ["N", 1, 28, 28]


def test_int8_graph_has_contract_form(runs, arch):
    model = _int8(runs, arch)
    assert [n.name for n in model.graph.node] == (PAPER_NODES if arch == "paper" else MODERN_NODES)
    assert {o.domain for o in model.opset_import} == {""} and model.opset_import[0].version == 17
    inits = _inits(model)
    convs = [n for n in model.graph.node if n.op_type == "QLinearConv"]
    for node in convs:
        w, w_scale, w_zp, bias = (inits[node.input[i]] for i in (3, 4, 5, 8))
        assert w.dtype == np.int8 and np.abs(w).max() <= 127, node.name
        assert w_scale.dtype == np.float32 and w_scale.shape == (w.shape[0],), node.name
        assert w_zp.dtype == np.int8 and not w_zp.any(), node.name
        assert bias.dtype == np.int32 and bias.shape == (w.shape[0],), node.name
        assert inits[node.input[7]].dtype == np.int8  # activations int8
    outs = {o.name: o.type.tensor_type.elem_type for o in model.graph.output}
    assert outs == {"scores": TensorProto.INT32, "label": TensorProto.INT64}
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["arch"] == arch and meta["lenet_edge_version"]
    assert json.loads(meta["training_config"])["arch"] == arch and len(meta["data_sha256"]) == 64
    for node in convs:  # every scale in the graph is listed in the metadata, same float32
        assert np.float32(meta[f"scale:{node.output[0]}"]) == inits[node.input[6]], node.name
        assert int(meta[f"zero_point:{node.output[0]}"]) == inits[node.input[7]], node.name
    assert np.float32(meta["scale:input_q"]) == np.float32(0.005) and meta["zero_point:input_q"] == "-108"
    if arch == "paper":
        s2 = next(n for n in convs if n.name == "s2")
        assert s2.attribute[[a.name for a in s2.attribute].index("group")].i == 6
        for node in model.graph.node:  # squashing outputs at scale 1/74, zero point 0
            if node.name.endswith("_act") and node.op_type == "Gather":
                assert np.float32(meta[f"scale:{node.name}"]) == np.float32(1 / 74)
        assert set(np.unique(inits["rbf_centres"])) == {-74, 74}
        assert inits["rbf_centres"].dtype == np.int32 and inits["rbf_centres"].shape == (10, 84)
    else:
        for node in convs:
            assert inits[node.input[7]] == -128, f"{node.name}: ReLU must be folded as zero point -128"
        assert {n.op_type for n in model.graph.node if n.name in ("s2", "s4")} == {"MaxPool"}


def test_masked_c3_weights_are_zero(runs):
    w = _inits(_int8(runs, "paper"))["c3_weight"]  # [16, 6, 5, 5]
    mask = lenet5.c3_mask().numpy().astype(bool)
    assert not w[~mask].any()
    assert all(w[k, m].any() for k, m in zip(*np.nonzero(mask)))


def test_int8_is_integer_after_ort_optimization(runs, arch, tmp_path):
    optimized = ort_oracle.optimized_graph(runs[arch] / "lenet5_int8.onnx", tmp_path / "opt.onnx")
    ops = {n.op_type for n in optimized.graph.node}
    assert "QLinearConv" in ops
    assert not ops & FLOAT_OPS, f"float ops left after optimization: {ops & FLOAT_OPS}"


def _table_from_ort(pre_scale: np.float32, pre_zp: np.int8) -> np.ndarray:
    """ORT's own DequantizeLinear -> Mul(2/3) -> Tanh -> Mul(1.7159) -> QuantizeLinear(1/74, 0)."""
    def c(name, v, dt):
        return numpy_helper.from_array(np.array(v, dtype=dt), name)
    nodes = [helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["a"]),
             helper.make_node("Mul", ["a", "S"], ["b"]), helper.make_node("Tanh", ["b"], ["t"]),
             helper.make_node("Mul", ["t", "A"], ["f"]),
             helper.make_node("QuantizeLinear", ["f", "ys", "yz"], ["y"])]
    inits = [c("xs", pre_scale, np.float32), c("xz", pre_zp, np.int8), c("S", 2 / 3, np.float32),
             c("A", 1.7159, np.float32), c("ys", 1 / 74, np.float32), c("yz", 0, np.int8)]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.INT8, [256])],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, [256])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    codes = np.arange(256, dtype=np.uint8).view(np.int8)  # entry i = code with raw byte i
    return ort_oracle.run_in_memory(model, {"x": codes})[0]


def test_tables_equal_ort_on_all_256_codes(runs):
    model = _int8(runs, "paper")
    inits = _inits(model)
    for node in model.graph.node:
        if node.op_type == "QLinearConv":
            table = inits[f"{node.name}_act_table"]
            np.testing.assert_array_equal(table, _table_from_ort(inits[node.input[6]], inits[node.input[7]]),
                                          err_msg=node.name)
    np.testing.assert_array_equal(inits["input_table"], np.arange(256) - 128)


def test_input_table_is_ort_quantize_of_preprocessing():
    images = np.repeat(np.arange(256, dtype=np.uint8), 784).reshape(256, 28, 28)
    x = lenet5.preprocess(images)[:, 0, 2, 2].numpy()
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])], "q",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [256])],
        [helper.make_tensor_value_info("y", TensorProto.INT8, [256])],
        initializer=[numpy_helper.from_array(np.array(0.005, np.float32), "s"),
                     numpy_helper.from_array(np.array(-108, np.int8), "z")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    np.testing.assert_array_equal(ort_oracle.run_in_memory(model, {"x": x})[0], np.arange(256) - 128)


def test_tables_are_applied_by_raw_byte(runs, test_images):
    """ORT's Gather on the Cast code counts negatives from the end: code q reads entry q & 0xFF."""
    path = runs["paper"] / "lenet5_int8.onnx"
    got = ort_oracle.run_with_intermediates(path, test_images.images[:20], ["c3", "c3_act"])
    table = _inits(onnx.load(str(path)))["c3_act_table"]
    assert (got["c3"] < 0).any()
    np.testing.assert_array_equal(got["c3_act"], table[got["c3"].astype(np.int64) & 0xFF])


def test_reexport_is_byte_identical(runs, arch):
    run = runs[arch]
    model, ckpt = load_model(run / "checkpoint.pt")
    train, _ = load_training_data(ckpt)
    ckpt = {**ckpt, lineage.ONNX_KEY: lineage.sha256_file(run / "checkpoint.pt")}  # as export records it
    float_bytes, int8_bytes, _ = build_onnx(model, ckpt, calibration_images(train, CALIB), ort_oracle.run_in_memory)
    assert float_bytes == (run / "lenet5_float.onnx").read_bytes()
    assert int8_bytes == (run / "lenet5_int8.onnx").read_bytes()
    assert b"/tmp" not in int8_bytes and str(run).encode() not in int8_bytes


def test_int8_accuracy_within_bound(runs, arch):
    block = json.loads((runs[arch] / "metrics.json").read_text())["export"]
    assert block["test"]["images"] == 10000 and "official" in block["test"]["source"]
    assert block["float"]["accuracy"] > 0.85  # a real, briefly trained model
    assert block["float"]["accuracy"] - block["int8"]["accuracy"] <= 0.001 + 1e-12
    assert block["calibration"]["images"] == CALIB
