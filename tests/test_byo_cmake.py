"""`lenet-edge compile` writes CMakeLists.txt and arm-none-eabi.cmake beside the C (through
lenet_edge.compiler.cmake, as `export --target c` does): a user's project takes the model as a static
library with add_subdirectory. Built here on the host, where a user's main runs NAME_run on inputs
and must give ONNX Runtime's outputs bit for bit, and cross-built for Cortex-M4F and Cortex-M3."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from byo_models import ModelCache
from conftest import require_tool
from lenet_edge.check import byo
from lenet_edge.cli import main
from lenet_edge.compiler import cmake
from lenet_edge.compiler.cmake import cmake_target

# (model, format, activations, per-channel, --name or None): blocks has QLinearAdd (fmaf: the library
# must link libm); "m" is a name CMake cannot use as is (it is libm), so the target becomes m_lib.
CASES = [("cnn", "qdq", "u8", True, None), ("blocks", "qoperator", "s8", False, "m")]
IDS = [f"{n}-{f}-{a}-{'pc' if p else 'pt'}-{name or 'stem'}" for n, f, a, p, name in CASES]

USER_CMAKELISTS = """cmake_minimum_required(VERSION 3.13)
project(user_app C)
add_subdirectory({c_dir} model_build)
add_executable(app main.c)
target_link_libraries(app PRIVATE {target}::{target})
"""
# Host: every input from stdin through NAME_run, every output to stdout (raw bytes).
HOST_MAIN = """#include <stdio.h>
#include "{name}.h"

int main(void)
{{
    static float in[{up}_INPUT_SIZE];
    static float out[{up}_OUTPUT_SIZE];
    while (fread(in, sizeof in, 1, stdin) == 1) {{
        if ({name}_run(in, out) != 0) return 2;
        fwrite(out, sizeof out, 1, stdout);
    }}
    return 0;
}}
"""
# Cortex-M: one inference on a constant input; the linker must resolve everything NAME_run needs.
ARM_MAIN = """#include "{name}.h"

static const float in[{up}_INPUT_SIZE] = {{0.5f}};
static float out[{up}_OUTPUT_SIZE];

int main(void)
{{
    return {name}_run(in, out) + (int)out[0];
}}
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return ModelCache(tmp_path_factory.mktemp("byo_cmake_models"))


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def compiled(request, models, tmp_path_factory):
    n, f, a, p, name = request.param
    built = models.get(n, f, a, p)
    out = tmp_path_factory.mktemp("byo_cmake") / "c"
    args = ["compile", str(built.path), "--out", str(out)] + (["--name", name] if name else [])
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return built.path, out, json.loads((out / "manifest.json").read_text())


def _cmake(*args: str) -> None:
    proc = subprocess.run(["cmake", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _project(tmp_path: Path, c_dir: Path, m: dict, main_c: str) -> Path:
    project = tmp_path / "user"
    project.mkdir()
    (project / "CMakeLists.txt").write_text(USER_CMAKELISTS.format(c_dir=c_dir.as_posix(), target=m["cmake_target"]))
    (project / "main.c").write_text(main_c.format(name=m["name"], up=m["name"].upper()))
    return project


def test_compile_writes_the_cmake_files_and_lists_them(compiled):
    _, out, m = compiled
    assert sorted(m["files"]) == sorted(p.name for p in out.iterdir())
    assert set(cmake.OUTPUT_FILES) <= set(m["files"])
    text = (out / "CMakeLists.txt").read_text()
    listed = re.findall(r"\$\{CMAKE_CURRENT_SOURCE_DIR\}/(\S+)", text)
    assert sorted(listed) == sorted(p.name for p in out.iterdir() if p.suffix in (".c", ".h"))
    assert m["cmake_target"] == cmake_target(m["name"])
    assert f"add_library({m['cmake_target']} STATIC" in text and f'#include "{m["name"]}.h"' in text
    assert "LENET5_INT_REQUANT" not in text and "`lenet-edge compile`" in text


def test_host_library_gives_ort_outputs_bit_for_bit(compiled, tmp_path):
    require_tool("cmake")
    require_tool("cc")
    onnx_path, out, m = compiled
    assert m["input"]["dtype"] == "float32" and len(m["outputs"]) == 1
    project, build = _project(tmp_path, out, m, HOST_MAIN), tmp_path / "build"
    _cmake("-S", str(project), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release")
    _cmake("--build", str(build))
    assert (build / "model_build" / f"lib{m['cmake_target']}.a").is_file()
    prep = byo.prepare(onnx_path)
    x = byo.random_inputs(prep.model, m["input"]["shape"], "float32", 500, seed=7)
    run = subprocess.run([str(build / "app")], input=x.tobytes(), capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr
    mine = np.frombuffer(run.stdout, np.float32).reshape(len(x), *m["outputs"][0]["shape"][1:])
    (theirs,) = byo.ort_outputs(onnx_path, x)
    same = byo.same_bits([mine], [theirs])
    assert same.all(), f"{int((~same).sum())} of {len(x)} inputs differ"
    assert len(np.unique(theirs.round(5), axis=0)) > 50          # the outputs are not trivial


@pytest.mark.parametrize("core, flags", [
    ("cortex-m4f", None),                          # the toolchain file's default: hard float
    ("cortex-m3", "-mcpu=cortex-m3 -mthumb"),      # no FPU: the float32 steps in software
])
def test_arm_cross_build_links(compiled, tmp_path, core, flags):
    require_tool("cmake")
    require_tool("arm-none-eabi-gcc")
    _, out, m = compiled
    project, build = _project(tmp_path, out, m, ARM_MAIN), tmp_path / "build"
    args = ["-S", str(project), "-B", str(build), "-DCMAKE_BUILD_TYPE=MinSizeRel",
            f"-DCMAKE_TOOLCHAIN_FILE={out / 'arm-none-eabi.cmake'}"]
    _cmake(*(args + ([f"-DARM_CPU_FLAGS={flags}"] if flags else [])))
    _cmake("--build", str(build))
    lib, elf = build / "model_build" / f"lib{m['cmake_target']}.a", build / "app"
    assert lib.is_file() and elf.is_file()
    attrs = subprocess.run(["arm-none-eabi-readelf", "-A", str(elf)], capture_output=True, text=True).stdout
    assert ("Tag_CPU_arch: v7E-M" in attrs) == (core == "cortex-m4f"), attrs
    assert ("Tag_ABI_VFP_args: VFP registers" in attrs) == (core == "cortex-m4f"), attrs
    symbols = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True).stdout
    assert re.search(rf" T {m['name']}_run$", symbols, re.M), symbols[:500]
    soft_float = set(re.findall(r" T (__aeabi_f(?:mul|add|sub|div))$", symbols, re.M))
    assert bool(soft_float) == (core == "cortex-m3"), soft_float     # M4F: FPU instructions only
