"""`lenet-edge export --target firmware`: a self-contained, buildable firmware project per board.

A project folder `<run>/firmware/<board>/` is flat: the shared sources (firmware/common/), the
board's startup and console (firmware/<board>/), its board.mk and linker.ld (generated from the
board registry, lenet_edge/device/boards.py), and the generated model (`<run>/c/`). `make` in that
folder builds it anywhere a cross toolchain exists; this module runs the same `make` and reports
flash and RAM use from arm-none-eabi-size and the linker map.

The project is one transaction: `export --target firmware` assembles and builds it in a staging
copy beside it and swaps that in as one step (fsutil.atomic_dir), so a failed export leaves the
previous project, ELF and manifest untouched. Builds of one project hold a lock file beside it.
"""
from __future__ import annotations

import contextlib
import fcntl
import importlib.resources
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lenet_edge import __version__, fsutil, proc
from lenet_edge.compiler.emit import OUTPUT_FILES as MODEL_FILES  # the generated C files
from lenet_edge.device.boards import BOARDS, Board, board_spec, generated_files  # noqa: F401 (re-exported)
from lenet_edge.errors import LenetEdgeError

APT_INSTALL = "apt-get install --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
ARTIFACTS = ("firmware.elf", "firmware.bin", "firmware.hex", "firmware.map")
# make's time limit: fixed part + per C source compiled (measured: ~1-3 s per file on a loaded
# 2-core machine; the limits are ~20x that)
MAKE_BASE_TIMEOUT_S = 60.0
MAKE_PER_SOURCE_TIMEOUT_S = 30.0
TOOL_TIMEOUT_S = 60.0       # binutils on one ELF (size, nm, objdump), + 1 s per 100 KB


def firmware_root() -> Path:
    """The shipped firmware/ folder: package data `lenet_edge.firmware` (wheel or editable install),
    else the source checkout's top-level firmware/ (an editable install made before it existed)."""
    try:
        root = Path(str(importlib.resources.files("lenet_edge.firmware")))
        if (root / "common" / "main.c").is_file():
            return root
    except ModuleNotFoundError:
        pass
    checkout = Path(__file__).resolve().parents[2] / "firmware"
    if (checkout / "common" / "main.c").is_file():
        return checkout
    raise LenetEdgeError("firmware sources not found: reinstall lenet-edge (package lenet_edge.firmware)")


def require_tools(*names: str) -> None:
    """One-line error with the install command for the first missing tool."""
    for name in names:
        if shutil.which(name) is None:
            pkg = "make" if name == "make" else None
            hint = f"apt-get install --no-install-recommends {pkg}" if pkg else APT_INSTALL
            raise LenetEdgeError(f"{name} not found; install it with: {hint}")


def tool_output(args: list[str]) -> str:
    """stdout of a binutils call (size, nm, objdump); a missing tool or a failure is one line."""
    require_tools(args[0])
    target = Path(args[-1])
    size = target.stat().st_size if target.is_file() else 0
    done = proc.run(args, TOOL_TIMEOUT_S + size / 100e3, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise LenetEdgeError(f"{args[-1]}: {args[0]} failed: {last}")
    return done.stdout


# ---------------------------------------------------------------------------------------------
# Project assembly and build

def assemble_project(c_dir: Path, board: str, dest: Path) -> Path:
    """Copy shared + board sources, the registry's board.mk and linker.ld, and the generated model
    into `dest` (flat). Unchanged files keep their mtime, so make stays incremental."""
    board_spec(board)
    root = firmware_root()
    c_dir = Path(c_dir)
    missing = [f for f in MODEL_FILES if not (c_dir / f).is_file()]
    if missing:
        raise LenetEdgeError(f"{c_dir}: generated C incomplete, missing {', '.join(missing)} "
                             "(run `lenet-edge export --target c`)")
    sources = sorted((root / "common").iterdir()) + sorted((root / board).iterdir())
    sources += sorted(p for p in c_dir.iterdir() if p.suffix in (".c", ".h"))  # lenet5*.c/.h
    fsutil.ensure_writable_dir(dest)
    files = {src.name: src.read_bytes() for src in sources
             if src.is_file() and not src.name.startswith((".", "__"))}
    files.update({name: text.encode() for name, text in generated_files(board).items()})
    for name, data in files.items():
        target = dest / name
        if not target.is_file() or target.read_bytes() != data:
            fsutil.write_bytes(target, data)
    return dest


@dataclass
class BuildResult:
    elf: Path
    sections: dict[str, int]   # section name -> bytes, from arm-none-eabi-size -A
    objects: dict[str, dict[str, int]]  # lenet5*.o -> {"text", "rodata", "data", "bss"} (map file)

    @property
    def model_bytes(self) -> dict[str, int]:
        """What the generated model (all lenet5*.o together) puts in the image."""
        return {k: sum(o[k] for o in self.objects.values()) for k in ("text", "rodata", "data", "bss")}

    @property
    def flash(self) -> int:
        s = self.sections
        return sum(s.get(k, 0) for k in (".isr_vector", ".text", ".rodata", ".ARM.exidx", ".data"))

    @property
    def ram_static(self) -> int:
        return self.sections.get(".data", 0) + self.sections.get(".bss", 0)

    @property
    def stack_reserved(self) -> int:
        return self.sections.get(".stack", 0)


_held_locks: dict[Path, int] = {}


@contextlib.contextmanager
def project_lock(project: Path, board: str):
    """Serialise builds and swaps of one board's project (`<run>/firmware/.<board>.lock`): two
    commands on the same board in the same run folder take turns instead of racing. Re-entrant."""
    path = Path(project).parent / f".{board}.lock"
    if _held_locks.get(path):
        _held_locks[path] += 1
        try:
            yield
        finally:
            _held_locks[path] -= 1
        return
    fsutil.ensure_writable_dir(path.parent)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        _held_locks[path] = 1
        try:
            yield
        finally:
            _held_locks.pop(path, None)
            fcntl.flock(f, fcntl.LOCK_UN)


def make(project: Path, board: str, build: str = "build", defs: tuple[str, ...] = (),
         images: str | None = None, out: str | None = None) -> BuildResult:
    """Run `make` in `project` with objects in `project/<build>` and the ELF, map and image object
    in `project/<out>` (default: the build folder); one-line errors. Paths are relative to the
    project, so the project's own path may hold spaces."""
    require_tools("make", "arm-none-eabi-gcc")
    spec = board_spec(board)
    out = out or build
    args = ["make", "-C", str(project), f"BUILD={build}", f"OUT={out}", f"DEFS={' '.join(defs)}"]
    if images is not None:
        args.append(f"IMAGES={images}")
    n_sources = len(list(Path(project).glob("*.c"))) + 1
    with project_lock(project, board):
        done = proc.run(args, MAKE_BASE_TIMEOUT_S + MAKE_PER_SOURCE_TIMEOUT_S * n_sources, name="make",
                        capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise LenetEdgeError(_build_error(project, spec, done.stdout + done.stderr))
    elf = project / out / "firmware.elf"
    return BuildResult(elf, section_sizes(elf), model_contribution(project / out / "firmware.map"))



def _build_error(project: Path, spec: Board, log: str) -> str:
    over = re.search(r"region [`'](\w+)' overflowed by (\d+) bytes", log)
    if over:
        region, nbytes = over.group(1), int(over.group(2))
        size = spec.flash_bytes if region == "FLASH" else spec.ram_bytes
        return (f"{spec.name}: the firmware does not fit: {region} ({size // 1024} KiB) "
                f"overflowed by {nbytes} bytes")
    for line in log.splitlines():
        if "error" in line.lower():
            return f"{project}: build failed: {line.strip()}"
    last = log.strip().splitlines()[-1] if log.strip() else "no output"
    return f"{project}: build failed: {last}"


def section_sizes(elf: Path) -> dict[str, int]:
    out = tool_output(["arm-none-eabi-size", "-A", str(elf)])
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


_MAP_LINE = re.compile(r"^\s*(\.[\w.$]+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+\.o)\s*$")


def kept_input_sections(map_file: Path) -> list[tuple[str, int, str]]:
    """(section name, bytes, object file name) of every input section the image keeps, from the
    linker map (a long section name wraps onto its own line; the "Discarded input sections" list,
    what --gc-sections dropped, and the memory configuration are skipped)."""
    kept = []
    pending = None
    for line in map_file.read_text(errors="replace").splitlines():
        if line.startswith("Discarded input sections"):
            pending = "skip"
        elif line.startswith("Memory Configuration") or line.startswith("Linker script and memory map"):
            pending = None if line.startswith("Linker") else "skip"
        if pending == "skip":
            continue
        stripped = line.strip()
        if re.fullmatch(r"\.[\w.$]+", stripped):
            pending = stripped
            continue
        m = _MAP_LINE.match(line)
        if not m:
            pending = None
            continue
        name = m.group(1) or pending
        pending = None
        if name:
            kept.append((name, int(m.group(3), 16), Path(m.group(4)).name))
    return kept


def model_contribution(map_file: Path) -> dict[str, dict[str, int]]:
    """Bytes of each kind that each of the generated model's objects (lenet5*.o) puts in the image."""
    totals: dict[str, dict[str, int]] = {}
    for name, size, obj in kept_input_sections(map_file):
        if size == 0 or not obj.startswith("lenet5"):
            continue
        kind = name.split(".")[1]
        if kind in ("text", "rodata", "data", "bss"):
            per_obj = totals.setdefault(obj, {"text": 0, "rodata": 0, "data": 0, "bss": 0})
            per_obj[kind] += size
    return dict(sorted(totals.items()))


def describe_build(board: str, result: BuildResult) -> str:
    spec = board_spec(board)
    s, m = result.sections, result.model_bytes
    return (f"{board}: flash {result.flash} B of {spec.flash_bytes // 1024} KiB "
            f"(text {s.get('.text', 0)}, rodata {s.get('.rodata', 0)}, data {s.get('.data', 0)}; "
            f"model: text {m['text']}, rodata {m['rodata']}), "
            f"RAM {result.ram_static} B static + {result.stack_reserved} B stack "
            f"of {spec.ram_bytes // 1024} KiB (model: data {m['data']}, bss {m['bss']})")


def build_summary(board: str, result: BuildResult) -> dict:
    spec = board_spec(board)
    return {
        "board": board, "cpu": spec.cpu, "flash_total_bytes": spec.flash_bytes, "ram_total_bytes": spec.ram_bytes,
        "sections": dict(sorted(result.sections.items())), "flash_used_bytes": result.flash,
        "ram_static_bytes": result.ram_static, "stack_reserved_bytes": result.stack_reserved,
        "model_bytes": result.model_bytes, "model_objects": result.objects,
    }


# ---------------------------------------------------------------------------------------------
# The command

def project_dir(run_dir: Path, board: str) -> Path:
    """Absolute: QEMU, make and the plugin run inside it, so no path handed to them may be relative."""
    return (Path(run_dir) / "firmware" / board).resolve()


def ensure_c(run_dir: Path) -> Path:
    """<run>/c, (re)generated from <run>/lenet5_int8.onnx when absent or made from another model.
    A complete <run>/c without the ONNX beside it (C copied on its own) is used as it is."""
    from lenet_edge.compiler import ensure_c as ensure_generated

    c_dir, onnx_path = Path(run_dir) / "c", Path(run_dir) / "lenet5_int8.onnx"
    if onnx_path.is_file() or not all((c_dir / f).is_file() for f in MODEL_FILES):
        ensure_generated(onnx_path, c_dir)
    return c_dir


def export_firmware(run_dir: Path, board: str, c_dir: Path | None = None, quiet: bool = False) -> BuildResult:
    """Assemble and build <run>/firmware/<board>/ in a staging copy, copy the artifacts beside the
    sources, and swap the whole project in; on any failure the previous project stays as it was."""
    require_tools("arm-none-eabi-gcc", "make")
    c_dir = Path(c_dir) if c_dir is not None else ensure_c(run_dir)
    dest = project_dir(run_dir, board)
    manifest = _read_json(c_dir / "manifest.json", required=True)
    with project_lock(dest, board), fsutil.atomic_dir(dest, keep=True) as stage:
        assemble_project(c_dir, board, stage)
        staged = make(stage, board)
        for name in ARTIFACTS:
            fsutil.write_bytes(stage / name, (stage / "build" / name).read_bytes())
        manifest["firmware"] = {**build_summary(board, staged), "lenet_edge_version": __version__,
                                "artifacts": list(ARTIFACTS[:3])}
        try:
            old = _read_json(stage / "manifest.json")
        except LenetEdgeError:
            old = {}  # an unreadable old manifest is replaced, not merged
        if old.get("measured") and {k: v for k, v in old.items() if k != "measured"} == manifest:
            manifest["measured"] = old["measured"]  # same model, same build: benchmarks/mcu.py's figures hold
        fsutil.write_json(stage / "manifest.json", manifest)
    result = BuildResult(dest / "build" / "firmware.elf", staged.sections, staged.objects)
    if not quiet:
        print(f"wrote {dest}/firmware.elf (.bin, .hex, .map)")
        print(describe_build(board, result))
    return result


def _read_json(path: Path, required: bool = False) -> dict:
    """A manifest as a dict; absent -> {} unless `required`; invalid -> one-line error."""
    if not required and not Path(path).exists():
        return {}
    return fsutil.read_json(path, hint="run `lenet-edge export --target c` to regenerate it")


def export_firmware_cmd(run_dir: Path, board: str) -> None:
    export_firmware(run_dir, board)
