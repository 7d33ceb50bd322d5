"""`lenet-edge export --target onnx`: checkpoint -> lenet5_float.onnx + lenet5_int8.onnx.

This module writes the two .onnx files and nothing else; the graphs come from `onnx_graph` and the
integer numbers from `quantize`. The model package does not import lenet_edge.check (an import
contract), so the ONNX Runtime pieces come in from the CLI layer (`lenet_edge.cli.export_onnx_cmd`):
`run_graph` computes the quantization tables, and the CLI then records both accuracies with
`lenet_edge.check.evaluate.record_export`.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from lenet_edge import __version__, fsutil, lineage
from lenet_edge.errors import LenetEdgeError

FLOAT_ONNX = "lenet5_float.onnx"
INT8_ONNX = "lenet5_int8.onnx"
CALIB_SEED = 0


def _data_args(config: dict) -> tuple[str, Path | None, int]:
    data_dir = config.get("data_dir")
    return config.get("dataset", "mnist-5k"), Path(data_dir) if data_dir else None, int(config.get("seed", 0))


def load_training_data(ckpt: dict):
    """(train, val) Digits the checkpoint was trained on, reloaded from its config."""
    from lenet_edge.data import load_train_val

    dataset, data_dir, seed = _data_args(ckpt.get("config") or {})
    try:
        return load_train_val(dataset, data_dir, seed=seed)
    except LenetEdgeError as e:
        raise LenetEdgeError(f"no calibration data: {e}") from None


def calibration_images(train, count: int) -> np.ndarray:
    """uint8 [count, 28, 28]: a seeded random subset (training files are often sorted by class)."""
    if count <= 0:
        raise LenetEdgeError(f"no calibration data: --calib-images must be positive, got {count}")
    if len(train.images) == 0:
        raise LenetEdgeError(f"no calibration data: {train.source} holds no images")
    pick = np.random.default_rng(CALIB_SEED).permutation(len(train.images))[:count]
    return train.images[np.sort(pick)]


def provenance(ckpt: dict) -> dict[str, str]:
    """metadata_props shared by both graphs. No absolute paths: data_dir is kept as its folder name."""
    config = dict(ckpt.get("config") or {})
    if config.get("data_dir"):
        config["data_dir"] = Path(config["data_dir"]).name
    return {
        "arch": ckpt["arch"],
        "training_config": json.dumps(config, sort_keys=True),
        "data_sha256": str(ckpt.get("data_sha256", "")),
        "lenet_edge_version": __version__,
        "checkpoint_epoch": str(ckpt.get("epoch", "")),
        lineage.ONNX_KEY: str(ckpt.get(lineage.ONNX_KEY, "")),  # the model both graphs came from
    }


def build_onnx(model, ckpt: dict, calib: np.ndarray, run_graph, qat: bool = False) -> tuple[bytes, bytes, dict]:
    """(float bytes, int8 bytes, calibration report) — pure: same inputs, same bytes. `run_graph`:
    see `quantize.RunGraph`."""
    from lenet_edge.model.onnx_graph import float_graph, int8_graph
    from lenet_edge.model.quantize import quantize_model

    prov = provenance(ckpt)
    q = quantize_model(model, calib, run_graph)
    q.calibration["qat"] = bool(qat)
    return (float_graph(model, prov).SerializeToString(), int8_graph(q, prov).SerializeToString(),
            q.calibration)


def _write_pair(files: dict[Path, bytes]) -> None:
    """Write both graphs or neither: both are staged as temp files beside their destinations and
    renamed only once both are fully written, so a failure leaves the previous pair untouched."""
    for path in files:
        if path.exists() and not path.is_file():
            raise LenetEdgeError(f"{path}: cannot write (exists and is not a regular file)")
    path = next(iter(files))
    try:
        with contextlib.ExitStack() as staged:
            for path, data in files.items():
                staged.enter_context(fsutil.atomic_path(path)).write_bytes(data)
    except OSError as e:
        raise LenetEdgeError(f"{path}: cannot write ({e.strerror or e})") from None


@dataclass(frozen=True)
class OnnxExport:
    """What `export_onnx_files` wrote and what the accuracy report needs next."""

    float_path: Path
    int8_path: Path
    calibration: dict         # the calibration report (also in the int8 graph's metadata)
    val: object               # Digits: the held-out split, the test-set fallback
    dataset: str
    data_dir: Path | None


def export_onnx_files(run_dir: Path, calib_images: int, qat: bool, run_graph, echo=click.echo) -> OnnxExport:
    """Write <run>/lenet5_float.onnx and <run>/lenet5_int8.onnx from <run>/checkpoint.pt (both or
    neither). `run_graph` computes the quantization tables under ONNX Runtime (`quantize.RunGraph`)."""
    from lenet_edge.model.checkpoint import load_model

    run_dir = Path(run_dir)
    model, ckpt = load_model(run_dir / "checkpoint.pt")
    ckpt = {**ckpt, lineage.ONNX_KEY: lineage.sha256_file(run_dir / "checkpoint.pt")}
    if calib_images <= 0:
        raise LenetEdgeError(f"no calibration data: --calib-images must be positive, got {calib_images}")
    fsutil.ensure_writable_dir(run_dir)
    for name in (FLOAT_ONNX, INT8_ONNX, "metrics.json"):
        fsutil.check_writable_file(run_dir / name)  # fail now, not after calibration and evaluation
    train, val = load_training_data(ckpt)
    calib = calibration_images(train, calib_images)
    if qat:
        from lenet_edge.model.quantize import qat_finetune

        model = qat_finetune(model, train, calib, run_graph, echo=echo)
        # the float graph is the fine-tuned model too, so float vs int8 compares like with like
    float_bytes, int8_bytes, calibration = build_onnx(model, ckpt, calib, run_graph, qat)
    calibration["data"] = train.source
    with lineage.export_block_dropped(run_dir):  # no new ONNX beside the old models' accuracies
        _write_pair({run_dir / FLOAT_ONNX: float_bytes, run_dir / INT8_ONNX: int8_bytes})
    echo(f"wrote {run_dir / FLOAT_ONNX} and {run_dir / INT8_ONNX} "
         f"(calibrated on {len(calib)} images of {train.source})")
    dataset, data_dir, _ = _data_args(ckpt.get("config") or {})
    return OnnxExport(run_dir / FLOAT_ONNX, run_dir / INT8_ONNX, calibration, val, dataset, data_dir)
