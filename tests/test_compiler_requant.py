"""The requant staircase, exhaustively: for a few multipliers, every accumulator value from below the
first step to above the last one goes through ORT's QLinearConv, the numpy float and integer
emulations (requant.py) and the generated C le_requant of both paths; all must agree exactly.

ORT is fed acc = x + B[c] by a 1x1 QLinearConv with weight 1: x runs over all 256 int8 codes along
the width and each output channel c shifts the window by 256 through its bias.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

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


def ort_staircase(sx, sw, sy, zp, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """acc in [lo, hi] (lo = base - 128, 256 per channel) -> ORT's int8 codes."""
    channels = (hi - lo + 256) // 256
    bias = (lo + 128 + 256 * np.arange(channels)).astype(np.int32)
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


def acc_range(m: np.float32, zp: int) -> tuple[int, int]:
    """Accumulators covering the whole staircase plus a margin of clamped values on both sides."""
    reach = int(np.ceil(300 / float(m)))
    return max(-reach, -requant.ACC_LIMIT), min(reach, requant.ACC_LIMIT)


@pytest.fixture(scope="module")
def c_requant(tmp_path_factory):
    """Executables that print le_requant(acc) of the generated C for acc = lo..hi (float, int path)."""
    require_tool("cc")
    tmp = tmp_path_factory.mktemp("rq")
    (tmp / "lenet5_int8.onnx").write_bytes(paper_model(0))
    export_c_cmd(tmp / "lenet5_int8.onnx", tmp / "c")
    harness = tmp / "harness.c"
    harness.write_text(
        '#include <stdio.h>\n#include <stdlib.h>\n#include "lenet5.c"\n'
        "int main(int argc, char **argv)\n{\n"
        "    long acc, lo = strtol(argv[1], 0, 10), hi = strtol(argv[2], 0, 10);\n"
        "    int32_t zp = (int32_t)strtol(argv[3], 0, 10);\n    le_rq_t rq;\n    (void)argc;\n"
        "#if LENET5_REQUANT_INT\n    rq.m = (uint32_t)strtoul(argv[5], 0, 10);\n"
        "    rq.e = (int32_t)strtol(argv[6], 0, 10);\n#else\n    rq = (uint32_t)strtoul(argv[4], 0, 10);\n#endif\n"
        "    for (acc = lo; acc <= hi; ++acc) {\n        putchar((unsigned char)le_requant((int32_t)acc, rq, zp));\n    }\n"
        "    return 0;\n}\n")
    exes = {}
    for path, flags in (("float", []), ("int", ["-DLENET5_INT_REQUANT"])):
        exes[path] = hostbuild.compile_c([harness, tmp / "c" / "lenet5_weights.c"], tmp / f"rq_{path}",
                                         [*flags, f"-I{tmp / 'c'}"])
    return exes


@pytest.mark.parametrize("case", CASES, ids=[f"M{i}" for i in range(len(CASES))])
def test_staircase_exhaustive(case, c_requant):
    sx, sw, sy, zp = case
    m = requant.multipliers(sx, np.array([sw], np.float32), sy)
    mant, shift = requant.split(m)
    lo, hi = acc_range(m[0], zp)
    acc, want = ort_staircase(sx, sw, sy, zp, lo, hi)
    assert len(np.unique(want)) > 200                  # the range covers the staircase
    np.testing.assert_array_equal(requant.requant_float(acc, m, zp), want)
    np.testing.assert_array_equal(requant.requant_int(acc, mant, shift, zp), want)
    keep = (acc >= lo) & (acc <= hi)
    for path, exe in c_requant.items():
        out = subprocess.run([str(exe), str(lo), str(hi), str(zp), str(int(m.view(np.uint32)[0])),
                              str(int(mant[0])), str(int(shift[0]))], capture_output=True, check=True).stdout
        got = np.frombuffer(out, np.int8)
        bad = np.flatnonzero(got != want[keep])
        assert not len(bad), (f"{path} path: acc {acc[keep][bad[0]]}: got {got[bad[0]]}, want {want[keep][bad[0]]}"
                              f" ({len(bad)} differ)")


def test_int_path_far_accumulators():
    """Near the 2^24 bound, and exact ties at the tiniest multipliers, the integer replay equals the
    float32 computation (numpy float32 is IEEE binary32, as ORT is)."""
    rng = np.random.default_rng(0)
    for m in np.array([0.25, 1 / 3, 2.0**-20, 1.5 * 2**-12, 0.999, 3.7e-5], np.float32):
        acc = np.concatenate([rng.integers(-2**24, 2**24 + 1, 20000), np.arange(-2**24, -2**24 + 500),
                              np.arange(2**24 - 500, 2**24 + 1)])
        for zp in (-128, 0, 99):
            mant, shift = requant.split(np.array([m]))
            np.testing.assert_array_equal(requant.requant_int(acc, mant, shift, zp),
                                          requant.requant_float(acc, np.array([m]), zp))
