"""CMake files for the generated C, so a user's project takes it with `add_subdirectory`:

    CMakeLists.txt        static library target `lenet5` (alias lenet5::lenet5) built from exactly the
                          C files the compiler wrote beside it, with the flags exactness needs
    arm-none-eabi.cmake   a toolchain file for cross builds with the GNU Arm Embedded compiler

The source list is taken from the compiler's output set (`render(files)`), never written here.
Both APIs of the compiler use it: `export --target c` (LeNet-5: target lenet5, entry lenet5_predict, the
LENET5_INT_REQUANT option) and `lenet-edge compile` (a user's model: target NAME, entry NAME_run,
float32 steps that need libm's fmaf/floorf; see `for_compiled_model`).
Printed through codegen_templates/CMakeLists.txt.j2 and arm-none-eabi.cmake.j2 (docs/integration.md).
"""
from __future__ import annotations

from typing import Iterable

from lenet_edge import __version__
from lenet_edge.errors import LenetEdgeError

OUTPUT_FILES = ("CMakeLists.txt", "arm-none-eabi.cmake")
TARGET = "lenet5"
# Cortex-M4F by default; a user picks another core with -DARM_CPU_FLAGS="..." at configure time.
DEFAULT_ARM_CPU_FLAGS = "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"


def render(files: Iterable[str], target: str = TARGET, command: str = "export --target c",
           entry: str = "lenet5_predict()", int_requant: bool = True, libm: bool = False,
           header: str | None = None) -> dict[str, str]:
    """{file name: text} of the CMake files for the generated files named in `files`: a library
    `target` whose users include `header` (default target.h) and call `entry`. int_requant: the C
    has the LENET5_INT_REQUANT option (and uses it by itself without an FPU); libm: the C calls
    <math.h> functions, so the library links m."""
    names = sorted(files)
    sources = [n for n in names if n.endswith(".c")]
    headers = [n for n in names if n.endswith(".h")]
    if not sources:
        raise LenetEdgeError("internal error: the compiler wrote no C source for CMakeLists.txt to build")
    ctx = {"version": __version__, "target": target, "sources": sources, "headers": headers,
           "arm_cpu_flags": DEFAULT_ARM_CPU_FLAGS, "command": command, "entry": entry,
           "header": header or f"{target}.h", "int_requant": int_requant, "libm": libm}
    from lenet_edge.compiler.emit import template_env

    env = template_env()
    return {name: env.get_template(f"{name}.j2").render(**ctx) for name in OUTPUT_FILES}


# Target names CMake reserves (or, for m, the libm the library links): NAME gets a _lib suffix there.
CMAKE_RESERVED = {"all", "clean", "depend", "edit_cache", "help", "install", "list_install_components", "m",
                  "package", "package_source", "preinstall", "rebuild_cache", "test"}


def cmake_target(name: str) -> str:
    """The CMake library target of model NAME (alias NAME::NAME): NAME itself unless CMake reserves it."""
    return f"{name}_lib" if name.lower() in CMAKE_RESERVED else name


def for_compiled_model(files: Iterable[str], target: str, name: str) -> dict[str, str]:
    """The CMake files for model `name` compiled by `lenet-edge compile` (library `target`, entry
    name_run). Its kernels call fmaf and floorf; on FPU-less cores they requantize with integers
    by themselves (kernels/byo/le_byo.h LE_INT_REQUANT), so the CMake file has no option for it."""
    return render(files, target=target, command="compile", entry=f"{name}_run()", int_requant=False, libm=True,
                  header=f"{name}.h")
