"""The requant staircase acc -> q of one channel, against ONNX Runtime's QLinearConv, for the numpy
float and integer emulations (requant.py) and the generated C le_requant (wide = 0 and 1) of both
paths; all must agree exactly.

* Small accumulators (|acc| <= 2^24, where float(acc) is exact): every accumulator value from below
  the first step to above the last one.
* Accumulators beyond 2^24 (a channel with a huge bias, as S2/S4 of a trained paper model get from
  a tiny weight scale): float(acc) itself rounds to 24 significant bits there, so the integer path
  must round |acc| first (le_requant with wide = 1). The staircase has up to 256 steps over ~10^9 values, so
  we compare 256-wide windows around every step instead: acc -> q is monotone for every
  implementation, so agreeing on each window (each holding one step) means agreeing everywhere.

ORT is fed acc = x + B[c] by a 1x1 QLinearConv with weight 1: x runs over all 256 int8 codes along
the width and each output channel c places its window with its bias.
"""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import require_tool
from lenet_edge.check import hostbuild, ort
from lenet_edge.compiler import export_c_cmd, requant
from onnx_builders import paper_model

# (x_scale, w_scale, y_scale, y_zero_point): tie-heavy exact multipliers and LeNet-like ones
CASES = [
    (0.5, 0.5, 1.0, 0),                 # M = 0.25: every 4th acc is a tie
    (1.0, 1.0, 3.0, 5),                 # M = 1/3
    (1 / 74, 0.0123, 0.0417, 0),        # paper conv -> squash input
    (0.005, 0.0031, 0.0219, -128),      # modern conv with folded ReLU
    (1 / 74, 0.0004, 0.0121, -17),
]
# Multipliers whose steps lie beyond 2^24 (up to the int32 limit)
WIDE_CASES = [
    (2.0**-10, 2.0**-10, 32.0, 0),      # M = 2^-25: steps at odd multiples of 2^24, all exact ties
    (2.0**-10, 2.0**-10, 32.0, -128),   # the same staircase shifted by the zero point
    (1.0, 1.0, 3 * 2.0**23, 7),         # M = 1/3 * 2^-23
    (1.0, 3.0, 2.0**26, 0),             # M = 3 * 2^-26: exact ties
    (1 / 74, 1.2e-5 / 127, 0.0151, 0),  # a trained paper S4 channel with a tiny coefficient
    (1 / 74, 4.7e-6 / 127, 0.0093, -40),
]
INT32_MIN1, INT32_MAX = -2**31 + 1, 2**31 - 1      # |acc| <= 2^31 - 1 (checked per layer)


def ort_requant(sx, sw, sy, zp, centres) -> tuple[np.ndarray, np.ndarray]:
    """ORT's codes for acc in the 256-wide windows [c - 128, c + 127] for every c in centres
    -> (acc, codes), both flat."""
    bias = np.asarray(centres, np.int64).astype(np.int32)
    channels = len(bias)
    inits = [numpy_helper.from_array(np.array(sx, np.float32), "sx"),
             numpy_helper.from_array(np.array(0, np.int8), "zx"),
             numpy_helper.from_array(np.ones((channels, 1, 1, 1), np.int8), "w"),
             numpy_helper.from_array(np.full(channels, sw, np.float32), "sw"),
             numpy_helper.from_array(np.zeros(channels, np.int8), "zw"),
             numpy_helper.from_array(np.array(sy, np.float32), "sy"),
             numpy_helper.from_array(np.array(zp, np.int8), "zy"),
             numpy_helper.from_array(bias, "b")]
    node = helper.make_node("QLinearConv", ["x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "b"], ["y"], name="conv")
    g = helper.make_graph([node], "staircase", [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 1, 1, 256])],
                          [helper.make_tensor_value_info("y", TensorProto.INT8, [1, channels, 1, 256])], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 1, 1, 256)
    (y,) = ort.run_in_memory(m, {"x": x})
    acc = (bias.astype(np.int64)[:, None] + np.arange(-128, 128)[None, :]).reshape(-1)
    return acc, y.reshape(-1)


def ort_staircase(sx, sw, sy, zp, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """acc in [lo, hi] (lo = base - 128, 256 per channel) -> ORT's int8 codes."""
    return ort_requant(sx, sw, sy, zp, lo + 128 + 256 * np.arange((hi - lo + 256) // 256))


def acc_range(m: np.float32, zp: int) -> tuple[int, int]:
    """Accumulators covering the whole staircase plus a margin of clamped values on both sides."""
    reach = int(np.ceil(300 / float(m)))
    return max(-reach, -requant.FLOAT_EXACT), min(reach, requant.FLOAT_EXACT)


def step_positions(m: np.ndarray, zp: int) -> np.ndarray:
    """Every acc in [-(2^31 - 1), 2^31 - 1] where requant_float(acc) rises (the first acc of each new
    code), found by bisection on the monotone float emulation; int64 [steps]."""
    codes = np.arange(-127, 128)
    f = lambda a: requant.requant_float(a[:, None], m, zp)[:, 0].astype(np.int64)   # noqa: E731
    lo = np.full(len(codes), INT32_MIN1, np.int64)          # invariant: f(lo) < code <= f(hi)
    hi = np.full(len(codes), INT32_MAX, np.int64)
    keep = (f(lo) < codes) & (f(hi) >= codes)
    lo, hi = lo[keep], hi[keep]
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        up = f(mid) >= codes[keep]
        hi, lo = np.where(up, mid, hi), np.where(up, lo, mid)
    return hi


@pytest.fixture(scope="module")
def c_requant(tmp_path_factory):
    """Executables running le_requant (wide = 0 or 1) of the generated C over int32 accumulators
    read from stdin, one int8 code out per value; keys 'float' and 'int' (requant path). The C comes
    from a paper model whose s4 is wide."""
    require_tool("cc")
    tmp = tmp_path_factory.mktemp("rq")
    (tmp / "lenet5_int8.onnx").write_bytes(paper_model(0, wide_s4=True))
    export_c_cmd(tmp / "lenet5_int8.onnx", tmp / "c")
    assert "le_requant(int32_t acc, le_rq_t rq, int32_t zp, int wide)" in (tmp / "c" / "lenet5.c").read_text()
    harness = tmp / "harness.c"
    harness.write_text(
        '#include <stdio.h>\n#include <stdlib.h>\n#include "lenet5.c"\n'
        "int main(int argc, char **argv)\n{\n"
        "    int32_t acc;\n    int32_t zp = (int32_t)strtol(argv[1], 0, 10);\n"
        "    int wide = argv[5][0] == 'w';\n    le_rq_t rq;\n    (void)argc;\n"
        "#if LENET5_REQUANT_INT\n    rq.r = (int64_t)strtoll(argv[argc > 6 ? 7 : 3], 0, 10);\n"
        "    rq.a = argc > 6 ? (int32_t)strtol(argv[6], 0, 10) : 0;\n"
        "    rq.sh = (int32_t)strtol(argv[argc > 6 ? 8 : 4], 0, 10);\n#else\n    rq = (uint32_t)strtoul(argv[2], 0, 10);\n#endif\n"
        "    while (fread(&acc, sizeof acc, 1, stdin) == 1) {\n"
        "        putchar((unsigned char)le_requant(acc, rq, zp, wide));\n"
        "    }\n    return 0;\n}\n")
    exes = {}
    for path, flags in (("float", []), ("int", ["-DLENET5_INT_REQUANT"])):
        exes[path] = hostbuild.compile_c([harness, tmp / "c" / "lenet5_weights.c"], tmp / f"rq_{path}",
                                         [*flags, f"-I{tmp / 'c'}"])
    return exes


def run_c(exe, acc: np.ndarray, m: np.ndarray, zp: int, variant: str, fast=()) -> np.ndarray:
    """fast = (a, r, sh): the integer path's fast constants (else a = 0: the §3b replay)."""
    mant, shift = requant.split(m)
    out = subprocess.run([str(exe), str(zp), str(int(m.view(np.uint32)[0])), str(int(mant[0])),
                          str(int(shift[0])), variant, *[str(int(v)) for v in fast]],
                         input=acc.astype(np.int32).tobytes(),
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, np.int8)


def assert_same(what: str, acc: np.ndarray, got: np.ndarray, want: np.ndarray) -> None:
    bad = np.flatnonzero(got != want)
    assert not len(bad), f"{what}: acc {acc[bad[0]]}: got {got[bad[0]]}, want {want[bad[0]]} ({len(bad)} differ)"


@pytest.mark.parametrize("case", CASES, ids=[f"M{i}" for i in range(len(CASES))])
def test_staircase_exhaustive(case, c_requant):
    sx, sw, sy, zp = case
    m = requant.multipliers(sx, np.array([sw], np.float32), sy)
    mant, shift = requant.split(m)
    lo, hi = acc_range(m[0], zp)
    acc, want = ort_staircase(sx, sw, sy, zp, lo, hi)
    assert len(np.unique(want)) > 200                  # the range covers the staircase
    assert_same("numpy float", acc, requant.requant_float(acc, m, zp), want)
    for wide in (False, True):
        assert_same(f"numpy int wide={wide}", acc, requant.requant_int(acc, mant, shift, zp, wide), want)
    keep = (acc >= lo) & (acc <= hi)
    for path, exe in c_requant.items():
        for variant in ("narrow", "wide"):
            assert_same(f"C {path} path, {variant}", acc[keep], run_c(exe, acc[keep], m, zp, variant), want[keep])


@pytest.mark.parametrize("case", WIDE_CASES, ids=[f"W{i}" for i in range(len(WIDE_CASES))])
def test_staircase_steps_beyond_2_24(case, c_requant):
    """A window of 256 accumulators around every step of the staircase up to |acc| = 2^31 - 1."""
    sx, sw, sy, zp = case
    m = requant.multipliers(sx, np.array([sw], np.float32), sy)
    mant, shift = requant.split(m)
    steps = step_positions(m, zp)
    assert np.abs(steps).max() > 4 * requant.FLOAT_EXACT      # the case reaches far beyond 2^24
    centres = np.clip(steps, INT32_MIN1 + 128, INT32_MAX - 127)
    acc, want = ort_requant(sx, sw, sy, zp, centres)
    windows = want.reshape(len(centres), 256).astype(int)
    assert np.all(windows[:, -1] > windows[:, 0]), "a window holds no ORT step: ORT's steps moved"
    assert_same("numpy float", acc, requant.requant_float(acc, m, zp), want)
    assert_same("numpy int (wide)", acc, requant.requant_int(acc, mant, shift, zp, wide=True), want)
    for path, exe in c_requant.items():
        assert_same(f"C {path} path, wide", acc, run_c(exe, acc, m, zp, "wide"), want)
    if mant[0] != 2**23:   # (for M = 2^k rounding the product rounds |acc| the same way)
        # without rounding |acc| to 24 bits first, the integer path gets other codes beyond 2^24
        far = np.abs(acc) > requant.FLOAT_EXACT
        narrow = requant.requant_int(acc, mant, shift, zp, wide=False)
        assert np.any(narrow[far] != want[far])
        assert np.any(run_c(c_requant["int"], acc, m, zp, "narrow")[far] != want[far])


def test_int_path_far_accumulators():
    """Near 2^24, over the whole int32 range (wide) and with exact ties at the tiniest multipliers,
    the integer replay equals the float32 computation (numpy float32 is IEEE binary32, as ORT is)."""
    rng = np.random.default_rng(0)
    near = np.concatenate([rng.integers(-2**24, 2**24 + 1, 20000), np.arange(-2**24, -2**24 + 500),
                           np.arange(2**24 - 500, 2**24 + 1)])
    edges = np.array([int(c * 2**p) for p in range(24, 31) for c in (1, 1.25, 1.5, 1.75)], np.int64)
    far = np.concatenate([rng.integers(INT32_MIN1, INT32_MAX + 1, 20000), np.arange(INT32_MAX - 300, INT32_MAX + 1),
                          np.arange(INT32_MIN1, INT32_MIN1 + 300), (edges[:, None] + np.arange(-9, 10)).ravel(),
                          -(edges[:, None] + np.arange(-9, 10)).ravel()])
    for m in np.array([0.25, 1 / 3, 2.0**-20, 1.5 * 2**-12, 0.999, 3.7e-5, 6.7e-7, 2.0**-25], np.float32):
        mant, shift = requant.split(np.array([m]))
        for zp in (-128, 0, 99):
            for wide in (False, True):
                np.testing.assert_array_equal(requant.requant_int(near, mant, shift, zp, wide),
                                              requant.requant_float(near, np.array([m]), zp))
            np.testing.assert_array_equal(requant.requant_int(far, mant, shift, zp, wide=True),
                                          requant.requant_float(far, np.array([m]), zp))


def test_fast_int_requant_at_every_step(c_requant, tmp_path):
    """The fast integer constants (requant.fast_constants) of every channel of a paper model with
    realistic scales (and a wide S4) equal ORT in a 256-wide window around every step of the
    staircase on the layer's accumulator range, in numpy and in the generated C; most channels get
    them (the others keep the exact replay)."""
    from lenet_edge.compiler import frontend
    from lenet_edge.compiler.ops import Conv
    (tmp_path / "m.onnx").write_bytes(paper_model(0, wide_s4=True))
    graph = frontend.load_graph(tmp_path / "m.onnx")
    n_fast = n_all = 0
    for layer in (lay for lay in graph.ops if isinstance(lay, Conv)):
        rq = requant.conv_requant(layer)
        steps, valid, _ = requant.staircase_steps(rq.mant, rq.shift, layer.y_zp, -rq.acc_bound, rq.acc_bound, rq.wide)
        n_all += len(rq.mant)
        for c in np.flatnonzero(rq.fast_a):
            n_fast += 1
            sw = np.float32(np.asarray(layer.w_scale, np.float32).reshape(-1)[c])
            centres = np.clip(np.append(steps[c][valid[c]], [-rq.acc_bound, rq.acc_bound]),
                              -rq.acc_bound + 128, rq.acc_bound - 127)
            acc, want = ort_requant(layer.x_scale, sw, layer.y_scale, layer.y_zp, centres)
            one = lambda v: np.full(acc.shape, v)    # noqa: E731
            assert_same(f"{layer.node}[{c}] numpy fast", acc,
                        requant.requant_fast(acc, one(rq.fast_a[c]), one(rq.fast_r[c]), one(rq.fast_sh[c]),
                                             layer.y_zp), want)
            fast = (rq.fast_a[c], rq.fast_r[c], rq.fast_sh[c])
            variant = "wide" if rq.wide else "narrow"
            assert_same(f"{layer.node}[{c}] C fast", acc,
                        run_c(c_requant["int"], acc, rq.multiplier[c:c + 1], layer.y_zp, variant, fast), want)
    assert n_fast >= 0.9 * n_all, f"only {n_fast} of {n_all} channels have fast constants"
