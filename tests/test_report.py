"""`lenet-edge report` on a run folder through every stage: the figures it shows are the artifacts'
own, the page is self-contained and renders in headless Chromium with no console error and every
image loaded, and anything made from another model is shown as stale with the refresh command."""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import require_tool
from lenet_edge import lineage
from lenet_edge.cli import main as cli
from lenet_edge.errors import LenetEdgeError
from lenet_edge.report import report_cmd

FIGURES = {"training_curves", "confusion_matrix", "layer_error_histograms", "rbf_centres", "layer_cost"}


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(result, *needles):
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lenet-edge: error: "), result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def reported(full_run, tmp_path_factory, official_test_dir):
    """(copy of the full run, report dict, html) after `lenet-edge report --json`."""
    run = tmp_path_factory.mktemp("reported") / "run"
    shutil.copytree(full_run, run)
    result = invoke("report", "--run", run, "--test-dir", official_test_dir, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == json.loads((run / "report" / "report.json").read_text())
    return run, report, (run / "report" / "index.html").read_text()


def test_every_stage_is_current_and_matches_its_artifact(reported):
    run, report, _ = reported
    metrics = json.loads((run / "metrics.json").read_text())
    verify = json.loads((run / "verify.json").read_text())
    device = json.loads((run / "firmware" / "mps2-an386" / "run.json").read_text())
    stages = {s["stage"].split(" (")[0]: s for s in report["stages"]}
    assert all(s["state"] == "current" for s in stages.values()), stages
    assert stages["torch float"]["accuracy"] == metrics["test"]["accuracy"]
    assert stages["float ONNX under ONNX Runtime"]["accuracy"] == metrics["export"]["float"]["accuracy"]
    assert stages["int8 ONNX under ONNX Runtime"]["accuracy"] == metrics["export"]["int8"]["accuracy"]
    host = stages["generated C on the host"]
    assert host["agreement"]["identical"] == host["agreement"]["of"] == verify["images"]
    assert host["accuracy"] == verify["test_set"]["accuracy"] and host["first_divergence"] is None
    board = stages["firmware in QEMU, mps2-an386"]
    assert board["agreement"] == {"identical": 20, "of": 20, "what": board["agreement"]["what"]}
    assert board["accuracy"] == device["device_accuracy"]
    # the report's own ORT run of the int8 model agrees with the exporter's figure
    assert report["test_set"]["int8_accuracy"] == pytest.approx(metrics["export"]["int8"]["accuracy"])
    assert all(v["state"] == "current" for v in report["lineage"].values()), report["lineage"]


def test_layer_table(reported):
    run, report, _ = reported
    manifest = json.loads((run / "c" / "manifest.json").read_text())
    layers = {row["node"]: row for row in report["layers"]}
    assert list(layers) == [layer["node"] for layer in manifest["layers"]]
    convs = ("s2_act", "s4_act", "c5", "f6")   # c1+s2 and c3+s4 are fused layers of the generated C
    assert layers["s2_act"]["fused"] == ["input_table", "pad", "c1", "c1_act", "s2", "s2_act"]
    # the paper's parameter counts (Table: C1 156, S2 12, C3 1516, S4 32, C5 48120, F6 10164)
    assert [layers[n]["parameters"] for n in convs] == [156 + 12, 1516 + 32, 48120, 10164]
    for n in convs:
        row = layers[n]
        assert row["macs"] > 0 and row["scale"] > 0 and row["zero_point"] == 0
        assert 0 <= row["saturation"] < 0.5
        assert row["instructions"] > 0 and row["cycles"] >= row["instructions"]
    # flash per layer: the linker map agrees with the generate-time manifest, byte for byte
    for row in report["layers"]:
        assert (row["flash_map"] or 0) == row["flash_manifest"], row
    totals = report["totals"]
    assert totals["flash_map"] == totals["flash_manifest"] == manifest["flash_bytes"]["float_requant"]
    assert totals["bss_map"] >= totals["arena_manifest"] == manifest["ram_bytes"]["arena"]
    device = json.loads((run / "firmware" / "mps2-an386" / "run.json").read_text())
    per_layer = sum(r["instructions"] for r in report["layers"]) + sum(
        p["instructions"] for p in totals["overhead"].values())
    assert per_layer == totals["instructions"] == device["instructions_per_inference"]


def test_page_is_self_contained_with_every_figure(reported):
    run, report, html = reported
    assert set(report["figures"]) >= FIGURES, report["missing_figures"]
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(href|src)="(?!data:|#)', html)
    assert "<script" not in html
    for src in sources:  # every embedded image is a complete PNG
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[-8:-4] == b"IEND"
    gallery = report["misclassified"]
    assert 0 < len(gallery) <= 24 and all(g["label"] != g["predicted"] and len(g["scores"]) == 10 for g in gallery)
    assert len(sources) == len(FIGURES) + len(gallery)
    prov = report["provenance"]
    assert prov["onnx_int8_sha256"] == lineage.sha256_file(run / "lenet5_int8.onnx") in html
    assert "lenet-edge run --board mps2-an386" in prov["commands"]["run --board mps2-an386"]
    assert prov["boards"]["mps2-an386"]["cpu"] == "cortex-m4f"


def test_page_renders_in_headless_chromium(reported, tmp_path):
    """No console error, no failed load, every image decoded; a screenshot is kept for people
    (LENET_EDGE_SCREENSHOT=path copies it out)."""
    from chromium_cdp import Chromium

    exe = require_tool("chromium")
    run, report, _ = reported
    bad = tmp_path / "bad.html"  # the checker itself must catch what it is meant to catch
    bad.write_text('<img src="data:image/png;base64,AAAA" alt="x"><script>console.error("boom")</script>')
    with Chromium(exe) as browser:
        page = browser.load((run / "report" / "index.html").resolve().as_uri())
        broken = browser.load(bad.as_uri())
    assert page.errors == [], page.errors
    assert page.title.startswith("lenet-edge report")
    assert len(page.images) == len(report["figures"]) + len(report["misclassified"])
    assert all(i["complete"] and i["width"] > 0 and i["height"] > 0 for i in page.images), page.images
    assert page.screenshot[:8] == b"\x89PNG\r\n\x1a\n" and len(page.screenshot) > 50_000
    assert any("boom" in e for e in broken.errors) and broken.images[0]["width"] == 0
    keep = os.environ.get("LENET_EDGE_SCREENSHOT")
    (Path(keep) if keep else tmp_path / "report.png").write_bytes(page.screenshot)


def test_text_summary_and_open(full_run, tmp_path, official_test_dir, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    opened = []
    monkeypatch.setattr("click.launch", lambda url, **k: opened.append(url))
    result = invoke("report", "--run", run, "--test-dir", official_test_dir, "--open")
    assert result.exit_code == 0, result.output
    assert "int8 ONNX under ONNX Runtime (lenet5_int8.onnx): " in result.stdout
    assert "20/20 images with every score and the label equal to ORT's" in result.stdout
    assert "instructions per inference" in result.stdout and "STALE" not in result.stdout
    assert opened == [str((run / "report" / "index.html").resolve())]


# ---------------------------------------------------------------------------------------------
# Lineage: results of another model are never shown as current

def test_retrained_model_marks_everything_downstream_stale(full_run, tmp_path, official_test_dir):
    from lenet_edge.model.train import TrainConfig, fit

    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    fit(run, TrainConfig(arch="paper", epochs=1, seed=7), test_dir=official_test_dir, progress=False,
        echo=lambda *a, **k: None)
    report = report_cmd(run, official_test_dir, as_json=True)
    states = {k: v["state"] for k, v in report["lineage"].items()}
    assert states.pop("metrics.json:train") == "current"
    assert states.pop("metrics.json:export") == "missing"  # training drops the old export block
    assert set(states.values()) == {"stale"}, states
    export = f"lenet-edge export --target onnx --run {run}"
    assert report["lineage"]["lenet5_int8.onnx"]["refresh"] == export
    assert report["lineage"]["firmware/mps2-an386/run.json"]["refresh"] == \
        f"{export} && lenet-edge run --board mps2-an386 --run {run}"
    stages = {s["stage"].split(" (")[0]: s for s in report["stages"]}
    assert stages["torch float"]["state"] == "current"
    for name in ("generated C on the host", "firmware in QEMU, mps2-an386", "int8 ONNX under ONNX Runtime"):
        assert stages[name]["state"] == "stale" and stages[name]["accuracy"] is None  # no old figure shown
        assert stages[name]["refresh"].startswith(export)
    assert report["layers"] == [] and "confusion_matrix" not in report["figures"]
    html = (run / "report" / "index.html").read_text()
    assert html.count('class="stale"') >= 5 and export in html


def test_new_onnx_makes_c_verify_and_runs_stale(full_run, tmp_path, official_test_dir):
    """Re-export with another calibration: the ONNX is current, what was made from the old one is not."""
    from lenet_edge.cli import export_onnx_cmd

    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    export_onnx_cmd(run, calib_images=50, test_dir=official_test_dir, echo=lambda *a, **k: None)
    status = lineage.check_run(run)
    assert status["lenet5_int8.onnx"].current and status["metrics.json:export"].current
    for key in ("c", "verify.json", "firmware/mps2-an386", "firmware/mps2-an386/run.json"):
        assert status[key].state == "stale" and "made from another lenet5_int8.onnx" in status[key].reason
    assert status["c"].refresh == f"lenet-edge export --target c --run {run}"


def test_interrupted_onnx_export_leaves_no_old_accuracies(full_run, tmp_path, monkeypatch):
    """Ctrl-C after the new ONNX files are in place but before their accuracies are recorded."""
    from lenet_edge.check import evaluate

    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    old_int8 = (run / "lenet5_int8.onnx").read_bytes()

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate, "record_export", interrupted)
    result = invoke("export", "--target", "onnx", "--run", run, "--calib-images", "60")
    assert result.exit_code == 130
    assert (run / "lenet5_int8.onnx").read_bytes() != old_int8
    assert "export" not in json.loads((run / "metrics.json").read_text())
    status = lineage.check_run(run)
    assert status["metrics.json:export"].state == "missing"
    assert status["metrics.json:export"].refresh == f"lenet-edge export --target onnx --run {run}"


def test_artifacts_without_lineage_are_stale(full_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    path = run / "firmware" / "mps2-an386" / "run.json"
    data = json.loads(path.read_text())
    del data["onnx_sha256"]
    path.write_text(json.dumps(data))
    st = lineage.check_run(run)["firmware/mps2-an386/run.json"]
    assert st.state == "stale" and "older lenet-edge" in st.reason


# ---------------------------------------------------------------------------------------------
# Bad input: one line, nothing half-written

def test_missing_run_folder(tmp_path):
    one_line_error(invoke("report", "--run", tmp_path / "nope"), "nope: no such run folder")


def test_corrupt_artifact_is_one_line_and_keeps_the_old_report(full_run, tmp_path, official_test_dir):
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    (run / "report").mkdir()
    (run / "report" / "index.html").write_text("previous")
    (run / "verify.json").write_text("{not json")
    one_line_error(invoke("report", "--run", run, "--test-dir", official_test_dir), "verify.json: not valid JSON")
    assert (run / "report" / "index.html").read_text() == "previous"
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []


def test_report_path_taken_by_a_file(full_run, tmp_path, official_test_dir):
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    (run / "report").write_text("a file")
    one_line_error(invoke("report", "--run", run, "--test-dir", official_test_dir), "report: exists and is not a folder")


def test_write_failure_keeps_the_old_report(full_run, tmp_path, monkeypatch):
    from lenet_edge import report as rep

    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    (run / "report").mkdir()
    (run / "report" / "report.json").write_text("{}")
    real_replace = os.replace

    def disk_full(src, dst):
        if Path(dst).name == "report" and not Path(src).name.startswith(".report.old"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(rep.os, "replace", disk_full)
    with pytest.raises(LenetEdgeError, match="No space left on device"):
        rep.write_report(run, {"x": 1}, "<html></html>")
    assert (run / "report" / "report.json").read_text() == "{}"
    assert [p.name for p in run.iterdir() if p.name.startswith(".")] == []


def test_failed_onnx_write_keeps_the_export_block(full_run, tmp_path, monkeypatch):
    """The old block is dropped only for new ONNX files: a write that fails leaves metrics.json as it was."""
    from lenet_edge.model import export

    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    before = (run / "metrics.json").read_bytes()

    def disk_full(files):
        raise LenetEdgeError(f"{next(iter(files))}: cannot write (No space left on device)")

    monkeypatch.setattr(export, "_write_pair", disk_full)
    result = invoke("export", "--target", "onnx", "--run", run, "--calib-images", "60")
    one_line_error(result, "No space left on device")
    assert (run / "metrics.json").read_bytes() == before
    assert lineage.check_run(run)["metrics.json:export"].current


def _set(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


MALFORMED = [  # (artifact, change, expected error)
    ("verify.json", lambda d: d.clear() or d.update({"onnx_sha256": "x"}), "verify.json: missing key 'images'"),
    ("firmware/mps2-an386/run.json", lambda d: d.update(images="20"), "run.json: 'images' has the wrong type (str)"),
    ("firmware/mps2-an386/run.json", lambda d: d.update(profile_layers=[{"name": 1}]),
     "run.json: profile_layers[0] lacks a valid 'name'"),
    ("metrics.json", lambda d: d.update(epochs=[{"epoch": 1}]), "metrics.json: epochs[0] lacks a valid 'loss'"),
    ("metrics.json", lambda d: d["test"].update(accuracy=None), "metrics.json: 'test.accuracy' has the wrong type"),
    ("c/manifest.json", lambda d: d.update(layers=[{}]), "manifest.json: layers[0] lacks a valid 'node'"),
    ("firmware/mps2-an386/manifest.json", lambda d: d.pop("ram_bytes"), "manifest.json: missing key 'ram_bytes'"),
]


@pytest.mark.parametrize("artifact, change, error", MALFORMED, ids=[f"{a}:{e.split(': ', 1)[1]}" for a, _, e in MALFORMED])
def test_malformed_artifact_is_one_line(full_run, tmp_path, artifact, change, error):
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    _set(run / artifact, change)
    one_line_error(invoke("report", "--run", run), f"{run / artifact}".rsplit("/", 1)[0], error)
    assert not (run / "report").exists()


def test_garbage_onnx_and_odd_lineage_values_are_stale_not_a_crash(full_run, tmp_path, official_test_dir):
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    (run / "lenet5_float.onnx").write_bytes(b"\x00garbage")
    _set(run / "firmware" / "mps2-an386" / "run.json", lambda d: d.update(onnx_sha256=5))
    result = invoke("report", "--run", run, "--test-dir", official_test_dir, "--json")
    assert result.exit_code == 0, result.output
    lin = json.loads(result.stdout)["lineage"]
    assert lin["lenet5_float.onnx"]["state"] == "stale" and lin["lenet5_int8.onnx"]["state"] == "current"
    assert lin["firmware/mps2-an386/run.json"]["state"] == "stale"
