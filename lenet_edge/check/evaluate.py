"""`lenet-edge evaluate`: accuracy and confusion matrix of an exported ONNX model under the pinned
ONNX Runtime session, on the official test set when available (the report says which set)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click
import numpy as np

from lenet_edge import __version__, fsutil
from lenet_edge.check import ort as ort_oracle
from lenet_edge.errors import LenetEdgeError, require_onnx
from lenet_edge.plots import confusion_matrix  # [true, predicted] counts

MODEL_FILES = {"float": "lenet5_float.onnx", "int8": "lenet5_int8.onnx"}


def evaluate_model(model_path: Path, digits) -> dict:
    """Accuracy, errors and confusion matrix of one ONNX model on `digits` (ORT predictions)."""
    predicted = ort_oracle.predict(model_path, digits.images)["label"]
    cm = confusion_matrix(digits.labels, predicted)
    correct = int(np.trace(cm))
    return {
        "model": Path(model_path).name,
        "sha256": hashlib.sha256(Path(model_path).read_bytes()).hexdigest(),
        "accuracy": correct / len(digits.labels),
        "errors": len(digits.labels) - correct,
        "confusion": cm.tolist(),
        "predicted": predicted,  # dropped from reports; used for float/int8 agreement
    }


def _run_config(run_dir: Path) -> dict:
    """Training config from metrics.json (light: no torch), else the defaults."""
    try:
        return json.loads((run_dir / "metrics.json").read_text()).get("config") or {}
    except (OSError, ValueError):
        return {}


def resolve_test_set(test_dir: Path | None, dataset: str = "mnist-5k", data_dir: Path | None = None,
                     val=None, seed: int = 0):
    """The official test set when available, else the run's held-out validation split (loaded only
    when it is needed)."""
    from lenet_edge.data import load_test, load_train_val

    if val is None and test_dir is None:
        try:
            return load_test(None, dataset=dataset, data_dir=data_dir)
        except LenetEdgeError:
            _, val = load_train_val(dataset, data_dir, seed=seed)
    return load_test(test_dir, dataset=dataset, data_dir=data_dir, fallback=val)


def test_set_for_run(run_dir: Path, test_dir: Path | None):
    """The evaluation set of a run folder, for evaluate, verify and run alike: --test-dir, else the
    official set that fits the run's training data, else its held-out split (`source` says which)."""
    config = _run_config(Path(run_dir))
    data_dir = Path(config["data_dir"]) if config.get("data_dir") else None
    return resolve_test_set(test_dir, config.get("dataset", "mnist-5k"), data_dir, seed=int(config.get("seed", 0)))


def _test_info(digits) -> dict:
    return {"source": digits.source, "images": int(len(digits.labels)), "sha256": digits.sha256}


def record_export(run_dir: Path, calibration: dict, test_dir: Path | None, dataset: str,
                  data_dir: Path | None, val) -> dict:
    """Evaluate both exported models and write the "export" block of <run>/metrics.json
    (read-modify-write, atomic). Returns the block."""
    digits = resolve_test_set(test_dir, dataset, data_dir, val)
    results = {which: evaluate_model(run_dir / name, digits) for which, name in MODEL_FILES.items()}
    agreement = float(np.mean(results["float"]["predicted"] == results["int8"]["predicted"]))
    block = {
        "tool_version": __version__,
        "test": _test_info(digits),
        "float": {k: results["float"][k] for k in ("model", "sha256", "accuracy", "errors")},
        "int8": {k: results["int8"][k] for k in ("model", "sha256", "accuracy", "errors")},
        "accuracy_drop_points": 100 * (results["float"]["accuracy"] - results["int8"]["accuracy"]),
        "label_agreement": agreement,
        "calibration": calibration,
    }
    path = run_dir / "metrics.json"
    metrics = {}
    if path.exists():
        try:
            metrics = json.loads(path.read_text())
        except ValueError:
            raise LenetEdgeError(f"{path}: not valid JSON; not overwriting it") from None
    metrics["export"] = block
    try:
        fsutil.write_text(path, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    except OSError as e:
        raise LenetEdgeError(f"{path}: cannot write ({e.strerror or e})") from None
    return block


def _format_confusion(cm: list[list[int]]) -> str:
    lines = ["true \\ predicted " + " ".join(f"{d:>5}" for d in range(10))]
    for digit, row in enumerate(cm):
        lines.append(f"{digit:>17} " + " ".join(f"{n:>5}" for n in row))
    return "\n".join(lines)


def evaluate_cmd(run_dir: Path, which: str, test_dir: Path | None, as_json: bool) -> dict:
    """CLI entry (see cli.py)."""
    if which not in MODEL_FILES:
        raise LenetEdgeError(f"unknown model {which!r} (choose from {', '.join(MODEL_FILES)})")
    run_dir = Path(run_dir)
    model_path = require_onnx(run_dir / MODEL_FILES[which])
    digits = test_set_for_run(run_dir, test_dir)
    result = evaluate_model(model_path, digits)
    del result["predicted"]
    report = {"tool_version": __version__, "test": _test_info(digits), **result}
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        click.echo(f"{model_path} on {digits.source} ({len(digits.labels)} images): "
                   f"accuracy {100 * report['accuracy']:.2f}% ({report['errors']} errors)")
        click.echo(_format_confusion(report["confusion"]))
    return report
