"""QEMU runs of a firmware project: boot, parse what the firmware prints, classify images on the
emulated Cortex-M, compare with a reference. (`lenet-edge run` itself is lenet_edge/device/measure.py.)

Input per board (lenet_edge/device/boards.py, `input`): mps2-an386 reads the images from a host file
through semihosting, so one boot classifies any number; netduinoplus2 and lm3s6965evb get them
compiled into flash, so the images are split into batches that fit, one build and boot per batch.
Every classify call has its own input file and ELF (a temp folder `.<board>.run-*` beside the
project), so two runs on the same board and run folder never share them.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lenet_edge import fsutil, proc
from lenet_edge.device import firmware as fw
from lenet_edge.device.boards import board_spec
from lenet_edge.errors import LenetEdgeError

QEMU = "qemu-system-arm"
IMAGE_BYTES = 784
BOOT_TIMEOUT_S = 60.0       # fixed part of a QEMU run's time limit
PER_IMAGE_TIMEOUT_S = 0.25  # ~20x the measured time per image under -icount shift=0
MAX_BATCH = 1000
FLASH_MARGIN = 1024         # bytes left free in flash when sizing a batch


def qemu_command(machine: str, elf: Path, plugin: str | None = None) -> list[str]:
    """The QEMU invocation: serial console on stdout, semihosting to the host, one guest
    instruction per virtual nanosecond (-icount shift=0) so runs are deterministic."""
    cmd = [QEMU, "-M", machine, "-nographic", "-monitor", "none", "-serial", "stdio",
           "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", str(Path(elf).resolve())]
    if plugin:
        cmd += ["-plugin", plugin]
    return cmd


@dataclass
class DeviceRun:
    """What one boot printed, parsed (format: firmware/common/main.c)."""
    returncode: int
    indices: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    scores: list[list[int]] = field(default_factory=list)
    selftest: int | None = None
    stack_peak: int | None = None
    stack_size: int | None = None
    done: int | None = None
    fault: str | None = None
    error: str | None = None
    log: str = ""


def parse_output(text: str, returncode: int) -> DeviceRun:
    """Parse the firmware's lines. A line that starts like a result but does not parse is recorded
    as the run's error (the first one), never an exception."""
    run = DeviceRun(returncode, log=text)
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            if parts[0] == "R":
                if len(parts) != 13:
                    raise ValueError
                values = [int(p) for p in parts[1:]]
                run.indices.append(values[0])
                run.labels.append(values[1])
                run.scores.append(values[2:])
            elif parts[0] == "SELFTEST":
                run.selftest = int(parts[1])
            elif parts[0] == "STACK":
                run.stack_peak, run.stack_size = int(parts[1]), int(parts[3])
            elif line.startswith("LENET5 DONE "):
                run.done = int(parts[2])
            elif parts[0] == "FAULT":
                run.fault = run.fault or line.strip()
            elif parts[0] == "ERROR":
                run.error = run.error or line.strip()
        except (ValueError, IndexError):
            run.error = run.error or f"unparsable firmware output at line {number}: {line.strip()[:120]!r}"
    return run


def qemu_cause(stderr: str) -> str:
    """The line of QEMU's stderr that says why it stopped, e.g. "Lockup: can't escalate 3 to
    HardFault" (QEMU follows it with a register dump whose last line, FPSCR, says nothing)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for pattern in (r"qemu[\w-]*: fatal: (.*)", r"(Lockup.*)", r"qemu[\w-]*: (.*)", r"(.*(?:error|fatal).*)"):
        for ln in lines:
            m = re.search(pattern, ln, re.IGNORECASE)
            if m:
                return m.group(1).strip()
    return lines[0] if lines else ""


def boot(machine: str, elf: Path, cwd: Path, timeout_s: float, plugin: str | None = None) -> DeviceRun:
    """Run QEMU until the firmware exits through semihosting; never longer than timeout_s."""
    fw.require_tools(QEMU)
    done = proc.run(qemu_command(machine, elf, plugin), timeout_s, name=f"{QEMU} -M {machine} ({elf})",
                    cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True)
    run = parse_output(done.stdout.decode(errors="replace"), done.returncode)
    cause = qemu_cause(done.stderr.decode(errors="replace"))
    if run.done is None and run.fault is None and cause:
        run.error = f"QEMU stopped: {cause}"
    return run


def check_run(run: DeviceRun, elf: Path, expected: int) -> None:
    """The run is usable only if it ended with the sentinel, exit 0 and every image reported."""
    if run.fault:
        raise LenetEdgeError(f"{elf}: the firmware faulted: {run.fault}")
    if run.error:
        raise LenetEdgeError(f"{elf}: {run.error}")
    if run.selftest not in (None, 0):
        raise LenetEdgeError(f"{elf}: lenet5_selftest() failed on the device: returned {run.selftest} "
                             f"(golden image {run.selftest - 1} differs)")
    if run.done is None:
        raise LenetEdgeError(f"{elf}: no 'LENET5 DONE' sentinel (exit status {run.returncode})")
    if run.returncode != 0:
        raise LenetEdgeError(f"{elf}: firmware exit status {run.returncode}")
    if run.done != expected or run.indices != list(range(expected)):
        raise LenetEdgeError(f"{elf}: expected {expected} results, the firmware reported {len(run.indices)}")


def timeout_for(n_images: int) -> float:
    return BOOT_TIMEOUT_S + PER_IMAGE_TIMEOUT_S * n_images


# ---------------------------------------------------------------------------------------------
# Classifying images on a board

@dataclass
class DeviceResults:
    scores: np.ndarray        # int32 [N, 10]
    labels: np.ndarray        # int64 [N]
    selftest: int
    stack_peak: int
    boots: int


def batch_capacity(board: str, empty_build: fw.BuildResult) -> int:
    """How many 784-byte images fit in flash next to the firmware (for INPUT=batch boards)."""
    spec = board_spec(board)
    free = spec.flash_bytes - empty_build.flash - FLASH_MARGIN
    if free < IMAGE_BYTES:
        raise LenetEdgeError(f"{board}: no flash left for test images ({empty_build.flash} B used "
                             f"of {spec.flash_bytes // 1024} KiB)")
    return min(MAX_BATCH, free // IMAGE_BYTES)


def classify(project: Path, board: str, images: np.ndarray, defs: tuple[str, ...] = (),
             plugin: str | None = None, build: str = "build-qemu") -> tuple[DeviceResults, list[DeviceRun]]:
    """Build the QEMU variant of the project (objects in `project/<build>`) and classify `images`
    (uint8 [N,28,28]) on the emulated board. This call's ELF and input file live in its own temp
    folder beside the project, deleted afterwards. Returns the collected results and every boot's
    parsed log."""
    spec = board_spec(board)
    images = np.ascontiguousarray(images, dtype=np.uint8).reshape(-1, IMAGE_BYTES)
    defs = tuple(spec.qemu_defs) + tuple(defs)
    runs: list[DeviceRun] = []
    # This call's ELF and input file: a temp folder beside the project (not in it, so an export
    # that swaps the project in meanwhile cannot touch them); make gets it as a relative path.
    own = Path(tempfile.mkdtemp(prefix=f".{project.name}.run-", dir=project.parent))
    out = os.path.relpath(own, project)
    try:
        if spec.input == "semihost":
            result = fw.make(project, board, build=build, defs=defs, out=out)
            fsutil.write_bytes(own / "images.bin", images.tobytes())  # read by the guest from its cwd
            run = boot(spec.machine, result.elf, own, timeout_for(len(images)), plugin)
            check_run(run, result.elf, len(images))
            runs.append(run)
        else:
            batch_file = f"{out}/images.bin"
            fsutil.write_bytes(project / batch_file, b"")
            empty = fw.make(project, board, build=build, defs=defs, images=batch_file, out=out)
            capacity = batch_capacity(board, empty)
            for start in range(0, len(images), capacity):
                chunk = images[start:start + capacity]
                fsutil.write_bytes(project / batch_file, chunk.tobytes())
                result = fw.make(project, board, build=build, defs=defs, images=batch_file, out=out)
                run = boot(spec.machine, result.elf, project, timeout_for(len(chunk)), plugin)
                check_run(run, result.elf, len(chunk))
                runs.append(run)
    finally:
        shutil.rmtree(own, ignore_errors=True)
    scores = np.array([s for r in runs for s in r.scores], dtype=np.int64).reshape(-1, 10)
    labels = np.array([lab for r in runs for lab in r.labels], dtype=np.int64)
    return DeviceResults(scores, labels, runs[0].selftest or 0, max(r.stack_peak or 0 for r in runs),
                         len(runs)), runs


def compare(device: DeviceResults, ref_scores: np.ndarray, ref_labels: np.ndarray) -> dict:
    """Exact comparison of every score and label with the reference."""
    ref_scores = np.asarray(ref_scores, dtype=np.int64)
    ref_labels = np.asarray(ref_labels, dtype=np.int64)
    if ref_scores.shape != device.scores.shape:
        raise LenetEdgeError(f"reference scores have shape {ref_scores.shape}, device {device.scores.shape}")
    row_same = np.all(device.scores == ref_scores, axis=1) & (device.labels == ref_labels)
    bad = np.flatnonzero(~row_same)
    first = None
    if bad.size:
        i = int(bad[0])
        first = {"index": i, "device_label": int(device.labels[i]), "ort_label": int(ref_labels[i]),
                 "device_scores": device.scores[i].tolist(), "ort_scores": ref_scores[i].tolist()}
    return {"images": int(len(ref_labels)), "identical": int(row_same.sum()), "mismatches": int(bad.size),
            "labels_agree": int((device.labels == ref_labels).sum()), "first_mismatch": first}
