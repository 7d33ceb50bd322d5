"""`lenet-edge evaluate` on an exported (untrained, so fast) run: the JSON report agrees with ORT's
own predictions and the test labels, and names the set it used."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from lenet_edge.check import ort as ort_oracle
from lenet_edge.check.evaluate import confusion_matrix
from lenet_edge.cli import main
from lenet_edge.data import load_test
from lenet_edge.cli import export_onnx_cmd
from test_export_errors import make_run


@pytest.fixture(scope="module")
def run(tmp_path_factory, official_test_dir):
    folder = make_run(tmp_path_factory.mktemp("eval_run"), "modern")
    export_onnx_cmd(folder, calib_images=64, test_dir=official_test_dir, echo=lambda *a, **k: None)
    return folder


def evaluate(*args):
    return CliRunner().invoke(main, ["evaluate", *args])


@pytest.mark.parametrize("which", ["float", "int8"])
def test_json_report_matches_ort(run, official_test_dir, which):
    result = evaluate("--run", str(run), "--model", which, "--test-dir", str(official_test_dir), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    test = load_test(official_test_dir)
    labels = ort_oracle.predict(run / f"lenet5_{which}.onnx", test.images)["label"]
    cm = np.array(report["confusion"])
    np.testing.assert_array_equal(cm, confusion_matrix(test.labels, labels))
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(test.labels, minlength=10))
    assert report["accuracy"] == pytest.approx(np.mean(labels == test.labels))
    assert report["errors"] == 10000 - np.trace(cm)
    assert "official" in report["test"]["source"] and report["test"]["images"] == 10000
    export = json.loads((run / "metrics.json").read_text())["export"]
    assert export[which]["accuracy"] == report["accuracy"]


def test_text_report(run, official_test_dir):
    result = evaluate("--run", str(run), "--test-dir", str(official_test_dir))
    assert result.exit_code == 0, result.output
    assert "lenet5_int8.onnx on official MNIST test set" in result.stdout
    assert "true \\ predicted" in result.stdout


def test_fallback_says_which_set(run, monkeypatch, tmp_path):
    monkeypatch.setenv("LENET_EDGE_CACHE", str(tmp_path))  # no cached official download
    monkeypatch.delenv("LENET_EDGE_TEST_DIR", raising=False)
    report = json.loads(evaluate("--run", str(run), "--json").stdout)
    assert "held-out" in report["test"]["source"] and report["test"]["images"] == 500


def test_missing_model(tmp_path):
    result = evaluate("--run", str(tmp_path), "--model", "float")
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"lenet-edge: error: {tmp_path / 'lenet5_float.onnx'}: no such model file "
                                     "(run `lenet-edge export --target onnx`)")


def test_corrupt_model(tmp_path, official_test_dir):
    (tmp_path / "lenet5_int8.onnx").write_bytes(b"\x00garbage")
    result = evaluate("--run", str(tmp_path), "--test-dir", str(official_test_dir))
    assert result.exit_code == 1
    assert "lenet5_int8.onnx: ONNX Runtime cannot load the model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
