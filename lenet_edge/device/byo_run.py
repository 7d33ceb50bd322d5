"""`lenet-edge run --c DIR --onnx MODEL`: a model compiled by `lenet-edge compile` on an emulated
Cortex-M (QEMU), against ONNX Runtime.

The firmware is the board's startup and console (firmware/<board>/, firmware/common/), the generic
firmware/byo/main_byo.c, the compiled model and the inputs compiled into flash (byo_inputs.h). It
prints every output element as hex; each must equal ORT's (the pinned session on MODEL) bit for bit.
With `profile`, the QEMU instruction-count plugin (firmware/tools/insncount.c) counts the
instructions of each NAME_run call.

Every external program (make with arm-none-eabi-gcc, QEMU) runs through lenet_edge.proc.run: time
limits scale with the work (C sources and their size for make; inputs times MACs for QEMU) and a
timeout is one line naming the program.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from lenet_edge import proc
from lenet_edge.device import firmware as fw
from lenet_edge.device.boards import generated_files
from lenet_edge.errors import LenetEdgeError

COMMON = ("le_crt0.c", "le_fault.c", "le_print.c", "le_semihost.c")
BOARD_FILES = ("startup.c", "console.c")
CTYPES = {"float32": "float", "int8": "int8_t", "uint8": "uint8_t"}
NP = {"float32": np.float32, "int8": np.int8, "uint8": np.uint8}
# make's limit: the LeNet-5 build's per-file limits (firmware.py) plus 60 s per MB of C source (the
# weights and byo_inputs.h are large array initializers).
MAKE_PER_SOURCE_MB_TIMEOUT_S = 60.0
# QEMU's limit: a boot floor plus a time per inference proportional to the model's MACs. Measured
# (mobile-qdq-s8-pc, 169,184 MACs, 10 inputs, lm3s6965evb soft float, profiling plugin on): 55
# instructions per MAC, 0.27 s for 93 M instructions, so ~1.6e-7 s per MAC; the M4F is faster. The
# limit, 2e-6 s per MAC (x3 with the plugin), is >10x that on a busy machine.
QEMU_BOOT_TIMEOUT_S = 60.0
QEMU_PER_MAC_TIMEOUT_S = 2e-6
QEMU_PER_INPUT_TIMEOUT_S = 0.1


def _inputs_header(m: dict, x: np.ndarray | None) -> str:
    name, up = m["name"], m["name"].upper()
    x = np.zeros((0, *m["input"]["shape"][1:]), NP[m["input"]["dtype"]]) if x is None else x
    in_t, out_t = CTYPES[m["input"]["dtype"]], CTYPES[m["outputs"][0]["dtype"]]
    flat = np.ascontiguousarray(x).reshape(len(x), int(np.prod(m["input"]["shape"][1:])))  # [N, INPUT_SIZE]; N may be 0
    if m["input"]["dtype"] == "float32":
        rows = [", ".join(_c_float(v) for v in r) for r in flat]
    else:
        rows = [", ".join(str(int(v)) for v in r) for r in flat]
    body = ",\n".join("    {" + r + "}" for r in rows)
    if not rows:                       # no inputs: one placeholder row, none run
        body = "    {0}"
    return (f'#include "{name}.h"\n#define LE_BYO_RUN {name}_run\n#define LE_BYO_COUNT {len(x)}u\n'
            f"#define LE_BYO_OUTPUT_SIZE {up}_OUTPUT_SIZE\ntypedef {out_t} le_out_t;\n"
            f"static const {in_t} le_byo_inputs[{max(len(x), 1)}][{up}_INPUT_SIZE] = {{\n{body}\n}};\n")


def _c_float(v: np.float32) -> str:
    """A float32 as a C hex-float literal (exact)."""
    return float(v).hex() + "f"


def project_files(c_dir: Path, board: str, x: np.ndarray | None) -> dict[str, bytes]:
    """Every file of a flat, buildable firmware project for the compiled model in c_dir: the board's
    startup, console, linker script and board.mk, the shared sources, firmware/byo/main_byo.c and
    Makefile, the model's C, and byo_inputs.h (x compiled into flash; none: an empty batch)."""
    fw.board_spec(board)
    c_dir = Path(c_dir)
    m = json.loads((c_dir / "manifest.json").read_text())
    root = fw.firmware_root()
    files: dict[str, bytes] = {}
    for f in BOARD_FILES:
        files[f] = (root / board / f).read_bytes()
    for f, text in generated_files(board).items():   # linker.ld and board.mk, from the board registry
        files[f] = text.encode()
    for p in sorted((root / "common").iterdir()):
        if p.name in COMMON or p.suffix in (".h", ".ld"):
            files[p.name] = p.read_bytes()
    files["main_byo.c"] = (root / "byo" / "main_byo.c").read_bytes()
    files["Makefile"] = (root / "byo" / "Makefile").read_bytes()
    for f in (f"{m['name']}.c", f"{m['name']}.h", f"{m['name']}_weights.h"):
        files[f] = (c_dir / f).read_bytes()
    files["model.mk"] = f"MODEL := {m['name']}\n".encode()
    files["byo_inputs.h"] = _inputs_header(m, x).encode()
    return files


def make_timeout(project: Path) -> float:
    """Seconds for `make` in a project folder: per C file compiled and per MB of .c/.h text."""
    sources = [p for p in Path(project).iterdir() if p.suffix in (".c", ".h")]
    source_mb = sum(p.stat().st_size for p in sources) / 1e6
    n_c = sum(p.suffix == ".c" for p in sources)
    return fw.MAKE_BASE_TIMEOUT_S + fw.MAKE_PER_SOURCE_TIMEOUT_S * n_c + MAKE_PER_SOURCE_MB_TIMEOUT_S * source_mb


def qemu_timeout(n_inputs: int, macs: int) -> float:
    """Seconds for one QEMU boot that runs NAME_run on n_inputs inputs of a model of `macs` MACs."""
    return QEMU_BOOT_TIMEOUT_S + n_inputs * (QEMU_PER_INPUT_TIMEOUT_S + QEMU_PER_MAC_TIMEOUT_S * macs)


def make(project: Path, board: str, defs: tuple[str, ...] = ()) -> Path:
    """`make` in a project folder for `board` (arm-none-eabi-gcc); returns firmware.elf."""
    fw.require_tools("make", "arm-none-eabi-gcc")
    cmd = ["make", "-s", "-C", str(project)] + ([f"DEFS={' '.join(defs)}"] if defs else [])
    done = proc.run(cmd, make_timeout(project), name="make", capture_output=True, text=True,
                    stdin=subprocess.DEVNULL)
    if done.returncode != 0:    # "does not fit: FLASH (256 KiB) overflowed by N bytes", or the first error
        raise LenetEdgeError(fw._build_error(Path(project), fw.board_spec(board), done.stdout + done.stderr))
    return Path(project) / "firmware.elf"


def build(c_dir: Path, x: np.ndarray, board: str, work: Path) -> Path:
    for name, data in project_files(c_dir, board, x).items():
        (work / name).write_bytes(data)
    return make(work, board, tuple(fw.board_spec(board).qemu_defs))


def export_firmware_cmd(c_dir: Path, board: str, out: Path | None = None, inputs: Path | None = None,
                        echo=print) -> Path:
    """`lenet-edge export --target firmware --c DIR --board B`: write the project into
    out (default DIR/firmware/<board>) as one set, then build it there."""
    from lenet_edge import fsutil
    from lenet_edge.check import byo

    c_dir = Path(c_dir)
    if not (c_dir / "manifest.json").is_file():
        raise LenetEdgeError(f"{c_dir}: no manifest.json (run `lenet-edge compile`)")
    m = json.loads((c_dir / "manifest.json").read_text())
    if len(m["outputs"]) != 1:
        raise LenetEdgeError(f"{c_dir}: firmware supports models with one output (this one has {len(m['outputs'])})")
    x = byo.load_inputs(inputs, m["input"]["shape"], m["input"]["dtype"]) if inputs is not None else None
    out = Path(out) if out is not None else c_dir / "firmware" / board
    fsutil.replace_folder_files(out, project_files(c_dir, board, x))
    elf = make(out, board)
    sizes = fw.section_sizes(elf)
    flash = sum(sizes.get(k, 0) for k in (".text", ".rodata", ".data"))
    echo(f"wrote {out}/ (make: firmware.elf, .bin, .hex) for {board}: flash {flash:,} B "
         f"(text+rodata+data), {0 if x is None else len(x)} input(s) in flash")
    return out


def run(onnx_path: Path, c_dir: Path, x: np.ndarray, board: str = "mps2-an386", profile: bool = False) -> dict:
    from lenet_edge.check import byo
    from lenet_edge.device import emulator as em
    from lenet_edge.device import profile as prof

    fw.require_tools(em.QEMU)
    spec = fw.board_spec(board)   # inputs are compiled into flash on every board
    m = json.loads((Path(c_dir) / "manifest.json").read_text())
    if len(m["outputs"]) != 1:
        raise LenetEdgeError(f"{c_dir}: run supports models with one output (this one has {len(m['outputs'])})")
    out_meta = m["outputs"][0]
    with tempfile.TemporaryDirectory(prefix="lenet-edge-byo-fw-") as tmp:
        work = Path(tmp)
        elf = build(c_dir, x, board, work)
        plugin, counts = None, work / "insncount.txt"
        if profile:
            so = prof.build_plugin(work)
            syms = prof.symbols(elf)
            text_lo = min(a for a, _ in syms.values() if a > 0)
            text_hi = text_lo + fw.section_sizes(elf).get(".text", 0) + 4096
            events = ",".join(f"event=0x{syms[s][0]:x}:{max(syms[s][1], 2)}" for s in ("le_profile_begin", "le_profile_end"))
            plugin = f"{so},out={counts},lo=0x{text_lo:x},hi=0x{text_hi:x},{events}"
        # the profiling plugin runs a callback per instruction: three times the limit
        limit = qemu_timeout(len(x), int(m["macs"])) * (3 if profile else 1)
        done = proc.run(em.qemu_command(spec.machine, elf, plugin), limit, name=f"{em.QEMU} -M {spec.machine}",
                        capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=work)
        lines = done.stdout.splitlines()
        if not any(ln.startswith("BYO DONE") for ln in lines):
            cause = em.qemu_cause(done.stderr) or (lines or ["no output"])[-1]
            raise LenetEdgeError(f"{elf.name}: the firmware did not finish (exit {done.returncode}): {cause}")
        rows = [ln.split() for ln in lines if ln.startswith("Y ")]
        words = np.array([[int(v, 16) for v in r[3:]] for r in rows], dtype=np.uint64)
        rcs = [int(r[2]) for r in rows]
        instructions = []
        if profile:
            intervals = prof.read_plugin_output(counts)
            instructions = [iv.instructions for iv in intervals if iv.kind_end == 1]
        flash = fw.section_sizes(elf)
    if out_meta["dtype"] == "float32":
        mine = words.astype(np.uint32).view(np.float32)
    else:
        mine = words.astype(np.uint8).view(NP[out_meta["dtype"]])
    mine = mine.reshape(len(x), *out_meta["shape"][1:])
    same = byo.same_bits([mine], byo.ort_outputs(Path(onnx_path), x)[:1])
    return {"board": board, "inputs": len(x), "identical": int(same.sum()), "rc_ok": all(r == 0 for r in rcs),
            "instructions": instructions, "sections": flash}


def run_cmd(onnx_path: Path, c_dir: Path, inputs: Path | None, random: int | None, board: str,
            profile: bool, echo=print) -> dict:
    from lenet_edge.check import byo

    m = json.loads((Path(c_dir) / "manifest.json").read_text()) if (Path(c_dir) / "manifest.json").is_file() else None
    if m is None:
        raise LenetEdgeError(f"{c_dir}: no manifest.json (run `lenet-edge compile`)")
    prep = byo.prepare(onnx_path)
    if inputs is not None:
        x = byo.load_inputs(inputs, m["input"]["shape"], m["input"]["dtype"])
    else:
        x = byo.random_inputs(prep.model, m["input"]["shape"], m["input"]["dtype"], random or 100)
    r = run(onnx_path, c_dir, x, board, profile)
    extra = ""
    if r["instructions"]:
        ins = r["instructions"]
        extra = f"; {min(ins):,}-{max(ins):,} instructions per inference"
        if m["macs"]:
            extra += f" ({min(ins) / m['macs']:.2f} per MAC)"
    echo(f"run {c_dir} on {board} (QEMU): {r['identical']}/{r['inputs']} inputs bit-exact with ONNX Runtime{extra}")
    if r["identical"] != r["inputs"] or not r["rc_ok"]:
        raise LenetEdgeError(f"{c_dir}: {r['inputs'] - r['identical']} inputs differ from ONNX Runtime on {board}")
    return r
