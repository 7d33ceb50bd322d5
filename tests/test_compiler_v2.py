"""Compiler v2 properties: process replay against a committed golden, the kernel set choice, hostile
model strings, the atomic export of the C set, no fused multiply-add in the float requant, and
generated files citing only what the wheel ships."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from conftest import require_tool
from lenet_edge.check import hostbuild
from lenet_edge.compiler import emit, export_c_cmd, generate
from lenet_edge.errors import LenetEdgeError
from onnx_builders import GraphBuilder, ort_outputs, paper_builder, sample_images

GOLDEN = Path(__file__).parent / "golden" / "tiny"


def tiny_builder() -> GraphBuilder:
    """A small paper-style chain: table, pad, conv, squash, depthwise 2x2 s2 subsampling, squash
    (fused), conv to a vector, flatten, +-74 RBF head."""
    b = GraphBuilder(seed=5).input_table().pad(top=0, left=0, bottom=0, right=0)
    b.conv("c1", 2, 5).squash("c1_act")                        # 2x24x24
    b.conv("s2", 2, 2, stride=2, group=2).squash("s2_act")     # fused with c1: 2x12x12
    b.conv("c3", 4, 12).squash("c3_act")                       # whole window: a dot product
    return b.flatten().rbf_head(classes=10)


@pytest.mark.parametrize("kernel_set", emit.KERNEL_SETS)
def test_process_replay_golden(kernel_set, tmp_path):
    """The committed tiny model's generated C, byte for byte. A deliberate change to the output
    regenerates the golden (LENET_EDGE_UPDATE_GOLDEN=1) in the same commit."""
    onnx_path = GOLDEN / "tiny_int8.onnx"
    want_dir = GOLDEN / kernel_set
    if os.environ.get("LENET_EDGE_UPDATE_GOLDEN") == "1":
        export_c_cmd(onnx_path, want_dir, kernels=kernel_set, selftest=1)
    files = generate(onnx_path, kernels=kernel_set, selftest=1)
    assert sorted(files) == sorted(p.name for p in want_dir.iterdir())
    for name, text in files.items():
        assert text == (want_dir / name).read_text(), f"{kernel_set}/{name} differs from the golden"


def test_golden_model_is_the_builders():
    """The committed ONNX is what tiny_builder makes (so it can be rebuilt if the format moves)."""
    assert (GOLDEN / "tiny_int8.onnx").read_bytes() == tiny_builder().bytes()


@pytest.mark.parametrize("kernel_set", emit.KERNEL_SETS)
def test_golden_c_matches_ort(kernel_set, tmp_path):
    require_tool("cc")
    b = tiny_builder()
    images = sample_images(50, seed=2)
    exe = hostbuild.build(GOLDEN / kernel_set, work_dir=tmp_path)
    got = hostbuild.run_images(exe, images)
    want = ort_outputs(b, images)
    np.testing.assert_array_equal(got["scores"], want["scores"])
    np.testing.assert_array_equal(got["label"], want["label"])


def test_kernel_sets_manifest_and_only_used_kernels(tmp_path):
    (tmp_path / "m.onnx").write_bytes(paper_builder(3).bytes())
    for kernel_set in emit.KERNEL_SETS:
        files = generate(tmp_path / "m.onnx", kernels=kernel_set)
        m = json.loads(files["manifest.json"])
        assert m["kernels"]["set"] == kernel_set and f"--kernels {kernel_set}" in m["command"]
        pasted = re.findall(r"/\* ---- kernels/(\S+) ---- \*/", files["lenet5.c"])
        own = {p.stem for p in (emit.kernel_dir() / kernel_set).glob("le_*.c")}  # else the ref file
        assert [p for p in pasted if p.endswith(".c")] == [f"{kernel_set if k in own else 'ref'}/{k}.c"
                                                           for k in m["kernels"]["functions"]]
        if kernel_set == "opt":
            assert any(p.startswith("opt/") for p in pasted)
        assert "le_maxpool_s8" not in files["lenet5.c"] and "le_dense_s8" not in files["lenet5.c"]
    with pytest.raises(LenetEdgeError, match="unknown kernel set"):
        generate(tmp_path / "m.onnx", kernels="fast")


def test_cli_kernels_and_selftest(tmp_path):
    from lenet_edge.cli import main

    run = tmp_path / "run"
    run.mkdir()
    (run / "lenet5_int8.onnx").write_bytes(paper_builder(3).bytes())
    res = CliRunner().invoke(main, ["export", "--target", "c", "--run", str(run), "--kernels", "ref",
                                    "--selftest", "2"])
    assert res.exit_code == 0, res.output
    m = json.loads((run / "c" / "manifest.json").read_text())
    assert m["kernels"]["set"] == "ref" and m["golden"]["images"] == 2
    assert "#define LENET5_SELFTEST_IMAGES 2\n" in (run / "c" / "lenet5.h").read_text()


HOSTILE = ["*/", "/*", "??/", "a\nb", 'q"uote', "%n%s", "é漢字", "back\\slash", "??=x", "tab\there", ""]


def hostile_model(b: GraphBuilder) -> tuple[bytes, dict[str, str]]:
    """The builder's model with every node and intermediate tensor renamed to hostile strings."""
    m = b.model()
    keep = {i.name for i in m.graph.input} | {o.name for o in m.graph.output} | {t.name for t in m.graph.initializer}
    rename = {}
    for i, n in enumerate(m.graph.node):
        n.name = f"{HOSTILE[i % len(HOSTILE)]}{i}"
        for o in n.output:
            if o not in keep:
                rename[o] = f"t{HOSTILE[(i + 3) % len(HOSTILE)]}{i}"
    for n in m.graph.node:
        for seq in (n.input, n.output):
            for j, name in enumerate(seq):
                if name in rename:
                    seq[j] = rename[name]
    del m.graph.value_info[:]
    onnx.checker.check_model(m)
    return m.SerializeToString(), rename


NAMES_MAIN = r"""
#include <stdio.h>
#include "lenet5.h"
static void hex(const char *s)
{
    while (*s) {
        printf("%02x", (unsigned)(unsigned char)*s++);
    }
    printf(" ");
}
int main(void)
{
    int i;
    for (i = 0; i < LENET5_NUM_LAYERS; ++i) {
        hex(lenet5_layer_names[i]);
        hex(lenet5_layer_tensors[i]);
        printf("\n");
    }
    return lenet5_selftest();
}
"""


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_hostile_names(cc, tmp_path):
    """Node and tensor names holding comment markers, trigraphs, newlines, quotes, format
    directives and non-ASCII: the C compiles without a warning (-Wall -Wextra -pedantic, trigraphs
    on with -std=c99), names come back byte for byte, and the scores still equal ORT's."""
    require_tool(cc)
    b = paper_builder(4)
    data, _ = hostile_model(b)
    path = tmp_path / "evil* ??= é\nname.onnx"
    path.write_bytes(data)
    c_dir = tmp_path / "c"
    export_c_cmd(path, c_dir)
    for f in ("lenet5.c", "lenet5.h", "lenet5_weights.c", "lenet5_weights.h", "lenet5_selftest.c"):
        assert (c_dir / f).read_text().isascii(), f
    main_c = tmp_path / "names.c"
    main_c.write_text(NAMES_MAIN)
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wtrigraphs", "-Wcomment", f"-I{c_dir}"]
    exe = hostbuild.compile_c([main_c, c_dir / "lenet5.c", c_dir / "lenet5_weights.c", c_dir / "lenet5_selftest.c"],
                              tmp_path / "names", flags, compiler=cc)
    proc = subprocess.run([str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, "selftest failed"
    manifest = json.loads((c_dir / "manifest.json").read_text())
    got = [ln.split(" ")[:2] for ln in proc.stdout.splitlines()]
    want = [[e["node"].encode().hex(), e["tensor"].encode().hex()] for e in manifest["layers"]]
    assert got == want
    m = onnx.load_from_string(data)
    assert {e["node"] for e in manifest["layers"]} <= {n.name for n in m.graph.node}
    assert sum(any(h in e["node"] for h in HOSTILE if h) for e in manifest["layers"]) >= 5
    images = sample_images(30, seed=4)
    exe = hostbuild.build(c_dir, work_dir=tmp_path / "drv", compiler=cc)
    got_run = hostbuild.run_images(exe, images)
    want_run = ort_outputs(b, images)
    np.testing.assert_array_equal(got_run["scores"], want_run["scores"])


def test_export_is_atomic(tmp_path, monkeypatch):
    (tmp_path / "m.onnx").write_bytes(paper_builder(3).bytes())
    out = tmp_path / "c"
    export_c_cmd(tmp_path / "m.onnx", out, kernels="ref")
    (out / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    # a failure while writing the staged set leaves the old set complete and untouched
    real = Path.write_bytes
    calls = []

    def flaky(self, data):
        calls.append(self.name)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", flaky)
    with pytest.raises(LenetEdgeError, match="No space left on device"):
        export_c_cmd(tmp_path / "m.onnx", out, kernels="opt")
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "m.onnx"]       # no stray stage folder

    # a success replaces the whole set and keeps files that are not ours
    export_c_cmd(tmp_path / "m.onnx", out, kernels="opt")
    assert json.loads((out / "manifest.json").read_text())["kernels"]["set"] == "opt"
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "m.onnx"]


def test_export_output_name_is_a_folder(tmp_path):
    from lenet_edge.cli import main

    run = tmp_path / "run"
    (run / "c" / "lenet5.c").mkdir(parents=True)
    (run / "lenet5_int8.onnx").write_bytes(paper_builder(3).bytes())
    res = CliRunner().invoke(main, ["export", "--target", "c", "--run", str(run)])
    assert res.exit_code != 0
    assert res.output.count("\n") == 1 and "lenet5.c: exists as a folder" in res.output
    assert "Traceback" not in res.output
    assert sorted(p.name for p in (run / "c").iterdir()) == ["lenet5.c"]


FMA = re.compile(r"\b(vfma|vfms|vfnma|vfnms)\b", re.I)


@pytest.mark.parametrize("opt", ["-O2", "-O3", "-Os"])
def test_no_fused_multiply_add_with_default_flags(opt, tmp_path):
    """The float requant's product must be rounded to binary32 on its own: with the compilers'
    default -std and contraction setting, no fused multiply-add appears for Cortex-M4F or M7."""
    require_tool("arm-none-eabi-gcc")
    (tmp_path / "m.onnx").write_bytes(paper_builder(3, wide_s4=True).bytes())
    c_dir = tmp_path / "c"
    export_c_cmd(tmp_path / "m.onnx", c_dir)
    for cpu in (["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16"], ["-mcpu=cortex-m7", "-mfpu=fpv5-d16"]):
        obj = tmp_path / "l.o"
        subprocess.run(["arm-none-eabi-gcc", opt, *cpu, "-mthumb", "-mfloat-abi=hard", "-c",
                        str(c_dir / "lenet5.c"), "-o", str(obj)], check=True)
        dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(obj)], capture_output=True, text=True).stdout
        assert "vmul.f32" in dis and not FMA.search(dis), cpu


def test_fast_math_is_refused(tmp_path):
    cc = require_tool("gcc")
    (tmp_path / "m.onnx").write_bytes(paper_builder(3).bytes())
    export_c_cmd(tmp_path / "m.onnx", tmp_path / "c")
    for flag in ("-ffast-math", "-Ofast"):
        proc = subprocess.run([cc, flag, "-c", str(tmp_path / "c" / "lenet5.c"), "-o", str(tmp_path / "x.o")],
                              capture_output=True, text=True)
        assert proc.returncode != 0 and "-ffast-math" in proc.stderr


def test_generated_files_cite_only_shipped_paths(tmp_path):
    """Every repo path a generated file mentions (kernels/..., docs/...) is one the wheel ships."""
    root = Path(__file__).resolve().parents[1]
    (tmp_path / "m.onnx").write_bytes(paper_builder(3).bytes())
    cited = set()
    for kernel_set in emit.KERNEL_SETS:
        for text in generate(tmp_path / "m.onnx", kernels=kernel_set).values():
            cited |= set(re.findall(r"\b((?:kernels|docs|lenet_edge|codegen_templates|firmware|tests|\.\./)\S*?"
                                    r"\.(?:c|h|md|py|j2))\b", text))
            assert "shared/" not in text
    assert cited, "expected the kernel citations"
    shipped = {"kernels": root / "kernels", "docs": root / "docs", "lenet_edge": root / "lenet_edge"}
    for path in cited:
        top, _, rest = path.partition("/")
        assert top in shipped and (shipped[top] / rest).is_file(), path
    pyproject = (root / "pyproject.toml").read_text()
    assert '"lenet_edge.kernels" = "kernels"' in pyproject and '"lenet_edge.docs" = ["int8-arithmetic.md"]' in pyproject
    assert {p for p in cited if p.startswith("docs/")} <= {"docs/int8-arithmetic.md"}


@pytest.mark.parametrize("opt", ["-O2", "-O3", "-Os"])
@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_bit_exact_with_default_flags(cc, opt, tmp_path):
    """The generated C as a user may build it: the compiler's default -std and contraction setting,
    -march=native (FMA where the host has it), each -O level, both kernel sets and requant paths:
    scores and labels equal ORT's."""
    cc_path = require_tool(cc)
    b = paper_builder(6, wide_s4=True)
    (tmp_path / "m.onnx").write_bytes(b.bytes())
    images = sample_images(200, seed=8)
    want = ort_outputs(b, images)
    for kernel_set in emit.KERNEL_SETS:
        c_dir = tmp_path / kernel_set
        export_c_cmd(tmp_path / "m.onnx", c_dir, kernels=kernel_set)
        for requant in ([], ["-DLENET5_INT_REQUANT"]):
            exe = tmp_path / f"drv_{kernel_set}_{len(requant)}"
            sources = [c_dir / "lenet5.c", c_dir / "lenet5_weights.c", c_dir / "lenet5_selftest.c",
                       hostbuild.driver_source()]
            proc = subprocess.run([cc_path, opt, "-march=native", *requant, f"-I{c_dir}", *map(str, sources),
                                   "-o", str(exe)], capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
            got = hostbuild.run_images(exe, images)
            np.testing.assert_array_equal(got["scores"], want["scores"], err_msg=f"{kernel_set} {requant}")
            np.testing.assert_array_equal(got["label"], want["label"])
            assert subprocess.run([str(exe), "--selftest"], capture_output=True).returncode == 0


@pytest.mark.parametrize("opt", ["-O2", "-Os"])
def test_reserved_register_builds_with_its_macro(opt, tmp_path):
    """gcc -fno-omit-frame-pointer (r7) and -ffixed-r9 take a register from the asm: with
    -DLENET5_RESERVED_REGISTER (le_common.h) the generated C compiles for the Cortex-M4F and M3, the
    asm-heavy paths (without it, the M4F build does not)."""
    require_tool("arm-none-eabi-gcc")
    (tmp_path / "m.onnx").write_bytes(paper_builder(3).bytes())
    c_dir = tmp_path / "c"
    export_c_cmd(tmp_path / "m.onnx", c_dir)
    for cpu in (["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"], ["-mcpu=cortex-m3"]):
        for reserve in ("-fno-omit-frame-pointer", "-ffixed-r9"):
            proc = subprocess.run(["arm-none-eabi-gcc", opt, reserve, "-DLENET5_RESERVED_REGISTER", *cpu, "-mthumb",
                                   "-c", str(c_dir / "lenet5.c"), "-o", str(tmp_path / "l.o")],
                                  capture_output=True, text=True)
            assert proc.returncode == 0, (cpu, reserve, proc.stderr[-500:])
