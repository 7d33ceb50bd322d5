"""The generated C as C: zero-warning strict builds on every compiler and target, the requant path
each target selects, rodata sizes equal to the manifest's flash figures, stack frames within the
manifest's estimate, and a sanitizer run over a few thousand images."""
from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest

from conftest import require_tool
from lenet_edge.check import hostbuild
from lenet_edge.compiler import export_c_cmd
from onnx_builders import modern_builder, ort_outputs, paper_builder, sample_images

SOURCES = ["lenet5.c", "lenet5_weights.c", "lenet5_selftest.c"]
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-ffp-contract=off"]
ARM = {"m4f": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
       "m3": ["-mcpu=cortex-m3", "-mthumb"]}
HOOKS = [[], ["-DLENET5_TRACE"], ["-DLENET5_PROFILE"], ["-DLENET5_INT_REQUANT"],
         ["-DLENET5_TRACE", "-DLENET5_PROFILE", "-DLENET5_INT_REQUANT", "-O0"]]


@pytest.fixture(scope="module", params=["paper", "modern"])
def generated(request, tmp_path_factory):
    """(arch, builder, folder with the generated C). The paper model's s4 exceeds 2^24, so its C has
    both conv kernel variants (le_conv_s8 for c3, le_conv_s8_wide for s4)."""
    b = paper_builder(seed=21, wide_s4=True) if request.param == "paper" else modern_builder(seed=21)
    tmp = tmp_path_factory.mktemp(request.param)
    (tmp / "lenet5_int8.onnx").write_bytes(b.bytes())
    export_c_cmd(tmp / "lenet5_int8.onnx", tmp / "c")
    return request.param, b, tmp / "c"


def compile_objects(cc: str, flags: list[str], c_dir, out_dir) -> subprocess.CompletedProcess:
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [cc, *STRICT, *flags, "-c", *(str(c_dir / s) for s in SOURCES)]
    return subprocess.run(cmd, cwd=out_dir, capture_output=True, text=True)


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_strict_host_builds(cc, generated, tmp_path):
    require_tool(cc)
    _, _, c_dir = generated
    for i, flags in enumerate(HOOKS):
        proc = compile_objects(cc, flags, c_dir, tmp_path / str(i))
        assert proc.returncode == 0 and proc.stderr == "", f"{cc} {flags}: {proc.stderr}"


def arm_symbols(obj) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-nm", "-S", str(obj)], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "rR":
            sizes[parts[3]] = int(parts[1], 16)
    return sizes


@pytest.mark.parametrize("cpu", sorted(ARM))
def test_arm_builds_flash_and_stack(cpu, generated, tmp_path):
    require_tool("arm-none-eabi-gcc")
    require_tool("arm-none-eabi-nm")
    _, _, c_dir = generated
    for i, flags in enumerate(HOOKS):
        proc = compile_objects("arm-none-eabi-gcc", [*ARM[cpu], *flags], c_dir, tmp_path / str(i))
        assert proc.returncode == 0 and proc.stderr == "", f"{cpu} {flags}: {proc.stderr}"
    build = tmp_path / "su"
    proc = compile_objects("arm-none-eabi-gcc", [*ARM[cpu], "-fstack-usage"], c_dir, build)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((c_dir / "manifest.json").read_text())

    # Cortex-M3 has no FPU: the integer requant path (8-byte {m, e} per channel); M4F: float bits.
    path = "int_requant" if cpu == "m3" else "float_requant"
    sizes = arm_symbols(build / "lenet5_weights.o")
    rq = {k: v for k, v in sizes.items() if k.endswith("_rq")}
    channels = {f"lenet5_{e['node']}_rq": e["out_shape"][1] for e in manifest["layers"] if e["kind"] in ("Conv", "ConvSubsample", "ConvMaxPool", "ImageConvSubsample")}
    assert rq == {k: n * (16 if cpu == "m3" else 4) for k, n in channels.items()}
    # the manifest's flash total is exactly the rodata of lenet5_weights.o, less the arrays a linked
    # build keeps instead of another (C3's kstep or in_off: the object holds both)
    assert sum(sizes.values()) == manifest["flash_bytes"][path] + manifest["flash_bytes"]["alternatives"]

    # stack: lenet5_predict's frame plus the deepest kernel frame fits the estimate
    frames = {}
    for line in (build / "lenet5.su").read_text().splitlines():
        m = re.match(r".*:\d+:\d+:(\S+)\s+(\d+)\s+(\w+)", line)
        assert m and m.group(3) == "static", line          # no variable-length frames
        frames[m.group(1)] = int(m.group(2))
    predict = frames.pop("lenet5_predict")
    assert predict + max(frames.values(), default=0) <= manifest["ram_bytes"]["stack_estimate"], frames


def test_sanitizers_clean(generated, tmp_path):
    """ASan + UBSan build over 2000 images: no report, and still bit-exact with ORT."""
    cc = require_tool("gcc")
    arch, b, c_dir = generated
    images = sample_images(1000, seed=99)[:2000]
    requant = ["-DLENET5_INT_REQUANT"] if arch == "paper" else []     # paper: le_requant_wide too
    exe = hostbuild.build(c_dir, [*hostbuild.SANITIZE_FLAGS, "-DLENET5_TRACE", *requant], compiler=cc,
                          work_dir=tmp_path)
    env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"}
    got = hostbuild.run_images(exe, images, trace=True, env=env)
    want = ort_outputs(b, images)
    np.testing.assert_array_equal(got["scores"], want["scores"])
    np.testing.assert_array_equal(got["label"], want["label"])
    proc = subprocess.run([str(exe), "--selftest"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and proc.stderr == ""


def test_build_error_is_one_line(generated, tmp_path):
    require_tool("cc")
    _, _, c_dir = generated
    broken = tmp_path / "c"
    broken.mkdir()
    for name in ("lenet5.h", "lenet5_weights.h", "lenet5_weights.c", "lenet5_selftest.c"):
        (broken / name).write_bytes((c_dir / name).read_bytes())
    (broken / "lenet5.c").write_text((c_dir / "lenet5.c").read_text() + "\nint unused_and_wrong = ;\n")
    with pytest.raises(hostbuild.LenetEdgeError, match=r"C build failed \(\w+\): .*error"):
        hostbuild.build(broken, work_dir=tmp_path / "b")
    with pytest.raises(hostbuild.LenetEdgeError, match="no C compiler found"):
        hostbuild.find_compiler("no-such-cc-xyz")


HOOK_MAIN = r"""
#include <stdio.h>
#include "lenet5.h"
static int marks[2 * LENET5_NUM_LAYERS + 2];
static int n_marks;
void lenet5_profile_mark(int layer)
{
    if (n_marks < (int)(sizeof marks / sizeof marks[0])) {
        marks[n_marks] = layer;
    }
    ++n_marks;
}
void lenet5_trace(int layer, const char *onnx_tensor_name, const int8_t *data, size_t n)
{
    printf("trace %d %s %u %d\n", layer, onnx_tensor_name, (unsigned)n, (int)data[0]);
}
int main(void)
{
    static const uint8_t image[LENET5_INPUT_SIZE];
    int32_t scores[LENET5_NUM_SCORES];
    int i;
    int label = lenet5_predict(image, scores);
    printf("label %d\n", label);
    for (i = 0; i < n_marks; ++i) {
        printf("mark %d\n", marks[i]);
    }
    for (i = 0; i < LENET5_NUM_LAYERS; ++i) {
        printf("layer %d %s %s %u\n", i, lenet5_layer_names[i], lenet5_layer_tensors[i],
               (unsigned)lenet5_layer_sizes[i]);
    }
    return 0;
}
"""


def test_profile_and_trace_hooks(generated, tmp_path):
    """Profile marks come as -1, 0, 1, ..., N-1; trace calls name the ONNX tensors in layer order;
    the layer tables list the ONNX node and tensor names."""
    require_tool("cc")
    arch, b, c_dir = generated
    main_c = tmp_path / "hooks.c"
    main_c.write_text(HOOK_MAIN)
    exe = hostbuild.compile_c([main_c, *(c_dir / s for s in SOURCES)], tmp_path / "hooks",
                              ["-DLENET5_TRACE", "-DLENET5_PROFILE", f"-I{c_dir}"])
    lines = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
    manifest = json.loads((c_dir / "manifest.json").read_text())
    n = len(manifest["layers"])
    marks = [int(ln.split()[1]) for ln in lines if ln.startswith("mark ")]
    assert marks == [-1, *range(n)]
    layers = [ln.split() for ln in lines if ln.startswith("layer ")]
    assert [(l[2], l[3]) for l in layers] == [(e["node"], e["tensor"]) for e in manifest["layers"]]
    traced = [ln.split() for ln in lines if ln.startswith("trace ")]
    int8_layers = [e for e in manifest["layers"] if e["dtype"] == "int8"]
    assert [(int(t[1]), t[2], int(t[3])) for t in traced] == [
        (e["index"], e["tensor"], e["arena"]["out_bytes"]) for e in int8_layers]
    want = ort_outputs(b, np.zeros((1, 28, 28), np.uint8))
    assert [int(t[4]) for t in traced] == [int(want[e["tensor"]].reshape(-1)[0]) for e in int8_layers]
    assert int(lines[len(traced)].split()[1]) == int(want["label"][0])
