"""Cost of one inference on the emulated Cortex-M: executed instructions per layer, counted by our
QEMU TCG plugin (firmware/tools/insncount.c) between the generated code's lenet5_profile_mark()
calls, plus a Cortex-M4 cycle estimate from instruction classes.

Per image the firmware (main.c, -DLENET5_PROFILE) executes the events
    le_profile_begin, mark(-1), mark(0), ..., mark(L-1), le_profile_end
so the intervals are: call overhead, layer 0 ... layer L-1, tail (argmax/argmin and return). The
marker functions' own instructions are not counted; the 2 instructions that set up and branch to
each marker are (they sit in the model's code).
"""
from __future__ import annotations

import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lenet_edge import proc
from lenet_edge.device import emulator as em
from lenet_edge.device import firmware as fw
from lenet_edge.device.boards import board_spec
from lenet_edge.errors import LenetEdgeError

PLUGIN_BUILD_TIMEOUT_S = 120.0  # one small C file with the host compiler

EVENTS = ("le_profile_begin", "lenet5_profile_mark", "le_profile_end")  # plugin event ids 0, 1, 2

# Cortex-M4 cycles per instruction class (ARM Cortex-M4 TRM r0p1, section 3.3.1, "Cortex-M4
# instruction set summary"; FPU: section 7.2.3). An estimate: it assumes zero-wait-state memory, loads
# that do not pipeline with a neighbour (LDR 2; back-to-back loads can take 1), branches taken
# half of the time when conditional (taken: 1 + P with pipeline refill P = 1..3, here 2), divides
# at their midpoint (2..12).
CYCLES = {"alu": 1, "load": 2, "store": 2, "multi": None, "mul": 1, "div": 7, "branch": 3,
          "branch_cond": 2, "fp": 1, "fp_mem": 2, "fp_div": 14}


def classify_mnemonic(mnemonic: str, operands: str) -> str:
    m = mnemonic.lower().split(".")[0]
    if m.startswith("v"):
        if m.startswith(("vldr", "vstr", "vpush", "vpop", "vldm", "vstm")):
            return "fp_mem"
        return "fp_div" if m.startswith(("vdiv", "vsqrt")) else "fp"
    if m in ("push", "pop") or m.startswith(("ldm", "stm")):
        return "multi"
    if m.startswith("ld"):
        return "load"
    if m.startswith("st"):
        return "store"
    if m in ("sdiv", "udiv"):
        return "div"
    if re.match(r"^(mul|mla|mls|smul|smla|smls|umul|umla|umaal|smmul|smmla|smmls|smuad|smusd|smlad|smlsd)", m):
        return "mul"
    if m in ("b", "bl", "blx", "bx") or m in ("tbb", "tbh"):
        return "branch"
    if m in ("cbz", "cbnz") or re.match(r"^b(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le)$", m):
        return "branch_cond"
    return "alu"


def cycles_for(kind: str, operands: str) -> int:
    if kind == "multi":  # LDM/STM/PUSH/POP: 1 + number of registers
        regs = re.search(r"\{([^}]*)\}", operands)
        n = 0
        for part in (regs.group(1).split(",") if regs else []):
            part = part.strip()
            if "-" in part:
                a, b = part.split("-")
                n += int(b.strip().lstrip("rd")) - int(a.strip().lstrip("rd")) + 1 if a.strip()[1:].isdigit() else 1
            elif part:
                n += 1
        return 1 + max(n, 1)
    return CYCLES[kind]


def disassemble(elf: Path) -> dict[int, tuple[str, str, str]]:
    """address -> (mnemonic, operands, class) from arm-none-eabi-objdump -d."""
    out = fw.tool_output(["arm-none-eabi-objdump", "-d", "--no-show-raw-insn", str(elf)])
    table = {}
    for line in out.splitlines():
        m = re.match(r"^\s*([0-9a-f]+):\s+(\S+)\s*([^;@]*)", line)
        if m and not m.group(2).startswith("."):
            mnemonic, operands = m.group(2), m.group(3).strip()
            table[int(m.group(1), 16)] = (mnemonic, operands, classify_mnemonic(mnemonic, operands))
    return table


def symbols(elf: Path) -> dict[str, tuple[int, int]]:
    out = fw.tool_output(["arm-none-eabi-nm", "-S", str(elf)])
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            table[parts[3]] = (int(parts[0], 16) & ~1, int(parts[1], 16))
    return table


def build_plugin(dest: Path) -> Path:
    """Compile firmware/tools/insncount.c with the host C compiler into dest/libinsncount.so."""
    cc = shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")
    if cc is None:
        raise LenetEdgeError("no host C compiler (gcc) to build the QEMU plugin; install it with: apt-get install gcc")
    src = fw.firmware_root() / "tools" / "insncount.c"
    so = Path(dest) / "libinsncount.so"
    so.parent.mkdir(parents=True, exist_ok=True)
    done = proc.run([cc, "-shared", "-fPIC", "-O2", "-o", str(so), str(src)], PLUGIN_BUILD_TIMEOUT_S,
                    capture_output=True, text=True)
    if done.returncode != 0:
        raise LenetEdgeError(f"{src}: plugin build failed: {(done.stderr.strip().splitlines() or ['?'])[0]}")
    return so


@dataclass
class Interval:
    kind_end: int                 # event id that closed the interval
    instructions: int
    per_address: Counter = field(default_factory=Counter)


def read_plugin_output(path: Path) -> list[Interval]:
    intervals: list[Interval] = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        parts = line.split()
        try:
            if parts and parts[0] == "E":
                intervals.append(Interval(int(parts[2]), int(parts[3])))
            elif parts and parts[0] == "A" and intervals:
                intervals[-1].per_address[int(parts[1], 16)] = int(parts[2])
        except (ValueError, IndexError):
            raise LenetEdgeError(f"{path}: unparsable plugin output at line {number}: {line[:80]!r}") from None
    return intervals


@dataclass
class Profile:
    layers: list[dict]            # per layer: instructions (per image), classes, cycles estimate
    total_instructions: list[int]  # per image, begin -> end
    total_cycles_estimate: int     # first image
    stack_peak: int


def per_image(intervals: list[Interval]) -> list[list[Interval]]:
    """Split the event stream into images: from each le_profile_begin to the next le_profile_end."""
    images, current = [], None
    for iv in intervals:
        if iv.kind_end == 0:        # begin closes the I/O gap: start a new image
            current = []
        elif current is not None:
            current.append(iv)
            if iv.kind_end == 2:
                images.append(current)
                current = None
    return images


def profile(project: Path, board: str, images: np.ndarray, layer_names: list[str]) -> Profile:
    """Build the profiled firmware, run `images` under the plugin, and attribute every instruction."""
    build = "build-profile"
    spec = board_spec(board)
    defs = ("-DLENET5_PROFILE",)
    result = fw.make(project, board, build=build, defs=tuple(spec.qemu_defs) + defs,
                     images=f"{build}/images.bin" if spec.input == "batch" else None)
    syms = symbols(result.elf)
    missing = [s for s in EVENTS if s not in syms]
    if missing:
        raise LenetEdgeError(f"{result.elf}: profiled build lacks {', '.join(missing)}")
    text_lo = min(a for a, _ in syms.values() if a > 0)
    text_hi = text_lo + fw.section_sizes(result.elf).get(".text", 0) + 4096
    plugin_so = build_plugin(project / build)
    with tempfile.TemporaryDirectory(prefix="lenet-edge-prof-") as tmp:
        out = Path(tmp) / "insncount.txt"
        events = ",".join(f"event=0x{syms[s][0]:x}:{max(syms[s][1], 2)}" for s in EVENTS)
        plugin = f"{plugin_so},out={out},lo=0x{text_lo:x},hi=0x{text_hi:x},{events}"
        device, runs = em.classify(project, board, images, defs=defs, plugin=plugin, build=build)
        intervals = read_plugin_output(out)
    groups = per_image(intervals)
    if len(groups) != len(images):
        raise LenetEdgeError(f"plugin saw {len(groups)} inferences, expected {len(images)}")
    n_layers = len(groups[0]) - 2   # minus call overhead and tail
    names = layer_names if len(layer_names) == n_layers else [f"layer {i}" for i in range(n_layers)]
    names = ["(call)"] + names + ["(tail: argmax/argmin, return)"]
    disasm = disassemble(result.elf)
    layers = []
    for j, name in enumerate(names):
        counts = [g[j].instructions for g in groups]
        classes: Counter = Counter()
        cycles = 0
        for addr, n in groups[0][j].per_address.items():
            mnemonic, operands, kind = disasm.get(addr, ("?", "", "alu"))
            classes[kind] += n
            cycles += n * cycles_for(kind, operands)
        layers.append({"name": name, "instructions": counts[0], "instructions_min": min(counts),
                       "instructions_max": max(counts), "classes": dict(sorted(classes.items())),
                       "cycles_estimate": cycles})
    totals = [sum(iv.instructions for iv in g) for g in groups]
    return Profile(layers, totals, sum(layer["cycles_estimate"] for layer in layers), device.stack_peak)
