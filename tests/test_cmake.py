"""Drop-in integration: `export --target c` writes a CMakeLists.txt whose static library target a
user's project takes with add_subdirectory. Built here for the host (and run: the self-test passes)
and for Cortex-M4F and Cortex-M3 with the shipped arm-none-eabi toolchain file."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import require_tool
from lenet_edge.compiler import cmake, export_c_cmd, generate
from onnx_builders import modern_model, paper_model

USER_CMAKELISTS = """cmake_minimum_required(VERSION 3.13)
project(user_app C)
add_subdirectory({c_dir} lenet5)
add_executable(app main.c)
target_link_libraries(app PRIVATE lenet5::lenet5)
"""
# A user's program: classify the first golden image's twin (all-zero image) and run the self-test.
USER_MAIN = """#include <stdio.h>
#include "lenet5.h"

int main(void)
{
    static const uint8_t blank[LENET5_INPUT_SIZE];
    int32_t scores[LENET5_NUM_SCORES];
    int label = lenet5_predict(blank, scores);
    int rc = lenet5_selftest();
    printf("label %d selftest %d\\n", label, rc);
    return rc;
}
"""


@pytest.fixture(scope="module", params=["paper", "modern"])
def c_dir(request, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp(f"cmake_{request.param}")
    onnx_path = tmp / "lenet5_int8.onnx"
    onnx_path.write_bytes(paper_model(3) if request.param == "paper" else modern_model(3))
    export_c_cmd(onnx_path, tmp / "c")
    return tmp / "c"


def _user_project(tmp_path: Path, c_dir: Path) -> Path:
    project = tmp_path / "user"
    project.mkdir()
    (project / "CMakeLists.txt").write_text(USER_CMAKELISTS.format(c_dir=c_dir.as_posix()))
    (project / "main.c").write_text(USER_MAIN)
    return project


def _cmake(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(["cmake", *args], capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _compile_command(build: Path, source: str) -> str:
    commands = json.loads((build / "compile_commands.json").read_text())
    (entry,) = [c for c in commands if Path(c["file"]).name == source]
    return entry["command"]


def test_the_library_lists_exactly_the_generated_c_files(c_dir):
    text = (c_dir / "CMakeLists.txt").read_text()
    listed = re.findall(r"\$\{CMAKE_CURRENT_SOURCE_DIR\}/(\S+)", text)
    generated = sorted(p.name for p in c_dir.iterdir() if p.suffix in (".c", ".h"))
    assert sorted(listed) == generated and any(n.endswith(".c") for n in listed)
    manifest = json.loads((c_dir / "manifest.json").read_text())
    assert set(cmake.OUTPUT_FILES) <= set(manifest["files"])


def test_the_source_list_follows_the_compiler_output_set():
    """Not a fixed list: whatever C files the compiler emits are what the library builds."""
    files = cmake.render(["a.c", "b.h", "manifest.json", "z_kernel.c"])
    text = files["CMakeLists.txt"]
    assert re.findall(r"/(\S+\.[ch])\n", text) == ["a.c", "z_kernel.c", "b.h"]
    with pytest.raises(Exception, match="no C source"):
        cmake.render(["lenet5.h", "manifest.json"])


@pytest.mark.parametrize("int_requant", [False, True])
def test_host_build_with_add_subdirectory_runs_the_selftest(c_dir, tmp_path, int_requant):
    require_tool("cmake")
    require_tool("cc")
    project, build = _user_project(tmp_path, c_dir), tmp_path / "build"
    _cmake("-S", str(project), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON",
           f"-DLENET5_INT_REQUANT={'ON' if int_requant else 'OFF'}")
    _cmake("--build", str(build))
    assert (build / "lenet5" / "liblenet5.a").is_file()
    run = subprocess.run([str(build / "app")], capture_output=True, text=True)
    assert run.returncode == 0 and re.fullmatch(r"label \d selftest 0\n", run.stdout), run.stdout + run.stderr
    command = _compile_command(build, "lenet5.c")
    assert "-ffp-contract=off" in command and "-std=c99" in command
    assert ("-DLENET5_INT_REQUANT" in command) == int_requant
    assert ("-DLENET5_INT_REQUANT" in _compile_command(build, "main.c")) == int_requant  # PUBLIC: the app agrees


@pytest.mark.parametrize("core, flags, float_abi", [
    ("cortex-m4f", None, True),                        # the toolchain file's default
    ("cortex-m3", "-mcpu=cortex-m3 -mthumb", False),   # no FPU: the integer requant path by itself
])
def test_arm_cross_build_with_the_shipped_toolchain_file(c_dir, tmp_path, core, flags, float_abi):
    require_tool("cmake")
    require_tool("arm-none-eabi-gcc")
    project, build = _user_project(tmp_path, c_dir), tmp_path / "build"
    args = ["-S", str(project), "-B", str(build), "-DCMAKE_BUILD_TYPE=MinSizeRel",
            f"-DCMAKE_TOOLCHAIN_FILE={c_dir / 'arm-none-eabi.cmake'}"]
    if flags:
        args.append(f"-DARM_CPU_FLAGS={flags}")
    _cmake(*args)
    _cmake("--build", str(build))
    lib, elf = build / "lenet5" / "liblenet5.a", build / "app"
    assert lib.is_file() and elf.is_file()
    attrs = subprocess.run(["arm-none-eabi-readelf", "-A", str(elf)], capture_output=True, text=True).stdout
    assert "Tag_CPU_arch: v7E-M" in attrs if core == "cortex-m4f" else "Tag_CPU_arch: v7\n" in attrs, attrs
    assert ("Tag_ABI_VFP_args: VFP registers" in attrs) == float_abi, attrs
    symbols = subprocess.run(["arm-none-eabi-nm", str(lib)], capture_output=True, text=True).stdout
    assert re.search(r" T lenet5_predict$", symbols, re.M) and re.search(r" T lenet5_selftest$", symbols, re.M)
    soft_float_calls = re.findall(r" U (__aeabi_f\w+)", symbols)
    assert soft_float_calls == [], soft_float_calls  # M4F: FPU instructions; M3: no float at all


def test_the_manifest_lists_exactly_the_generated_files(tmp_path):
    onnx_path = tmp_path / "m.onnx"
    onnx_path.write_bytes(modern_model(5))
    files = generate(onnx_path)
    assert set(cmake.OUTPUT_FILES) <= set(files)
    assert sorted(json.loads(files["manifest.json"])["files"]) == sorted(files)
