"""Op-level kernel tests: every kernel of both sets (kernels/ref, kernels/opt) on random shapes,
including the remainders the optimized loops leave (widths and channel counts that are not
multiples of the unroll), must give the numpy reference of its op unit bit for bit.

Each case is an IR layer built directly (random weights and scales), so the arrays, the call and the
expected output all come from the op unit itself (pack, call, reference). The cases are printed into
one C file per kernel set, which runs
  - on the host (gcc: portable paths, both requant paths), and
  - on an emulated Cortex-M4 (ARMv7E-M: the __ARM_FEATURE_DSP paths, SMLAD / SXTB16) and
    Cortex-M3 (the portable paths built for a core without DSP) in unicorn, op by op.
"""
from __future__ import annotations

import dataclasses
import subprocess

import numpy as np
import pytest

from conftest import require_tool
from lenet_edge.check import hostbuild
from lenet_edge.compiler import emit, ir
from lenet_edge.compiler.ops import (Arg, Conv, ConvMaxPool, ConvSubsample, Dense, Flatten, ImageConvSubsample, InputTable,
                                    MaxPool, Pad, Rbf, Table)

OUT_BYTES = 64 * 1024


def _conv(rng, name, in_shape, c_out, k, stride=1, group=1, mask=None, wide=False):
    c_in = in_shape[0]
    w = rng.integers(-127, 128, (c_out, c_in // group, k, k)).astype(np.int8)
    if mask is not None:
        w = (w * mask[:, :, None, None]).astype(np.int8)
    fan_in = (c_in // group) * k * k
    w_scale = rng.uniform(0.005, 0.02, c_out).astype(np.float32)
    x_scale = np.float32(1 / 64)
    m = 40 / (np.sqrt(fan_in) * 70 * 70)                 # acc * M spans about +-40 codes
    y_scale = np.float32(x_scale * np.float32(0.01) / np.float32(m))
    bias = rng.integers(-3000, 3000, c_out).astype(np.int32)
    if wide:  # a tiny weight scale makes the bias huge: |acc| beyond 2^24
        bias = (bias.astype(np.int64) * 9000).clip(-2**30, 2**30).astype(np.int32)
        w_scale = (w_scale / 9000).astype(np.float32)
    out = (c_out, (in_shape[1] - k) // stride + 1, (in_shape[2] - k) // stride + 1)
    return Conv(node=name, tensor=name, in_shape=in_shape, out_shape=out, weight=w, bias=bias,
                x_scale=x_scale, x_zp=int(rng.integers(-20, 20)), w_scale=w_scale, y_scale=y_scale,
                y_zp=int(rng.integers(-30, 30)), kernel=k, stride=stride, group=group)


def _fused(rng, name, in_shape, c_out, k, mask=None, wide=False):
    conv = _conv(rng, name + "_c", in_shape, c_out, k, mask=mask)
    t1 = Table(node=name + "_t1", tensor=name + "_t1", in_shape=conv.out_shape, out_shape=conv.out_shape,
               table=rng.integers(-128, 128, 256).astype(np.int8))
    sub = _conv(rng, name + "_s", conv.out_shape, c_out, 2, stride=2, group=c_out, wide=wide)
    t2 = Table(node=name, tensor=name, in_shape=sub.out_shape, out_shape=sub.out_shape,
               table=rng.integers(-128, 128, 256).astype(np.int8))
    assert ConvSubsample.matches(conv, t1, sub, t2)
    return ConvSubsample.of(conv, t1, sub, t2)


def _fused_extreme(rng, name, n_in):
    """C3-like fused layer at the edge of the opt portable path's column-pair sums (le_cs_window5_pairs,
    exact for <= 10 kernels per channel): every input byte is -128, channel 0's weights are all -128
    (conv sums +n_in * 25 * 2^14) and channel 1's all +127 (the most negative sums); the requant scale
    keeps those sums inside the int8 range, so a wrong low field would show in the output."""
    fused = _fused(rng, name, (n_in, 8, 9), 2, 5)
    conv = fused.conv
    w = np.empty_like(conv.weight)
    w[0], w[1] = -128, 127
    y_scale = np.float32(conv.x_scale * np.float32(0.01) * n_in * 25 * 2**14 / 100)   # sums -> about +-100
    conv = dataclasses.replace(conv, weight=w, bias=np.zeros(2, np.int32), x_zp=0, w_scale=np.full(2, 0.01, np.float32),
                               y_scale=y_scale, y_zp=0)
    return dataclasses.replace(fused, conv=conv)


def _fused_zp0(rng, name, in_shape, c_out, mask=None, wide=False):
    """C3-like fused layer with both output zero points 0, as LeNet-5's C3: on the Cortex-M4F/M7 the
    window path's tail is then one asm block (le_subsample_out_vcvtr_z)."""
    f = _fused(rng, name, in_shape, c_out, 5, mask=mask, wide=wide)
    conv, sub = dataclasses.replace(f.conv, y_zp=0), dataclasses.replace(f.sub, y_zp=0)
    assert ConvSubsample.matches(conv, f.table, sub, f.stable)
    return ConvSubsample.of(conv, f.table, sub, f.stable)


def _maxpooled(rng, name, in_shape, c_out, k):
    conv = _conv(rng, name + "_c", in_shape, c_out, k)
    c, h, w = conv.out_shape
    pool = MaxPool(node=name, tensor=name, in_shape=conv.out_shape, out_shape=(c, h // 2, w // 2))
    assert ConvMaxPool.matches(conv, pool)
    return ConvMaxPool.of(conv, pool)


def _image_fused(rng, name, img, c_out, k, pads, mask=None):
    itable = InputTable(node=name + "_it", tensor=name + "_it", in_shape=(1, *img), out_shape=(1, *img),
                        table=rng.integers(-128, 128, 256).astype(np.int8))
    t, l_, b, r = pads
    padded = (1, img[0] + t + b, img[1] + l_ + r)
    pad = Pad(node=name + "_pad", tensor=name + "_pad", in_shape=itable.out_shape, out_shape=padded, pads=pads,
              value=int(rng.integers(-128, 128)))
    cs = _fused(rng, name, padded, c_out, k, mask=mask)
    assert ImageConvSubsample.matches(itable, pad, cs)
    return ImageConvSubsample.of(itable, pad, cs)


def make_cases(seed: int = 0) -> list[tuple[ir.Layer, np.ndarray]]:
    """(layer, input) pairs covering every kernel and the unroll remainders."""
    rng = np.random.default_rng(seed)
    x8 = lambda *s: rng.integers(-128, 128, s).astype(np.int8)     # noqa: E731
    table = rng.integers(-128, 128, 256).astype(np.int8)
    mask = (rng.random((7, 5)) < 0.6).astype(np.int8)
    mask[0] = 0                                        # an output channel with no kernel at all
    # every channel with a kernel (the M4 window path's kstep is only made then): channel 0 reads
    # only the last map, so the kernel loop steps back to map 0 and forward past gaps
    mask_all = mask.copy()
    mask_all[0] = [0, 0, 0, 0, 1]
    cases = [
        (InputTable(node="itab", tensor="itab", in_shape=(1, 9, 7), out_shape=(1, 9, 7), table=table),
         rng.integers(0, 256, (1, 9, 7)).astype(np.uint8)),
        (Table(node="tab", tensor="tab", in_shape=(3, 5, 7), out_shape=(3, 5, 7), table=table), x8(3, 5, 7)),
        # le_table_s8 (opt) takes 4 codes per step: n % 4 = 1 above, 2, 3 and 0 here
        (Table(node="tab2", tensor="tab2", in_shape=(2, 3, 5), out_shape=(2, 3, 5), table=table), x8(2, 3, 5)),
        (Table(node="tab3", tensor="tab3", in_shape=(1, 1, 7), out_shape=(1, 1, 7), table=table), x8(1, 1, 7)),
        (Table(node="tab4", tensor="tab4", in_shape=(1, 16, 16), out_shape=(1, 16, 16), table=table),
         np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16)),
        (Pad(node="pad", tensor="pad", in_shape=(2, 5, 6), out_shape=(2, 8, 10), pads=(1, 3, 2, 1), value=-7),
         x8(2, 5, 6)),
        (MaxPool(node="mp", tensor="mp", in_shape=(3, 9, 11), out_shape=(3, 4, 5), kernel=2, stride=2), x8(3, 9, 11)),
        (MaxPool(node="mp3", tensor="mp3", in_shape=(2, 9, 9), out_shape=(2, 7, 7), kernel=3, stride=1), x8(2, 9, 9)),
        (_conv(rng, "c5x5", (2, 11, 13), 3, 5), None),              # dense, out_w 9: 2 blocks + 1
        (_conv(rng, "c5x5w", (1, 12, 14), 2, 5, wide=True), None),  # dense, wide requant
        (_conv(rng, "c3s2", (3, 9, 10), 5, 3, stride=2), None),     # dense generic k, stride
        (_conv(rng, "c1x1", (5, 3, 6), 7, 1), None),                # 1x1
        (_conv(rng, "dw2s2", (3, 11, 13), 6, 2, stride=2, group=3), None),           # sparse depthwise
        (_conv(rng, "dw2s2w", (2, 10, 10), 2, 2, stride=2, group=2, wide=True), None),
        (_conv(rng, "masked", (5, 9, 10), 7, 5, mask=mask), None),  # sparse, masked connections
        (_conv(rng, "dot", (3, 3, 3), 7, 3), None),                 # dot: n 27, out_c 7
        (_fused(rng, "cs5", (1, 16, 18), 3, 5), None),              # C1-like, even conv output 12x14
        (_fused(rng, "cs5m", (5, 12, 11), 7, 5, mask=mask, wide=True), None),   # C3-like, odd width 7
        (_fused_zp0(rng, "cs5z", (5, 12, 11), 7, mask=mask, wide=True), None),   # C3-like, zero points 0
        (_fused_zp0(rng, "cs5z6", (6, 14, 14), 16), None),         # LeNet-5's C3 shape, zero points 0
        (_fused(rng, "cs5k", (5, 12, 11), 7, 5, mask=mask_all, wide=True), None),   # M4 window path, zero points
        (_fused_zp0(rng, "cs5zk", (5, 12, 11), 7, mask=mask_all), None),          # M4 window path, asm tail
        (_fused(rng, "cs3", (2, 9, 9), 3, 3), None),                # generic k
        (_image_fused(rng, "ics5", (12, 13), 3, 5, (2, 1, 2, 3)), None),   # C1-like from a uint8 image
        (_fused_extreme(rng, "cs5x10", 10), np.full((10, 8, 9), -128, np.int8)),   # pair sums at their bound
        (_fused_extreme(rng, "cs5x11", 11), np.full((11, 8, 9), -128, np.int8)),   # > 10 kernels: plain sums
        (_maxpooled(rng, "cm5", (3, 12, 11), 5, 5), None),           # modern C3-like, odd conv width
        (_maxpooled(rng, "cm3", (2, 8, 9), 3, 3), None),
        # the x86 SSE2 path (kernels/opt/le_conv_sse2.h): bands of <= 5 output rows, 4 conv columns
        # per vector; these add a band remainder, lane remainders, an even k and widths past its
        # 32 conv columns (the portable path on every host)
        (_maxpooled(rng, "cm5t", (2, 27, 14), 3, 5), None),        # pooled 11x5: bands 5 + 5 + 1, odd conv height
        (_fused(rng, "cs4", (2, 11, 13), 3, 4), None),               # k 4: conv 8x10 -> 4x5
        (_fused(rng, "cs5wide", (2, 6, 38), 2, 5), None),            # conv width 34 > 32: not SSE2
        (_maxpooled(rng, "cm5wide", (1, 7, 40), 2, 5), None),        # pooled width 18 > 16: not SSE2
        (_image_fused(rng, "ics3", (9, 8), 2, 3, (0, 1, 1, 0)), None),
        # le_conv_subsample_u8 on x86 (SSE2 bands of the translated image): the modern C1 (28x28
        # image, pad 2: 3 bands, 7 lane groups), exactly 32 conv columns with a pad past the image's
        # bottom and a channel without a kernel, and 34 (the portable path on every host)
        (_image_fused(rng, "ics5c1", (28, 28), 6, 5, (2, 2, 2, 2)), None),
        (_image_fused(rng, "ics5w32", (9, 33), 3, 5, (0, 3, 3, 0), mask=np.array([[1], [0], [1]], np.int8)), None),
        (_image_fused(rng, "ics5w34", (6, 36), 1, 5, (0, 1, 0, 1)), None),
        (_conv(rng, "dot2", (4, 5, 5), 9, 5), None),                # dot: n 100, out_c 9 (6 + 2 + 1)
        (_conv(rng, "dot3", (5, 2, 2), 8, 2), None),                # dot: n 20, out_c 8 (6 + 2)
        (_conv(rng, "dot4", (2, 3, 3), 13, 3), None),               # dot: n 18, out_c 13 (6 + 6 + 1)
        (_conv(rng, "dotw", (3, 3, 3), 8, 3, wide=True), None),     # dot: |acc| >= 2^23, no 64-bit pairs
        # the M4 block loop (le_dot6_smlad) runs 4 chunks of 4 inputs per pass, entering at its second
        # half for 4k + 2; an odd last chunk and the n % 4 last inputs run in C
        (_conv(rng, "dot0", (2, 1, 1), 7, 1), None),                # dot: n 2, no chunk at all
        (_conv(rng, "dot8", (2, 2, 2), 6, 2), None),                # dot: 2 chunks (4k + 2, k = 0)
        (_conv(rng, "dot24", (6, 2, 2), 12, 2), None),              # dot: 6 chunks (4 + 2), 2 blocks
        (_conv(rng, "dot28", (7, 2, 2), 6, 2), None),               # dot: 7 chunks (4 + 2 + 1)
        (_conv(rng, "dot30", (30, 1, 1), 7, 1), None),              # dot: 7 chunks + 2 inputs, 6 + 1
        (_conv(rng, "dot40", (10, 2, 2), 8, 2), None),              # dot: 10 chunks (8 + 2), 6 + 2
        (_conv(rng, "dot64", (4, 4, 4), 6, 4), None),               # dot: 16 chunks (4k)
        # zero point 0 and n % 8 == 0 (C5, F6): on the M4F/M7 the block requants in le_dot6_smlad
        (dataclasses.replace(_conv(rng, "dot64z", (4, 4, 4), 14, 4), y_zp=0), None),     # 6 + 6 + 2
        (dataclasses.replace(_conv(rng, "dot40zw", (10, 2, 2), 6, 2, wide=True), y_zp=0), None),  # 8 + 2, wide
        (Rbf(node="rbfb", tensor="rbfb", in_shape=(21,), out_shape=(3,),
             centres=np.where(rng.random((3, 21)) < 0.5, -74, 74).astype(np.int32)), x8(21)),
        (Rbf(node="rbfb84", tensor="rbfb84", in_shape=(84,), out_shape=(10,),        # the paper's head
             centres=np.where(rng.random((10, 84)) < 0.5, -74, 74).astype(np.int32)), x8(84)),
        (Rbf(node="rbfb602", tensor="rbfb602", in_shape=(602,), out_shape=(2,),      # > 128 nibbles + 2
             centres=np.where(rng.random((2, 602)) < 0.5, -9, 9).astype(np.int32)), x8(602)),
        (Rbf(node="rbf", tensor="rbf", in_shape=(13,), out_shape=(4,),
             centres=rng.integers(-300, 300, (4, 13)).astype(np.int32)), x8(13)),
        (Dense(node="dense", tensor="dense", in_shape=(23,), out_shape=(5,),
               weight=rng.integers(-127, 128, (23, 5)).astype(np.int8),
               bias=rng.integers(-9999, 9999, 5).astype(np.int32), a_zp=3), x8(23)),
        (Arg(node="amin", tensor="amin", in_shape=(7,), out_shape=(1,), mode="min"),
         np.array([5, -3, 9, -3, 0, 7, -2], np.int32)),
        (Arg(node="amax", tensor="amax", in_shape=(6,), out_shape=(1,), mode="max"),
         np.array([1, 8, 3, 8, -4, 0], np.int32)),
    ]
    def source(layer):
        if layer.in_dtype == "uint8":
            return rng.integers(0, 256, layer.in_shape).astype(np.uint8)
        return x8(*layer.in_shape)

    return [(layer, source(layer) if x is None else x) for layer, x in cases]


def test_cases_cover_every_kernel():
    """Every kernel has a reference file, every kernel file of both sets is exercised (a new kernel
    needs a case here), and kernels/opt holds only faster versions of reference kernels (a kernel
    it does not hold is taken from kernels/ref)."""
    calls = {layer.call(layer.pack(), ir.Ctx({}, {a.suffix: a.suffix for a in layer.pack().arrays}, "x", "y")).kernel
             for layer, _ in make_cases()}
    ref = {p.stem for p in (emit.kernel_dir() / "ref").glob("le_*.c")}
    opt = {p.stem for p in (emit.kernel_dir() / "opt").glob("le_*.c")}
    assert ref == calls
    assert opt <= ref and opt, opt - ref
    assert Flatten.call(Flatten("f", "f", (2, 2, 2), (8,)), ir.Packed(), None).kernel is None


def test_c3_kstep_walks_the_split_windows():
    """ops/conv_subsample.py's kstep, as the M4 kernel loop (le_cs_kernels5s) reads it: starting at
    the scratch's start, each step (bit 0 cleared) lands on 96 c for the kernel's input map c, each
    kernel's 6 LDMs then add 96, and bit 0 is set exactly on each output map's last kernel. Only
    made when every output map has a kernel (the loop runs at least one)."""
    cases = {layer.node: layer for layer, _ in make_cases()}
    for name in ("cs5k", "cs5zk", "cs5z6", "cs5x10"):
        layer = cases[name]
        arrays = {a.suffix: a.values.astype(int) for a in layer.pack().arrays}
        plane = layer.in_shape[1] * layer.in_shape[2]
        kstart, in_off, kstep = arrays["kstart"], arrays["in_off"], arrays["kstep"]
        assert len(kstep) == len(in_off) and layer.pack().arrays[-1].ctype == "int16_t"
        pos, last = 0, set(kstart[1:] - 1)
        for j, step in enumerate(kstep):
            assert step % 4 == (1 if j in last else 0), (name, j)
            pos += step & ~1
            assert pos == 96 * (in_off[j] // plane), (name, j)
            pos += 96
    for name in ("cs5m", "cs5z"):               # an output channel without a kernel: no kstep
        assert "kstep" not in {a.suffix for a in cases[name].pack().arrays}
    assert "kstep" not in {a.suffix for a in cases["ics5"].pack().arrays}   # C1: one input map


def harness(kernel_set: str, cases, host: bool) -> str:
    """One C file: the kernels of the set, every case's arrays, le_test_main() running them all
    into le_out (host: main() writes le_out to stdout)."""
    calls = []
    for layer, _ in cases:
        packed = layer.pack()
        calls.append(layer.call(packed, ir.Ctx({}, {a.suffix: a.suffix for a in packed.arrays}, "x", "y")).kernel)
    src = [emit.paste_kernels(kernel_set, ["le_common.h"], set()),
           emit.paste_kernels(kernel_set, [f"{k}.c" for k in dict.fromkeys(calls)], {"le_common.h"}),
           f"static int32_t le_out32[{OUT_BYTES // 4}];", "int8_t *const le_out = (int8_t *)le_out32;"]
    body = []
    off = 0
    for i, (layer, x) in enumerate(cases):
        packed = layer.pack()
        syms = {a.suffix: f"c{i}_{a.suffix}" for a in packed.arrays}
        for a in packed.arrays:
            guard = {"float": "#if !LENET5_REQUANT_INT", "int": "#if LENET5_REQUANT_INT"}.get(a.variant)
            ctype = "le_rq_t" if a.variant else a.ctype
            align = " LE_ALIGN4" if a.align4 else ""
            src += [guard or "", f"static const {ctype} {syms[a.suffix]}[{a.count}]{align} = {{",
                    emit.c_values(a.ctype, a.values), "};", "#endif" if guard else ""]
        in_ctype = {"uint8": "uint8_t", "int8": "int8_t", "int32": "int32_t"}[str(x.dtype)]
        src += [f"static const {in_ctype} in{i}[{x.size}] = {{",
                emit.c_values(in_ctype, x.reshape(-1)), "};", f"static {in_ctype} buf{i}[{x.size}];"]
        scratch = "0"
        if layer.scratch_bytes:
            src.append(f"static int8_t scratch{i}[{layer.scratch_bytes}];")
            scratch = f"scratch{i}"
        dst = f"buf{i}" if layer.in_place else f"(le_out + {off})"
        call = layer.call(packed, ir.Ctx({}, syms, f"buf{i}", dst, scratch))
        stmt = f"{call.kernel}({', '.join(call.args)});"
        if call.result:
            stmt = f"{call.result} = {stmt}"
        body += ["    {",
                 f"        const uint8_t *image = (const uint8_t *)buf{i};",
                 f"        int32_t *scores = (int32_t *)(void *)({'buf%d' % i if layer.in_dtype == 'int32' else f'le_out + {off}'});",
                 f"        int32_t *label_out = (int32_t *)(void *)(le_out + {off});",
                 "        int label = -1;",
                 f"        memcpy(buf{i}, in{i}, sizeof buf{i});",
                 "        (void)image; (void)scores;",
                 f"        {stmt}",
                 f"        if (label >= 0) {{ *label_out = label; }}",
                 f"        if ((void *)buf{i} == (void *)({dst})) {{ memcpy(le_out + {off}, buf{i}, sizeof buf{i}); }}",
                 "    }"]
        off += (expected_bytes(layer, x) + 3) & ~3
    assert off <= OUT_BYTES
    src += ["void le_test_main(void);", "void le_test_main(void)", "{", *body, "}"]
    if host:
        src = ["#include <stdio.h>", *src,
               "int main(void)", "{", "    le_test_main();",
               f"    fwrite(le_out, 1, {OUT_BYTES}, stdout);", "    return 0;", "}"]
    return "\n".join(src) + "\n"


def expected_bytes(layer, x) -> int:
    return {"int8": 1, "int32": 4, "int64": 4}[layer.out_dtype] * layer.out_size


def check_outputs(raw: bytes, cases, int_requant: bool, what: str) -> None:
    off = 0
    for layer, x in cases:
        want = layer.reference(x[None], int_requant)[0]
        n = expected_bytes(layer, x)
        dtype = {"int8": np.int8, "int32": np.int32, "int64": np.int32}[layer.out_dtype]
        got = np.frombuffer(raw[off:off + n], dtype)
        np.testing.assert_array_equal(got, np.asarray(want).reshape(-1).astype(dtype),
                                      err_msg=f"{what}: {layer.node} ({type(layer).__name__})")
        off += (n + 3) & ~3


@pytest.mark.parametrize("requant", ["float", "int"])
@pytest.mark.parametrize("kernel_set", emit.KERNEL_SETS)
def test_kernels_on_host(kernel_set, requant, tmp_path):
    require_tool("cc")
    cases = make_cases()
    src = tmp_path / "cases.c"
    src.write_text(harness(kernel_set, cases, host=True))
    flags = ["-DLENET5_INT_REQUANT"] if requant == "int" else []
    exe = hostbuild.compile_c([src], tmp_path / "cases", flags)
    raw = subprocess.run([str(exe)], capture_output=True, check=True).stdout
    check_outputs(raw, cases, requant == "int", f"host {kernel_set} {requant}")


LINKER = """SECTIONS {
  . = 0x10000;
  .text : { *(.text*) *(.rodata*) }
  .data : { *(.data*) }
  .bss : { *(.bss*) *(COMMON) }
}
"""
CPUS = {"m4": ("cortex-m4", "UC_CPU_ARM_CORTEX_M4"), "m3": ("cortex-m3", "UC_CPU_ARM_CORTEX_M3"),
        "m4f": ("cortex-m4", "UC_CPU_ARM_CORTEX_M4"), "m7f": ("cortex-m7", "UC_CPU_ARM_CORTEX_M7")}
# per core: ABI flags and the requant path (m4f: the float path, with VCVTR in the opt set)
ABI = {"m4": ["-mfloat-abi=soft", "-DLENET5_INT_REQUANT"], "m3": ["-mfloat-abi=soft", "-DLENET5_INT_REQUANT"],
       "m4f": ["-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"], "m7f": ["-mfloat-abi=hard", "-mfpu=fpv5-d16"]}


def run_on_unicorn(elf, binary, cpu: str) -> bytes:
    """Load the flat image at 0x10000, call le_test_main() on the emulated core, return le_out."""
    import unicorn
    from unicorn import arm_const

    syms = {}
    for line in subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(getattr(arm_const, CPUS[cpu][1]))
    code = binary.read_bytes()
    uc.mem_map(0, 4 * 1024 * 1024)
    uc.mem_write(0x10000, code)
    stack_top, done = 0x3F0000, 0x3FFF00
    uc.reg_write(arm_const.UC_ARM_REG_SP, stack_top)
    if cpu.endswith("f"):   # the FPU on, FPSCR at its reset value (round to nearest even)
        uc.reg_write(arm_const.UC_ARM_REG_FPEXC, 1 << 30)
        uc.reg_write(arm_const.UC_ARM_REG_FPSCR, 0)
    uc.reg_write(arm_const.UC_ARM_REG_LR, done | 1)
    uc.emu_start(syms["le_test_main"] | 1, done, count=200_000_000)
    assert uc.reg_read(arm_const.UC_ARM_REG_PC) & ~1 == done, "le_test_main did not return"
    return bytes(uc.mem_read(syms["le_out32"], OUT_BYTES))


@pytest.mark.parametrize("opt", ["-O2", "-O3", "-Os"])
@pytest.mark.parametrize("cpu", sorted(CPUS))
@pytest.mark.parametrize("kernel_set", emit.KERNEL_SETS)
def test_kernels_on_emulated_cortex_m(kernel_set, cpu, opt, tmp_path):
    """m4, m3: the integer requant path; m4f, m7f: the float path (FPU on, the compiler's default
    contraction setting). On the M4 and M7 the DSP paths run."""
    require_tool("arm-none-eabi-gcc")
    require_tool("arm-none-eabi-objcopy")
    cases = make_cases(seed=1)
    src = tmp_path / "cases.c"
    src.write_text(harness(kernel_set, cases, host=False))
    (tmp_path / "flat.ld").write_text(LINKER)
    elf, binary = tmp_path / "cases.elf", tmp_path / "cases.bin"
    cmd = ["arm-none-eabi-gcc", f"-mcpu={CPUS[cpu][0]}", "-mthumb", *ABI[cpu], opt, "-std=c99",
           "-Wall", "-Wextra", "-Werror", "-ffreestanding", "-nostartfiles",
           "--specs=nano.specs", "--specs=nosys.specs", f"-T{tmp_path / 'flat.ld'}", "-e", "le_test_main",
           "-o", str(elf), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    dsp = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True).stdout
    uses_dsp = "smlad" in dsp
    assert uses_dsp == (cpu != "m3" and kernel_set == "opt")     # the DSP path really is what ran
    assert ("vcvtr" in dsp) == (cpu.endswith("f") and kernel_set == "opt")
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(binary)], check=True)
    check_outputs(run_on_unicorn(elf, binary, cpu), cases, not cpu.endswith("f"), f"{cpu} {kernel_set} {opt}")


def _newlib_include() -> str:
    """The arm-none-eabi C library headers (clang --target=arm-none-eabi has no libc of its own)."""
    out = subprocess.run(["arm-none-eabi-gcc", "-xc", "-E", "-v", "-"], input="", capture_output=True,
                         text=True).stderr.splitlines()
    dirs = [ln.strip() for ln in out[out.index("#include <...> search starts here:") + 1:] if ln.startswith(" ")]
    return next(d for d in dirs if d.rstrip("/").endswith("arm-none-eabi/include"))


@pytest.mark.parametrize("opt", ["-O2", "-O3", "-Os"])
@pytest.mark.parametrize("cpu", sorted(CPUS))
def test_opt_kernels_clang_on_emulated_cortex_m(cpu, opt, tmp_path):
    """The opt set compiled by clang (its inline asm and ACLE builtins, its own scheduling), linked
    by arm-none-eabi-gcc, on the same emulated cores: the same outputs as the numpy reference."""
    clang = require_tool("clang")
    require_tool("arm-none-eabi-gcc")
    cases = make_cases(seed=1)
    src = tmp_path / "cases.c"
    src.write_text(harness("opt", cases, host=False))
    (tmp_path / "flat.ld").write_text(LINKER)
    obj, elf, binary = tmp_path / "cases.o", tmp_path / "cases.elf", tmp_path / "cases.bin"
    proc = subprocess.run([clang, "--target=arm-none-eabi", "-mthumb", f"-mcpu={CPUS[cpu][0]}", *ABI[cpu], opt,
                           "-std=c99", "-Wall", "-Wextra", "-Werror", "-ffreestanding", f"-isystem{_newlib_include()}",
                           "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    fpu = [a for a in ABI[cpu] if a.startswith("-mf")]
    subprocess.run(["arm-none-eabi-gcc", f"-mcpu={CPUS[cpu][0]}", "-mthumb", *fpu, "-nostartfiles",
                    "--specs=nano.specs", "--specs=nosys.specs", f"-T{tmp_path / 'flat.ld'}", "-e", "le_test_main",
                    "-Wl,--no-warn-rwx-segments", "-o", str(elf), str(obj)], check=True, capture_output=True)
    dsp = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True).stdout
    assert ("smlad" in dsp) == (cpu != "m3")
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(binary)], check=True)
    check_outputs(run_on_unicorn(elf, binary, cpu), cases, not cpu.endswith("f"), f"clang {cpu} {opt}")
