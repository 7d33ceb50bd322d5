"""`lenet-edge run`: boot the firmware in QEMU, classify official test images on the emulated
Cortex-M, and compare every score and label with ONNX Runtime (lenet_edge.check.ort).

Input per board (firmware/<board>/board.mk): mps2-an386 reads the images from a host file through
semihosting, so one boot classifies any number; netduinoplus2 and lm3s6965evb get them compiled
into flash, so the images are split into batches that fit, one build and boot per batch.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lenet_edge import fsutil, lineage
from lenet_edge.errors import LenetEdgeError, require_onnx
from lenet_edge.device import firmware as fw

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
    run = DeviceRun(returncode, log=text)
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "R" and len(parts) == 13:
            run.indices.append(int(parts[1]))
            run.labels.append(int(parts[2]))
            run.scores.append([int(p) for p in parts[3:]])
        elif parts[0] == "SELFTEST" and len(parts) == 2:
            run.selftest = int(parts[1])
        elif parts[0] == "STACK" and len(parts) == 4:
            run.stack_peak, run.stack_size = int(parts[1]), int(parts[3])
        elif line.startswith("LENET5 DONE ") and len(parts) == 4:
            run.done = int(parts[2])
        elif parts[0] == "FAULT":
            run.fault = line.strip()
        elif parts[0] == "ERROR":
            run.error = line.strip()
    return run


def boot(machine: str, elf: Path, cwd: Path, timeout_s: float, plugin: str | None = None) -> DeviceRun:
    """Run QEMU until the firmware exits through semihosting; never longer than timeout_s."""
    fw.require_tools(QEMU)
    try:
        proc = subprocess.run(qemu_command(machine, elf, plugin), cwd=cwd, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace").strip().splitlines()
        last = f" (last line: {out[-1]!r})" if out else " (no output)"
        raise LenetEdgeError(f"{elf}: QEMU {machine} did not finish within {timeout_s:.0f} s{last}") from None
    run = parse_output(proc.stdout.decode(errors="replace"), proc.returncode)
    stderr = proc.stderr.decode(errors="replace").strip()
    if run.done is None and run.fault is None and run.error is None and stderr:
        run.error = f"QEMU: {stderr.splitlines()[-1]}"
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
    spec = fw.board_spec(board)
    free = spec.flash_bytes - empty_build.flash - FLASH_MARGIN
    if free < IMAGE_BYTES:
        raise LenetEdgeError(f"{board}: no flash left for test images ({empty_build.flash} B used "
                             f"of {spec.flash_bytes // 1024} KiB)")
    return min(MAX_BATCH, free // IMAGE_BYTES)


def classify(project: Path, board: str, images: np.ndarray, defs: tuple[str, ...] = (),
             plugin: str | None = None, build: str = "build-qemu") -> tuple[DeviceResults, list[DeviceRun]]:
    """Build the QEMU variant of the project in `project/<build>` and classify `images` (uint8
    [N,28,28]) on the emulated board. Returns the collected results and every boot's parsed log."""
    spec = fw.board_spec(board)
    images = np.ascontiguousarray(images, dtype=np.uint8).reshape(-1, IMAGE_BYTES)
    defs = tuple(spec.qemu_defs) + tuple(defs)
    runs: list[DeviceRun] = []
    if spec.input == "semihost":
        result = fw.make(project, board, build=build, defs=defs)
        with tempfile.TemporaryDirectory(prefix="lenet-edge-qemu-") as tmp:
            (Path(tmp) / "images.bin").write_bytes(images.tobytes())  # read by the guest, not an artifact
            run = boot(spec.machine, result.elf, Path(tmp), timeout_for(len(images)), plugin)
        check_run(run, result.elf, len(images))
        runs.append(run)
    else:
        batch_file = f"{build}/images.bin"
        fsutil.write_bytes(project / batch_file, b"")
        capacity = batch_capacity(board, fw.make(project, board, build=build, defs=defs, images=batch_file))
        for start in range(0, len(images), capacity):
            chunk = images[start:start + capacity]
            fsutil.write_bytes(project / batch_file, chunk.tobytes())
            result = fw.make(project, board, build=build, defs=defs, images=batch_file)
            run = boot(spec.machine, result.elf, project, timeout_for(len(chunk)), plugin)
            check_run(run, result.elf, len(chunk))
            runs.append(run)
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


def run_cmd(board: str, images: int, run_dir: Path, test_dir: Path | None, as_json: bool,
            profile_images: int = 0) -> dict:
    from lenet_edge.check import ort
    from lenet_edge.check.evaluate import test_set_for_run

    fw.require_tools("arm-none-eabi-gcc", "make", QEMU)
    if images < 1:
        raise LenetEdgeError(f"--images must be at least 1, got {images}")
    run_dir = Path(run_dir)
    onnx_path = require_onnx(run_dir / "lenet5_int8.onnx")
    data = test_set_for_run(run_dir, test_dir)
    n = min(images, len(data.images))
    x, y = data.images[:n], np.asarray(data.labels[:n], dtype=np.int64)

    project = fw.project_dir(run_dir, board)
    fw.export_firmware(run_dir, board, quiet=True)  # incremental: make rebuilds only what changed
    device, _ = classify(project, board, x)
    ref = ort.predict(onnx_path, x)
    report = compare(device, ref["scores"], ref["label"])
    report.update({
        "board": board, "machine": fw.board_spec(board).machine, "test_source": data.source,
        "device_accuracy": float((device.labels == y).mean()), "ort_accuracy": float((ref["label"] == y).mean()),
        "selftest": device.selftest, "stack_peak_bytes": device.stack_peak, "boots": device.boots,
        "bit_exact": report["mismatches"] == 0,
        "onnx_sha256": lineage.sha256_file(onnx_path),  # lineage: the model this run came from
    })
    if profile_images > 0:
        from lenet_edge.device import profile as pf

        manifest = json.loads((project / "manifest.json").read_text())
        prof = pf.profile(project, board, x[:profile_images], [layer["node"] for layer in manifest.get("layers", [])])
        report["instructions_per_inference"] = prof.total_instructions[0]
        report["instructions_repeatable"] = len(set(prof.total_instructions)) == 1 or "varies per image"
        report["cycles_estimate"] = prof.total_cycles_estimate
        report["profile_layers"] = prof.layers  # per layer: instructions, classes, cycles estimate
    fsutil.write_text(project / "run.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    if as_json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(f"{board} (QEMU {report['machine']}, {device.boots} boot(s)): {n} images from {data.source}")
        selftest = "passed" if device.selftest == 0 else "not reported"
        print(f"  selftest {selftest}; stack peak {device.stack_peak} B")
        print(f"  device accuracy {report['device_accuracy']:.2%} (ONNX Runtime {report['ort_accuracy']:.2%})")
        print(f"  agreement with ONNX Runtime: {report['identical']}/{n} images with identical scores "
              f"and label, {report['labels_agree']}/{n} labels")
        if "instructions_per_inference" in report:
            print(f"  {report['instructions_per_inference']:,} instructions per inference (QEMU plugin, "
                  f"-icount shift=0); ~{report['cycles_estimate']:,} Cortex-M4 cycles (estimate)")
    if report["mismatches"]:
        f = report["first_mismatch"]
        raise LenetEdgeError(f"{board}: {report['mismatches']} of {n} images differ from ONNX Runtime "
                             f"(first: image {f['index']}, device {f['device_scores']} label {f['device_label']}, "
                             f"ORT {f['ort_scores']} label {f['ort_label']})")
    return report
