"""Cost of one inference on the emulated Cortex-M: executed instructions per layer, counted by our
QEMU TCG plugin (firmware/tools/insncount.c) between the generated code's lenet5_profile_mark()
calls, plus a Cortex-M4 cycle estimate from the TRM's timing rules applied to what ran.

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

# Cortex-M4 cycle estimate (ARM Cortex-M4 TRM r0p1: section 3.3.1 "Cortex-M4 instruction set
# summary" and section 3.3.2 "Load/store timings"; FPU: section 7.2.3). Zero-wait-state memory.
# Per executed instruction:
#   data processing, MUL/MLA, long multiply, SMLAD/SMLAL..., SSAT, extend, PKH    1
#   SDIV/UDIV                                                 7 (2..12, the midpoint)
#   single load LDR/LDRB/LDRH/LDRSB/LDRSH                      2, or 1 when it directly follows a
#       single load whose destination (and written-back base) is not in its address ("LDR [any]
#       are pipelined"; the write-back exception is ours, to stay on the safe side)
#   single store STR/STRB/STRH, immediate offset              1 ("always one cycle"), register offset 2
#   load/store directly after a store                         +1 ("nothing can be pipelined after the store")
#   LDRD/STRD                                                 3 (not pipelined with neighbours)
#   LDM/STM/PUSH/POP                                          1 + N (+ P when it loads the PC)
#   load/store whose address register the instruction just before it wrote (ALU or multiply)  +1
#   branch B/BL/BX/BLX, and a taken conditional branch or CBZ/CBNZ   1 + P;  not taken 1;  TBB/TBH 6
#   FPU: VADD/VMUL/VCVT/VMOV(one core register)... 1; VMOV of two core registers 2; VMLA/VFMA... 3;
#       VLDR/VSTR 2; VLDM/VSTM/VPUSH/VPOP 1 + N; VDIV/VSQRT 14
# P, the pipeline refill, is 1..3 (target alignment and width, early speculation): here 2. "Directly
# follows" and "taken" come from the plugin's fall-through counts (firmware/tools/insncount.c), so
# they are what ran, not a guess. Not added: LDR [PC] fetch contention ("might add a cycle"; counted
# by estimate_spread, with the taken branches that P weighs). Not modelled: unaligned accesses,
# flash wait states.
PIPELINE_REFILL = 2
FP_MAC = ("vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms")
_REG = re.compile(r"\b(r1[0-5]|r[0-9]|sl|fp|ip|sp|lr|pc)\b")
_NO_DEST = ("cmp", "cmn", "tst", "teq", "it")


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


@dataclass(frozen=True)
class Insn:
    """One disassembled instruction, with what the cycle model needs to know about it."""
    mnemonic: str
    operands: str
    kind: str                    # classify_mnemonic
    next_address: int            # the instruction after it in memory

    @property
    def base(self) -> str:
        return self.mnemonic.lower().split(".")[0]

    def address_registers(self) -> set[str]:
        """Registers that form a load/store address: inside [...], or the base of LDM/STM."""
        inside = re.search(r"\[([^\]]*)\]", self.operands)
        if inside:
            return set(_REG.findall(inside.group(1)))
        if self.kind in ("multi", "fp_mem") and not self.base.startswith(("push", "pop", "vpush", "vpop")):
            return set(_REG.findall(self.operands.split(",")[0]))
        return set()

    def written_register(self) -> str | None:
        """The first destination of a data-processing or multiply instruction (None if it has none)."""
        if self.kind not in ("alu", "mul") or self.base.startswith(_NO_DEST):
            return None
        found = _REG.findall(self.operands.split(",")[0])
        return found[0] if found else None

    def written_base(self) -> str | None:
        """The base register a load/store writes back ([Rn, #i]! or [Rn], #i)."""
        m = re.match(r"[^\[]*\[\s*(\w+)[^\]]*\](!|,)", self.operands)
        return m.group(1) if m else None

    def loaded_register(self) -> str | None:
        found = _REG.findall(self.operands.split(",")[0]) if self.kind == "load" else []
        return found[0] if found else None

    @property
    def loads_pc(self) -> bool:
        """LDM/POP with the PC in its register list: a branch, so it pays the pipeline refill."""
        return self.kind == "multi" and "pc" in _REG.findall(self.operands.split("{")[-1])

    def taken(self, runs: int, sequential: Counter) -> int:
        """How many of `runs` executions branched away: all for B/BL/BX/BLX/TBB/TBH and a POP of the
        PC, for a conditional branch the runs whose next instruction was not the one after it."""
        if self.kind == "branch" or self.loads_pc:
            return runs
        if self.kind == "branch_cond":
            return runs - min(runs, sequential.get(self.next_address, 0))
        return 0

    @property
    def is_single_load(self) -> bool:
        return self.kind == "load" and not self.base.startswith(("ldrd", "ldrex"))

    @property
    def is_single_store(self) -> bool:
        return self.kind == "store" and not self.base.startswith(("strd", "strex"))


def register_count(operands: str) -> int:
    """N of LDM/STM/PUSH/POP and VLDM/VPUSH...: the registers in {...}, ranges included."""
    regs = re.search(r"\{([^}]*)\}", operands)
    n = 0
    for part in (regs.group(1).split(",") if regs else []):
        part = part.strip()
        if "-" in part:
            a, b = (x.strip() for x in part.split("-"))
            n += int(b[1:]) - int(a[1:]) + 1 if a[1:].isdigit() and b[1:].isdigit() else 1
        elif part:
            n += 1
    return max(n, 1)


def own_cycles(insn: Insn) -> int:
    """The instruction's cycles on its own: no neighbour effects, branches not taken."""
    kind, base = insn.kind, insn.base
    if kind == "multi":
        return 1 + register_count(insn.operands) + (PIPELINE_REFILL if insn.loads_pc else 0)
    if kind == "load":
        return 3 if base.startswith("ldrd") else 2
    if kind == "store":
        if base.startswith("strd"):
            return 3
        return 2 if len(insn.address_registers()) > 1 else 1   # [Rn, Rm]: a register offset
    if kind == "div":
        return 7
    if kind == "branch":
        return 6 if base in ("tbb", "tbh") else 1 + PIPELINE_REFILL
    if kind == "branch_cond":
        return 1
    if kind == "fp_mem":
        return 1 + register_count(insn.operands) if base.startswith(("vldm", "vstm", "vpush", "vpop")) else 2
    if kind == "fp_div":
        return 14
    if kind == "fp":
        if base.startswith(FP_MAC):
            return 3
        if base == "vmov" and len(_REG.findall(insn.operands)) == 2:
            return 2
        return 1
    return 1


def neighbour_cycles(insn: Insn, before: Insn | None) -> int:
    """Cycles added (+) or saved (-) when `insn` runs right after `before` (fall-through)."""
    if before is None or insn.kind not in ("load", "store", "multi", "fp_mem"):
        return 0
    address = insn.address_registers()
    delta = 0
    if (insn.is_single_load and before.is_single_load and before.loaded_register() not in address
            and before.written_base() not in address):
        delta -= 1      # pipelined with the load before it (its result and write-back not in this address)
    if before.is_single_store or before.base.startswith("strd"):
        delta += 1      # the store's data phase still holds the bus
    written = before.written_register()
    if written is not None and written in address:
        delta += 1      # address generated from the previous data-processing result: no forwarding
    return delta


def estimate_cycles(disasm: dict[int, Insn], counts: Counter, sequential: Counter) -> int:
    """Cortex-M4 cycles of the executions in `counts` (address -> times run), given `sequential`
    (address -> how many of those runs came by fall-through from the instruction before it)."""
    before = {insn.next_address: addr for addr, insn in disasm.items()}
    total = 0
    for addr, n in counts.items():
        insn = disasm.get(addr)
        if insn is None:
            total += n
            continue
        total += n * own_cycles(insn)
        if insn.kind == "branch_cond":      # own_cycles counted it not taken
            total += insn.taken(n, sequential) * PIPELINE_REFILL
        prev = disasm.get(before.get(addr, -1))
        total += sequential.get(addr, 0) * neighbour_cycles(insn, prev)
    return total


def estimate_spread(disasm: dict[int, Insn], counts: Counter, sequential: Counter) -> dict:
    """What the estimate's two free choices weigh: taken branches (each moves by 1 when the refill P
    is 1 or 3 instead of 2) and literal-pool loads LDR [PC] (the TRM: "might add a cycle")."""
    taken = literal = 0
    for addr, n in counts.items():
        insn = disasm.get(addr)
        if insn is None:
            continue
        taken += insn.taken(n, sequential)
        if insn.kind == "load" and "pc" in insn.address_registers():
            literal += n
    return {"taken_branches": taken, "literal_loads": literal}


def disassemble(elf: Path) -> dict[int, Insn]:
    """address -> Insn, from arm-none-eabi-objdump -d (with raw bytes, for each instruction's size)."""
    return parse_objdump(fw.tool_output(["arm-none-eabi-objdump", "-d", str(elf)]))


def parse_objdump(text: str) -> dict[int, Insn]:
    table = {}
    for line in text.splitlines():
        m = re.match(r"^\s*([0-9a-f]+):\s+((?:[0-9a-f]{4}\s)+)\s*(\S+)\s*([^;@]*)", line)
        if m and not m.group(3).startswith("."):
            addr, mnemonic, operands = int(m.group(1), 16), m.group(3), m.group(4).strip()
            size = 2 * len(m.group(2).split())
            table[addr] = Insn(mnemonic, operands, classify_mnemonic(mnemonic, operands), addr + size)
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
    sequential: Counter = field(default_factory=Counter)   # of those, entered by fall-through


def read_plugin_output(path: Path) -> list[Interval]:
    intervals: list[Interval] = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        parts = line.split()
        try:
            if parts and parts[0] == "E":
                intervals.append(Interval(int(parts[2]), int(parts[3])))
            elif parts and parts[0] == "A" and intervals:
                addr, n, fall_through = int(parts[1], 16), int(parts[2]), int(parts[3])
                if not 0 <= fall_through <= n:
                    raise ValueError
                intervals[-1].per_address[addr] = n
                intervals[-1].sequential[addr] = fall_through
        except (ValueError, IndexError):
            raise LenetEdgeError(f"{path}: unparsable plugin output at line {number}: {line[:80]!r}") from None
    return intervals


@dataclass
class Profile:
    layers: list[dict]            # per layer: instructions (per image), classes, cycles estimate
    total_instructions: list[int]  # per image, begin -> end
    total_cycles_estimate: int     # first image
    stack_peak: int
    spread: dict = field(default_factory=dict)   # estimate_spread over the first image


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
        for addr, n in groups[0][j].per_address.items():
            classes[disasm[addr].kind if addr in disasm else "alu"] += n
        cycles = estimate_cycles(disasm, groups[0][j].per_address, groups[0][j].sequential)
        layers.append({"name": name, "instructions": counts[0], "instructions_min": min(counts),
                       "instructions_max": max(counts), "classes": dict(sorted(classes.items())),
                       "cycles_estimate": cycles})
    totals = [sum(iv.instructions for iv in g) for g in groups]
    spread = Counter()
    for iv in groups[0]:
        spread.update(estimate_spread(disasm, iv.per_address, iv.sequential))
    return Profile(layers, totals, sum(layer["cycles_estimate"] for layer in layers), device.stack_peak,
                   dict(spread))
