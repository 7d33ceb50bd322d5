"""Op-level tests of the compiled C kernels: one-node int8 graphs with random shapes, scales and
zero points (groups, depthwise, dilations, asymmetric pads, strides, pooling pads, count_include_pad,
per-channel broadcasts in NCHW and NHWC, one-element operands) go through `lenet-edge compile`
and must match ONNX Runtime bit for bit on random inputs (`verify --random`)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import require_tool
from lenet_edge.check import byo

f32 = np.float32
MS = "com.microsoft"
TYPES = {np.dtype(np.int8): TensorProto.INT8, np.dtype(np.uint8): TensorProto.UINT8}


def _model(op, x_shape, dt, consts, in_names, attrs, domain="", out_dt=None):
    """One node reading graph input x (codes) and constants; output y."""
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()]
    node = helper.make_node(op, in_names, ["y"], domain=domain, name=f"the_{op}", **attrs)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TYPES[np.dtype(dt)], list(x_shape))],
                          [helper.make_tensor_value_info("y", TYPES[np.dtype(out_dt or dt)], ["n", "c", "h", "w"])], inits)
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(MS, 1)] if domain else [])
    m = helper.make_model(g, opset_imports=opsets)
    m.ir_version = 8
    return m


def _q(rng, dt):
    i = np.iinfo(dt)
    return dt(rng.integers(i.min, i.max + 1)), f32(10 ** rng.uniform(-3, -1))


def cases():
    rng = np.random.default_rng(11)
    out = []
    for k, dt in enumerate([np.int8, np.uint8] * 3):
        zx, sx = _q(rng, dt)
        zy, sy = _q(rng, dt)
        group = [1, 3, 6][k % 3]
        c, m = 6, 6 * (1 + k % 2)
        kh, kw = 3, 2
        w = rng.integers(-127, 128, (m, c // group, kh, kw)).astype(np.int8)
        sw = (10 ** rng.uniform(-3, -1, m)).astype(f32) if k % 2 else f32(0.01)
        zw = np.zeros(m, np.int8) if k % 2 else np.int8(0)
        b = rng.integers(-20000, 20000, m).astype(np.int32)
        consts = dict(sx=sx, zx=zx, w=w, sw=sw, zw=zw, sy=f32(sy * 20), zy=zy, b=b)
        out.append((f"conv{k}", _model("QLinearConv", (1, c, 9, 8), dt, consts,
                                      ["x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "b"],
                                      dict(group=group, pads=[0, 1, 2, 1], strides=[1 + k % 2, 2 - k % 2],
                                           dilations=[1 + (k == 4), 1]))))
        out.append((f"avgpool{k}", _model("QLinearAveragePool", (1, 5, 7, 9), dt, dict(sx=sx, zx=zx, sy=sy, zy=zy),
                                          ["x", "sx", "zx", "sy", "zy"],
                                          dict(kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1],
                                               count_include_pad=k % 2), domain=MS)))
        out.append((f"maxpool{k}", _model("MaxPool", (1, 4, 7, 6), dt, {}, ["x"],
                                          dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))))
        bshape = [(1, 5, 1, 1), (1,), (1, 5, 6, 7), (1, 1, 1, 7)][k % 4]
        bconst = rng.integers(np.iinfo(dt).min, np.iinfo(dt).max + 1, bshape).astype(dt)
        zb, sb = _q(rng, dt)
        for op in ("QLinearAdd", "QLinearMul"):
            out.append((f"{op}{k}", _model(op, (1, 5, 6, 7), dt,
                                           dict(sa=sx, za=zx, b=bconst, sb=sb, zb=zb, sc=sy, zc=zy),
                                           ["x", "sa", "za", "b", "sb", "zb", "sc", "zc"], {}, domain=MS)))
        out.append((f"gap{k}", _model("QLinearGlobalAveragePool", (1, 7, 5, 3), dt, dict(sx=sx, zx=zx, sy=sy, zy=zy),
                                      ["x", "sx", "zx", "sy", "zy"], dict(channels_last=k % 2), domain=MS)))
    return out


CASES = cases()


@pytest.mark.parametrize("name,model", CASES, ids=[c[0] for c in CASES])
def test_kernel_bit_exact_through_compile(tmp_path, name, model):
    require_tool("cc")
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    for kernels in ("ref", "opt"):          # opt differs from ref for the conv; both must match ORT
        byo.compile_cmd(path, tmp_path / kernels, name="k", kernels=kernels, echo=lambda *a: None)
        report = byo.verify_cmd(path, tmp_path / kernels, random=400, echo=lambda *a: None)
        assert report["identical"] == 400, kernels


@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
@pytest.mark.parametrize("dt", [np.int8, np.uint8])
@pytest.mark.parametrize("flags", [[], ["-DLE_SOFT_FMA"]], ids=["libm-fmaf", "soft-fma"])
def test_binary_kernels_on_all_code_pairs(tmp_path, op, dt, flags):
    """All 65,536 (a, b) code pairs through the compiled C, with the library fmaf and with the
    round-to-odd software FMA that FPU-less cores use (le_byo.h), against ORT."""
    require_tool("cc")
    rng = np.random.default_rng(21 + len(flags))
    codes = np.arange(256, dtype=np.uint8).view(dt)
    a, b = (v.reshape(1, -1) for v in np.meshgrid(codes, codes))
    for trial in range(3):
        (za, sa), (zb, sb), (zc, sc) = _q(rng, dt), _q(rng, dt), _q(rng, dt)
        model = _model(op, a.shape, dt, dict(sa=sa, za=za, b=np.ascontiguousarray(b), sb=sb, zb=zb, sc=sc, zc=zc),
                       ["x", "sa", "za", "b", "sb", "zb", "sc", "zc"], {}, domain=MS)
        model.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TYPES[np.dtype(dt)], ["n", "k"]))
        path = tmp_path / f"{op}{trial}.onnx"
        onnx.save(model, str(path))
        byo.compile_cmd(path, tmp_path / f"c{trial}", name="k", echo=lambda *a: None)
        np.save(tmp_path / "x.npy", np.ascontiguousarray(a))
        report = byo.verify_cmd(path, tmp_path / f"c{trial}", inputs=tmp_path / "x.npy", flags=flags,
                                echo=lambda *a: None)
        assert report["identical"] == 1
