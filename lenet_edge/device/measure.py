"""Measuring a model on an emulated board, and `lenet-edge run`.

`measure_on_board` is the one sequence that both `lenet-edge run` and benchmarks/mcu.py use:
(re)build the firmware project, classify the images in QEMU, compare every score and label with
ONNX Runtime, and optionally count instructions per layer with the QEMU plugin.

Import order: boards <- firmware <- emulator <- profile <- measure (no cycles).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lenet_edge import fsutil, lineage
from lenet_edge.device import emulator as em
from lenet_edge.device import firmware as fw
from lenet_edge.device import profile as pf
from lenet_edge.device.boards import board_spec
from lenet_edge.errors import LenetEdgeError, require_onnx

RUN_FILE = "run.json"


@dataclass
class Measurement:
    board: str
    project: Path
    build: fw.BuildResult          # the project's default build (flash, RAM, per-object bytes)
    device: em.DeviceResults       # scores and labels from QEMU
    agreement: dict                # em.compare against ONNX Runtime
    ort_labels: np.ndarray
    manifest: dict                 # the project's manifest.json
    profile: pf.Profile | None     # per-layer instructions, when profile_images > 0


def measure_on_board(run_dir: Path, board: str, images: np.ndarray, profile_images: int = 0,
                     before_long_work=None) -> Measurement:
    """Build `<run>/firmware/<board>` (incremental), run `images` (uint8 [N,28,28]) on the emulated
    board, compare with ONNX Runtime, and profile the first `profile_images` images. ORT runs first:
    a model that breaks the contract fails before any build. `before_long_work(project)` is called
    once the project folder is known, before the firmware build (e.g. to check that a report can
    be written)."""
    from lenet_edge.check import ort

    if profile_images < 0:
        raise LenetEdgeError(f"--profile must be 0 or more images, got {profile_images}")
    onnx_path = require_onnx(Path(run_dir) / "lenet5_int8.onnx")
    ref = ort.predict(onnx_path, images)
    project = fw.project_dir(run_dir, board)
    if before_long_work is not None:
        before_long_work(project)
    build = fw.export_firmware(run_dir, board, quiet=True)
    device, _ = em.classify(project, board, images)
    agreement = em.compare(device, ref["scores"], ref["label"])
    manifest = fsutil.read_json(project / "manifest.json", {"firmware": dict},
                                hint=f"run `lenet-edge export --target firmware --board {board}`")
    layers = manifest.get("layers", [])
    if not isinstance(layers, list) or not all(isinstance(x, dict) and isinstance(x.get("node"), str) for x in layers):
        raise LenetEdgeError(f"{project / 'manifest.json'}: 'layers' must be a list of objects with a 'node' name")
    prof = None
    if profile_images > 0:
        prof = pf.profile(project, board, images[:profile_images], [layer["node"] for layer in layers])
    return Measurement(board, project, build, device, agreement, np.asarray(ref["label"]), manifest, prof)


def run_cmd(board: str, images: int, run_dir: Path, test_dir: Path | None, as_json: bool,
            profile_images: int = 0) -> dict:
    from lenet_edge.check.evaluate import test_set_for_run

    fw.require_tools("arm-none-eabi-gcc", "make", em.QEMU)
    if images < 1:
        raise LenetEdgeError(f"--images must be at least 1, got {images}")
    if profile_images < 0:
        raise LenetEdgeError(f"--profile must be 0 or more images, got {profile_images}")
    run_dir = Path(run_dir)
    require_onnx(run_dir / "lenet5_int8.onnx")
    data = test_set_for_run(run_dir, test_dir)
    n = min(images, len(data.images))
    x, y = data.images[:n], np.asarray(data.labels[:n], dtype=np.int64)

    m = measure_on_board(run_dir, board, x, min(profile_images, n),
                         before_long_work=lambda project: fsutil.check_writable_file(project / RUN_FILE))
    device, report = m.device, dict(m.agreement)
    report.update({
        "board": board, "machine": board_spec(board).machine, "test_source": data.source,
        "device_accuracy": float((device.labels == y).mean()), "ort_accuracy": float((m.ort_labels == y).mean()),
        "selftest": device.selftest, "stack_peak_bytes": device.stack_peak, "boots": device.boots,
        "bit_exact": report["mismatches"] == 0,
        "onnx_sha256": lineage.sha256_file(run_dir / "lenet5_int8.onnx"),  # lineage: the model this run came from
    })
    if m.profile is not None:
        report["instructions_per_inference"] = m.profile.total_instructions[0]
        report["instructions_repeatable"] = len(set(m.profile.total_instructions)) == 1 or "varies per image"
        report["cycles_estimate"] = m.profile.total_cycles_estimate
        report["profile_layers"] = m.profile.layers  # per layer: instructions, classes, cycles estimate
    fsutil.write_json(m.project / RUN_FILE, report)
    if as_json:
        import json

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
