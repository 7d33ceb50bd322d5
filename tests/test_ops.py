"""Op-level tests: each supported op between the fixed uint8 input table and a minimal head
(Flatten -> MatMulInteger -> Add -> ArgMax), compiled to C and compared with ONNX Runtime on every
traced layer, the scores and the label, for both requant paths.

The public C API is lenet5_predict(image), so an op is tested inside the smallest graph that API
accepts; the trace hook exposes the op's own output, compared code by code with ORT's tensor of the
same name.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from onnx import numpy_helper

from conftest import require_tool
from onnx_builders import GraphBuilder, check_c_against_ort, ort_outputs, sample_images

IMAGES = sample_images(40, seed=7)


def head(b: GraphBuilder, reshape: bool = False) -> GraphBuilder:
    return b.flatten(reshape=reshape).dense_head()


def three_channels(b: GraphBuilder) -> GraphBuilder:
    return b.input_table().conv("pre", 3, 3)


def wide_depthwise() -> GraphBuilder:
    """Depthwise 2x2 conv whose int32 biases put |acc| far beyond 2^24 (like S4 of a trained paper
    model), each channel's bias right at a step of its staircase, so many accumulators land where
    float32(acc) rounds them; M = 3*2^-26 (x_scale a power of two, w_scale 3*2^-20, y_scale 2^6*x_scale)."""
    natural = three_channels(GraphBuilder(17)).scale
    sx = np.float32(2.0 ** np.round(np.log2(natural)))
    b = GraphBuilder(17).input_table().conv("pre", 3, 3, y_scale=sx)
    m = float(3 * 2.0**-26)
    codes = np.array([1, -6, 20])                          # the step from code q to q + 1 ...
    bias = np.rint((codes + 0.5) / m).astype(np.int64)     # ... is near acc = (q + 0.5) / M
    assert np.all(np.abs(bias) > 2**24 + 2**20)
    w = np.array([[[1, 0], [0, 0]], [[0, -1], [0, 0]], [[1, 0], [0, -1]]], np.int8).reshape(3, 1, 2, 2)
    return b.conv("dw", 3, 2, stride=2, group=3, w_codes=w, w_scale=np.full(3, 3 * 2.0**-20, np.float32),
                  bias=bias + b.zp, y_scale=np.float32(sx * 64), y_zp=0)


OPS = {
    "input_table": lambda: head(GraphBuilder(1).input_table()),
    "pad_asymmetric": lambda: head(GraphBuilder(2).input_table().pad(1, 3, 2, 0)),
    "pad_other_value": lambda: head(GraphBuilder(2).input_table().pad(2, 2, 2, 2, value=77)),
    "conv_3x3": lambda: head(three_channels(GraphBuilder(3)).conv("conv", 5, 3)),
    "conv_masked_kernels": lambda: head(three_channels(GraphBuilder(4)).conv(
        "conv", 4, 5, mask=np.array([[1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]], np.float32))),
    "conv_stride2_odd": lambda: head(three_channels(GraphBuilder(5)).conv("conv", 4, 3, stride=2)),
    "conv_relu_zp": lambda: head(three_channels(GraphBuilder(6)).conv("conv", 4, 3, relu=True)),
    "conv_1x1": lambda: head(three_channels(GraphBuilder(7)).conv("conv", 6, 1)),
    "conv_1x1_some_zero": lambda: head(three_channels(GraphBuilder(7)).conv(   # dense form with zeros
        "conv", 3, 1, mask=np.array([[1, 0, 1], [1, 1, 1], [0, 1, 1]], np.float32))),
    "conv_depthwise": lambda: head(three_channels(GraphBuilder(8)).conv("dw", 3, 2, stride=2, group=3)),
    "conv_depthwise_x2": lambda: head(three_channels(GraphBuilder(9)).conv("dw", 6, 3, group=3)),
    "conv_depthwise_wide": lambda: head(wide_depthwise()),
    "conv_saturating": lambda: head(three_channels(GraphBuilder(10)).conv("conv", 4, 3, y_scale=np.float32(0.002))),
    "table": lambda: head(GraphBuilder(11).input_table().conv("conv", 2, 3).squash("act")),
    "maxpool_2x2": lambda: head(three_channels(GraphBuilder(12)).maxpool("pool", 2, 2)),
    "maxpool_3x3_s2": lambda: head(three_channels(GraphBuilder(13)).maxpool("pool", 3, 2)),
    "reshape": lambda: head(GraphBuilder(14).input_table().maxpool("pool", 2, 2), reshape=True),
    "rbf_argmin": lambda: GraphBuilder(15).input_table().maxpool("pool", 4, 4).flatten().rbf_head(),
}


@pytest.mark.parametrize("requant", ["float", "int"])
@pytest.mark.parametrize("op", sorted(OPS))
def test_op_matches_ort(op, requant, tmp_path):
    require_tool("cc")
    check_c_against_ort(OPS[op](), tmp_path, IMAGES, requant)


def tie_builder(head_kind: str) -> GraphBuilder:
    """Heads whose class rows repeat, so ties happen on every image: the first index must win."""
    b = GraphBuilder(16).input_table().maxpool("pool", 4, 4).flatten()
    b = b.rbf_head() if head_kind == "rbf" else b.dense_head()
    for init in b.inits:
        if init.name in ("rbf_centres", "out_w", "out_bias"):
            a = numpy_helper.to_array(init).copy()
            if init.name == "rbf_centres":
                a[3] = a[1] = a[7]
            elif init.name == "out_w":
                a[:, 2] = a[:, 5] = a[:, 9]
            else:
                a[2] = a[5] = a[9] = 10**6
            init.CopyFrom(numpy_helper.from_array(a, init.name))
    return b


@pytest.mark.parametrize("head_kind", ["rbf", "dense"])
def test_arg_ties_pick_first_index(head_kind, tmp_path):
    require_tool("cc")
    got = check_c_against_ort(tie_builder(head_kind), tmp_path, IMAGES)
    if head_kind == "dense":
        assert np.all(got["label"] == 2)                    # classes 2, 5, 9 tie and dominate
    else:
        assert not np.any(np.isin(got["label"], [3, 7]))     # 1, 3, 7 always tie: 1 wins


def test_wide_depthwise_is_sensitive(tmp_path):
    """conv_depthwise_wide really tests the rounding of |acc| to 24 bits: without it (le_requant instead
    of le_requant_wide) the integer path would get other codes on these images; the generated C calls
    the wide kernel for that layer only."""
    from lenet_edge.compiler import export_c_cmd, requant

    b = head(wide_depthwise())
    want = ort_outputs(b, IMAGES)
    x = want["pre_q"].astype(np.int64)                     # [N,3,26,26], zero point 0
    w = numpy_helper.to_array(next(i for i in b.inits if i.name == "dw_w")).astype(np.int64)[:, 0]
    bias = numpy_helper.to_array(next(i for i in b.inits if i.name == "dw_b")).astype(np.int64)
    win = np.lib.stride_tricks.sliding_window_view(x, (2, 2), axis=(2, 3))[:, :, ::2, ::2]
    acc = np.moveaxis(np.einsum("nchwij,cij->nchw", win, w) + bias[None, :, None, None], 1, -1)
    assert np.abs(acc).min() > 2**24
    m = requant.multipliers(b.scale / 64, np.full(3, 3 * 2.0**-20, np.float32), b.scale)
    mant, shift = requant.split(m)
    got_wide = np.moveaxis(requant.requant_int(acc, mant, shift, 0, wide=True), -1, 1)
    got_narrow = np.moveaxis(requant.requant_int(acc, mant, shift, 0, wide=False), -1, 1)
    np.testing.assert_array_equal(got_wide, want["dw_q"])
    assert (got_narrow != want["dw_q"]).sum() > 10
    (tmp_path / "m.onnx").write_bytes(b.bytes())
    c = export_c_cmd(tmp_path / "m.onnx", tmp_path / "c")["lenet5.c"].read_text()
    calls = re.findall(r"\n    (le_conv_\w+)\((lenet5_arena[^;]*)\);", c)
    wide = [name for name, args in calls if args.split(", ")[-5] == "1"]   # ..., zp, wide, y, out_c, ...
    assert wide == ["le_conv_sparse_s8"] and len(calls) >= 2
