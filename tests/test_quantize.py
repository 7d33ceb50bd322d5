"""Quantization pieces on an untrained model (fast): weights, biases, clip search, and the integer
output heads of the int8 graph run by ONNX Runtime against their direct formulas, ties included."""
from __future__ import annotations

import functools

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from lenet_edge.check import ort as ort_oracle
from lenet_edge.errors import LenetEdgeError
from lenet_edge.model import lenet5, quantize
from lenet_edge.model.onnx_graph import int8_graph


@functools.lru_cache(maxsize=None)
def _int8_graph(arch: str) -> onnx.ModelProto:
    """int8 graph of an untrained model calibrated on random bytes (the heads don't need training)."""
    torch.manual_seed(0)
    model = lenet5.build_model(arch).eval()
    images = np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    return int8_graph(quantize.quantize_model(model, images, ort_oracle.run_in_memory), {"arch": arch})


@pytest.fixture(params=["paper", "modern"])
def int8_model(request) -> onnx.ModelProto:
    return _int8_graph(request.param)


def _head(model: onnx.ModelProto) -> onnx.ModelProto:
    """The output head alone: flatten (int8 [N,84]) -> scores, label."""
    return onnx.utils.Extractor(model).extract_model(["flatten"], ["scores", "label"])


def _inits(model):
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def test_weights_symmetric_per_channel():
    w = np.array([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0], [2.0, 1.0, -0.01]], dtype=np.float32)
    codes, scale = quantize.quantize_weight(w)
    assert codes.dtype == np.int8 and scale.dtype == np.float32
    np.testing.assert_array_equal(np.abs(codes).max(axis=1), [127, 0, 127])
    np.testing.assert_array_equal(codes[1], 0)  # an all-zero channel stays zero, scale stays valid
    assert scale[1] > 0
    np.testing.assert_allclose(codes * scale[:, None], w, atol=scale.max() / 2)


def test_bias_scale_and_overflow():
    b = quantize.quantize_bias("c1", np.array([0.1, -0.2]), np.float32(0.005), np.array([0.01, 0.02], np.float32))
    np.testing.assert_array_equal(b, [2000, -2000])
    with pytest.raises(LenetEdgeError, match="node c1: bias does not fit int32"):
        quantize.quantize_bias("c1", np.array([1e6]), np.float32(1e-5), np.array([1e-5], np.float32))


def test_input_table_is_lossless():
    np.testing.assert_array_equal(quantize.input_table(ort_oracle.run_in_memory), np.arange(256) - 128)


@pytest.mark.parametrize("relu", [False, True])
def test_clip_search_beats_max_clip(relu):
    a = np.random.default_rng(1).standard_normal(20_000) * 2
    a[0] = 25.0  # one outlier: clipping at the max would waste the int8 range
    clip = quantize.choose_clip(a, relu)
    assert clip < 25.0

    def err(c):
        if relu:
            s = c / 255
            return np.mean((s * (np.clip(np.round(a / s) - 128, -128, 127) + 128) - np.maximum(a, 0)) ** 2)
        s = c / 127
        out = np.round(quantize._squash_np(np.clip(np.round(a / s), -128, 127) * s) * 74) / 74
        return np.mean((out - quantize._squash_np(a)) ** 2)
    assert err(clip) < err(25.0)


def test_masked_c3_weights_quantize_to_zero():
    torch.manual_seed(0)
    model = lenet5.build_model("paper")
    codes, _ = quantize.quantize_weight(model.c3.masked_weight().detach().numpy())
    assert not codes[~lenet5.c3_mask().numpy().astype(bool)].any()


def test_head_equals_direct_formula_on_random_codes(int8_model):
    head, inits = _head(int8_model), _inits(int8_model)
    x = np.random.default_rng(2).integers(-128, 128, (500, 84)).astype(np.int8)
    scores, label = ort_oracle.run_in_memory(head, {"flatten": x})
    xi = x.astype(np.int64)
    if "rbf_centres" in inits:
        want = ((xi[:, None, :] - inits["rbf_centres"].astype(np.int64)) ** 2).sum(axis=2)
        np.testing.assert_array_equal(label, want.argmin(axis=1))
    else:
        out = next(n for n in int8_model.graph.node if n.name == "out")  # MatMulInteger
        zp = int(inits[out.input[2]])
        assert zp == -128
        want = (xi - zp) @ inits["out_weight"].astype(np.int64) + inits["out_bias"]
        np.testing.assert_array_equal(label, want.argmax(axis=1))
    assert scores.dtype == np.int32
    np.testing.assert_array_equal(scores, want)


def test_rbf_label_takes_first_index_on_ties():
    int8_model = _int8_graph("paper")
    inits = _inits(int8_model)
    p = inits["rbf_centres"].astype(np.int64)
    # Halfway between the centres of 3 and 7: equally far from both. All-zero: all ten tie.
    mid = ((p[3] + p[7]) // 2).astype(np.int8)
    x = np.stack([mid, np.zeros(84, np.int8)])
    scores, label = ort_oracle.run_in_memory(_head(int8_model), {"flatten": x})
    assert scores[0, 3] == scores[0, 7] == scores[0].min()
    assert (scores[1] == scores[1, 0]).all()
    np.testing.assert_array_equal(label, [3, 0])


def test_squash_tables_are_monotone_and_bounded():
    inits = _inits(_int8_graph("paper"))
    tables = {k: v for k, v in inits.items() if k.endswith("_act_table")}
    assert len(tables) == 6
    codes = np.arange(256, dtype=np.uint8).view(np.int8).astype(np.int64)
    for name, table in tables.items():
        assert table.dtype == np.int8 and table.shape == (256,)
        order = np.argsort(codes)  # tables are monotone in the code and bounded by the 1.7159 * 74 range
        assert (np.diff(table[order].astype(int)) >= 0).all(), name
        assert np.abs(table).max() <= 127 and table[0] == 0, name


def test_fake_quant_forward_predicts_like_the_int8_graph(tmp_path):
    """The QAT forward pass rounds like the exported graph: same labels as ORT on the int8 model."""
    torch.manual_seed(0)
    model = lenet5.build_model("modern").eval()
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (200, 28, 28), dtype=np.uint8)
    q = quantize.quantize_model(model, images[:64], ort_oracle.run_in_memory)
    (tmp_path / "m.onnx").write_bytes(int8_graph(q, {"arch": "modern"}).SerializeToString())
    want = ort_oracle.predict(tmp_path / "m.onnx", images)["label"]
    with torch.no_grad():
        got = quantize.fake_quant_forward(model, q, lenet5.preprocess(images)).argmax(1).numpy()
    assert np.mean(got == want) >= 0.98


def test_qat_finetune_trains_a_copy_and_keeps_c3_mask():
    from lenet_edge.data import Digits

    torch.manual_seed(0)
    model = lenet5.build_model("paper").eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(4)
    train = Digits.from_arrays(rng.integers(0, 256, (96, 28, 28), dtype=np.uint8),
                               rng.integers(0, 10, 96).astype(np.int64), "random")
    tuned = quantize.qat_finetune(model, train, train.images[:32], ort_oracle.run_in_memory, epochs=1, echo=lambda *a: None)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # original untouched
    assert not torch.equal(tuned.c1.weight, model.c1.weight)
    mask = lenet5.c3_mask().bool()
    assert not tuned.c3.masked_weight().detach()[~mask].any()
    assert not tuned.training


def test_accumulator_bound_names_the_node():
    conv = quantize.QConv("s4", np.full((16, 1, 2, 2), 127, np.int8), np.ones(16, np.float32),
                          np.full(16, 2 ** 31 - 10, np.int32), np.float32(1 / 74), 0, np.float32(1.0), 0,
                          group=16, stride=2)
    with pytest.raises(LenetEdgeError, match=r"node s4: accumulator bound \d+ overflows int32"):
        quantize._check_accumulator(conv)
    wide = quantize.QConv("s4", conv.weight, conv.w_scale, np.full(16, 3 * 10 ** 7, np.int32),
                          conv.x_scale, 0, conv.y_scale, 0, group=16, stride=2)
    quantize._check_accumulator(wide)  # beyond 2^24 is fine: ORT and the C both round float(acc)
