"""Op-level tests of the compiled C kernels: one-node int8 graphs with random shapes, scales and
zero points (groups, depthwise, dilations, asymmetric pads, strides, pooling pads, count_include_pad,
per-channel broadcasts in NCHW and NHWC, one-element operands) go through `lenet-edge compile`
and must match ONNX Runtime bit for bit on random inputs (`verify --random`)."""
from __future__ import annotations

from pathlib import Path

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
        for flags in ([], ["-DLE_INT_REQUANT"]):    # float requant, and the integer one of FPU-less cores
            report = byo.verify_cmd(path, tmp_path / kernels, random=400, flags=flags, echo=lambda *a: None)
            assert report["identical"] == 400, (kernels, flags)


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


REQUANT_HARNESS = r"""
#include <stdio.h>
#define LE_INT_REQUANT 1
#include "le_byo.h"

static uint64_t state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state; }

/* ORT's float steps (what the float build of the kernels computes) */
static int32_t float_steps(int32_t acc, uint32_t mbits, int32_t zy, int32_t lo, int32_t hi)
{
    return le_rne_clamp(le_round32((float)acc * le_f32_from_bits(mbits)), (float)(lo - zy), (float)(hi - zy)) + zy;
}

static long bad, inside, ties, wide, wide_ties;
static void check(int32_t acc, uint32_t mbits, int32_t zy, int32_t lo, int32_t hi)
{
    const le_rq_t rq = le_rq_make(mbits, zy, lo, hi);
    const int32_t want = float_steps(acc, mbits, zy, lo, hi), got = le_requant(acc, &rq);
    const float v = le_round32((float)acc * le_f32_from_bits(mbits));
    if (got != want && bad++ < 5) printf("acc %ld M 0x%08lx zy %ld: integer %ld float %ld\n", (long)acc,
                                         (unsigned long)mbits, (long)zy, (long)got, (long)want);
    inside += want > lo && want < hi;
    ties += fabsf(v - truncf(v)) == 0.5f && v > (float)(lo - zy) && v < (float)(hi - zy);
    wide += (acc > (1 << 24) || acc < -(1 << 24)) && want > lo && want < hi;
    wide_ties += (acc > (1 << 24) || acc < -(1 << 24)) && fabsf(v - truncf(v)) == 0.5f && want > lo && want < hi;
}

int main(void)
{
    static const int32_t edges[] = {0, 1, -1, 2, 3, 127, 255, 16777215, 16777216, 16777217, 16777219, 33554433,
                                    2147483647, -2147483647 - 1, -16777217, -16777219, 1073741825};
    long i;
    int k;
    for (i = 0; i < 4000000; ++i) {
        const int u8 = (int)(i & 1);
        const int32_t lo = u8 ? 0 : -128, hi = u8 ? 255 : 127;
        int32_t zy = lo + (int32_t)(rnd() % 256);
        int32_t acc = (int32_t)(uint32_t)rnd() >> (rnd() % 31);
        /* M: a random significand, the exponent spread so |acc * M| lands around the code range */
        uint32_t mbits;
        switch (rnd() % 5) {
        case 0:   /* any normal M in 2^-40 .. 2^4 */
            mbits = (uint32_t)((127 - 40 + rnd() % 45) << 23) | (uint32_t)(rnd() & 0x7FFFFF);
            break;
        case 1: { /* |acc * M| near 0..300: exercises rounding and ties after the 24-bit product */
            const int bits = acc ? 32 - __builtin_clz((uint32_t)(acc < 0 ? -(int64_t)acc : acc)) : 1;
            mbits = (uint32_t)((127 - bits + (int)(rnd() % 10)) << 23) | (uint32_t)(rnd() & 0x7FFFFF);
            break;
        }
        case 2: { /* exact ties: acc = a * 2^s, significand = b * 2^z (a, b odd), M's exponent such
                   * that acc * M = a * b / 2, a * b < 400 */
            const int sh = (int)(rnd() % 16);
            const uint32_t sig = 0x800000u | (uint32_t)((rnd() % 64) << 17);
            const int z = __builtin_ctz(sig);
            acc = (int32_t)(((rnd() % 4) | 1) << sh) * ((rnd() & 1) ? 1 : -1);
            mbits = (uint32_t)(149 - sh - z) << 23 | (sig & 0x7FFFFFu);
            break;
        }
        case 3: { /* float(acc) rounds up across a tie: acc = A * 2^d + r, 2^(d-1) < r < 2^d, so
                   * float(acc) = (A + 1) * 2^d; M = 2^-(d + 16) makes (A + 1) * 2^-16 = n + 1/2 with n
                   * odd: RNE gives n + 1, where float(acc) rounded down would give n */
            const int d = 1 + (int)(rnd() % 7);
            const uint32_t n = 129u + 2u * (uint32_t)(rnd() % 60), a = (2u * n + 1u) << 15;  /* A + 1 */
            acc = (int32_t)(((a - 1u) << d) + (1u << (d - 1)) + (uint32_t)(rnd() % ((1u << (d - 1)) - (d > 1))) + (d > 1));
            acc = (rnd() & 1) ? acc : -acc;
            zy = acc < 0 ? hi : lo;          /* n + 1 <= 255 = |the bound on that side| */
            mbits = (uint32_t)(127 - d - 16) << 23;
            break;
        }
        default:  /* subnormal, zero and huge multipliers */
            mbits = (rnd() & 1) ? (uint32_t)(rnd() & 0x7FFFFF) : (uint32_t)((127 + 5 + rnd() % 100) << 23);
        }
        check(acc, mbits, zy, lo, hi);
        for (k = 0; k < (int)(sizeof edges / sizeof edges[0]) && i < 20000; ++k) {
            check(edges[k], mbits, zy, lo, hi);
            if (edges[k] != -2147483647 - 1) check(-edges[k], mbits, zy, lo, hi);
        }
    }
    printf("bad %ld inside %ld ties %ld wide %ld wide_ties %ld\n", bad, inside, ties, wide, wide_ties);
    return bad != 0;
}
"""


def test_integer_requant_equals_the_float_steps(tmp_path):
    """le_requant with LE_INT_REQUANT (the default on FPU-less cores) against the float steps, on
    4 million (acc, M, zy) draws for s8 and u8: accumulators beyond 2^24 (float(acc) rounds, also
    across a tie of the final rounding), exact ties, subnormal, zero and huge multipliers, INT32_MIN. Every result equal; the draws are
    not all saturated, and they include ties and wide accumulators inside the range."""
    import re
    import subprocess

    cc = require_tool("cc")
    src = tmp_path / "rq.c"
    src.write_text(REQUANT_HARNESS)
    kernels = Path(byo.__file__).resolve().parents[2] / "kernels" / "byo"
    exe = tmp_path / "rq"
    for opt in ("-O0", "-O2"):
        build = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", opt, f"-I{kernels}", f"-I{kernels.parent}", str(src), "-o",
                                str(exe), "-lm"], capture_output=True, text=True, timeout=120)
        assert build.returncode == 0, build.stderr
        run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stdout
        n = dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", run.stdout.splitlines()[-1]))
        assert n["bad"] == 0 and n["inside"] > 1_000_000 and n["ties"] > 100_000 and n["wide"] > 10_000, n
        assert n["wide_ties"] > 100_000, n


@pytest.mark.parametrize("flags, expected", [
    (["-mcpu=cortex-m3", "-mthumb"], "1"),
    (["-mcpu=cortex-m0", "-mthumb"], "1"),
    (["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"], "0"),
    (["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=softfp", "-mfpu=fpv4-sp-d16"], "0"),
    (["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft"], "1"),
])
def test_integer_requant_is_the_default_without_an_fpu(tmp_path, flags, expected):
    import subprocess

    gcc = require_tool("arm-none-eabi-gcc")
    kernels = Path(byo.__file__).resolve().parents[2] / "kernels" / "byo"
    src = tmp_path / "probe.c"
    src.write_text('#include "le_byo.h"\nint le_probe = LE_INT_REQUANT;\n')
    out = subprocess.run([gcc, *flags, f"-I{kernels}", f"-I{kernels.parent}", "-E", str(src)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"int le_probe = {expected};" in out.stdout
