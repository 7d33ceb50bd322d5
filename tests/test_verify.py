"""End-to-end `lenet-edge verify`: short trained runs for both architectures, the generated C built
on the host, every score compared with ONNX Runtime. Plus: a corrupted weight must be caught and
located, a sanitizer build must run clean, and bad setups are one-line errors."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from conftest import require_tool
from lenet_edge.check import verify as V
from lenet_edge.check.inputs import verification_families
from lenet_edge.cli import main
from lenet_edge.errors import LenetEdgeError

LIMIT = 150  # test images and images per family in the fast end-to-end checks


@pytest.fixture(scope="session")
def verify_runs(short_run):
    return short_run


def _copy_run(run: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(run / V.MODEL_FILE, dest / V.MODEL_FILE)
    shutil.copytree(run / "c", dest / "c")
    return dest


def _layer_output(model_path: Path, node_name: str) -> str:
    node = next(n for n in onnx.load(str(model_path)).graph.node if n.name == node_name)
    return node.output[0]


@pytest.mark.parametrize("arch", ["paper", "modern"])
def test_verify_end_to_end(verify_runs, arch, official_test_dir, tmp_path, capsys):
    require_tool("cc")
    run = _copy_run(verify_runs[arch], tmp_path / arch)
    capsys.readouterr()  # drop what building the run printed
    report = V.verify_cmd(run, official_test_dir, as_json=True, limit=LIMIT)
    assert json.loads(capsys.readouterr().out) == report
    assert report["ok"] and report["mismatching_images"] == 0 and report["first_divergence"] is None
    fams = report["families"]
    assert fams[V.TEST_FAMILY]["images"] == LIMIT
    assert {"constant", "checkerboard", "hot-pixel", "uniform", "blobs"} <= set(fams)
    assert report["images"] == sum(f["images"] for f in fams.values()) > 10 * LIMIT
    assert all(f["mismatches"] == 0 for f in fams.values())
    t = report["test_set"]
    assert "official MNIST" in t["source"] and t["images"] == LIMIT
    assert 0.5 < t["accuracy"] <= 1.0  # one epoch: far above chance
    assert report["compiler"] and report["onnxruntime"]
    assert json.loads((run / V.REPORT_FILE).read_text()) == report
    assert not report["c_regenerated"]  # the C in the run matched the model's sha256


def test_verify_generates_missing_c(verify_runs, official_test_dir, tmp_path):
    require_tool("cc")
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(verify_runs["modern"] / V.MODEL_FILE, run / V.MODEL_FILE)
    report = V.verify(run, official_test_dir, limit=3, progress=False)
    assert report["ok"] and report["c_regenerated"]
    assert (run / "c" / "lenet5_weights.c").read_bytes() == (verify_runs["modern"] / "c" / "lenet5_weights.c").read_bytes()


def _corrupt_entry(c_file: Path, array: str, pick) -> int:
    """Replace one entry of the C array named `array` (e.g. lenet5_c3_w) in a generated file: the
    first entry v with pick(v) is not None becomes pick(v). Returns the entry's index."""
    text = c_file.read_text()
    m = re.search(rf"\b{array}\s*\[[^\]]*\]\s*=\s*\{{([^}}]*)\}}", text)
    assert m, f"no array {array} in {c_file}"
    for k, num in enumerate(re.finditer(r"-?\d+", m.group(1))):
        new = pick(int(num.group()))
        if new is not None:
            s, e = m.start(1) + num.start(), m.start(1) + num.end()
            c_file.write_text(text[:s] + str(new) + text[e:])
            return k
    raise AssertionError(f"no entry to corrupt in {array}")


def _expect_divergence(run: Path, test_dir: Path, node: str, limit: int) -> dict:
    """verify must fail with one line, and name `node`'s output tensor as the first divergence."""
    with pytest.raises(LenetEdgeError) as err:
        V.verify_cmd(run, test_dir, as_json=False, limit=limit)
    msg = str(err.value)
    assert "\n" not in msg and "differ between the C and ONNX Runtime" in msg
    report = json.loads((run / V.REPORT_FILE).read_text())
    assert not report["ok"] and report["mismatching_images"] > 0
    d = report["first_divergence"]
    manifest = json.loads((run / "c" / "manifest.json").read_text())
    layer = next(layer for layer in manifest["layers"] if layer["node"] == node)
    assert (d["layer"], d["tensor"]) == (layer["index"], _layer_output(run / V.MODEL_FILE, node)), d
    assert d["got"] != d["want"] and 0 <= d["index"] < d["size"]
    assert f"layer {d['layer']} ({d['tensor']}) index {d['index']}: got {d['got']}, want {d['want']}" in msg
    return d


# c3's weights live in the fused c3 -> c3_act -> s4 -> s4_act layer (paper), c1's in c1 -> s2 (modern)
@pytest.mark.parametrize("arch,layer", [("paper", "s4_act"), ("modern", "s2")])
def test_corrupted_weight_is_caught_and_located(verify_runs, arch, layer, official_test_dir, tmp_path):
    """Negate one weight of magnitude >= 8: that output channel changes for nearly every image."""
    require_tool("cc")
    run = _copy_run(verify_runs[arch], tmp_path / arch)
    _corrupt_entry(run / "c" / "lenet5_weights.c", f"lenet5_{layer}_w", lambda v: -v if abs(v) >= 8 else None)
    _expect_divergence(run, official_test_dir, layer, limit=20)


def test_corrupted_head_bias_is_located_in_the_scores(verify_runs, official_test_dir, tmp_path):
    """Every int8 layer still agrees; the int32 head (MatMulInteger + bias) is named, class 0."""
    require_tool("cc")
    run = _copy_run(verify_runs["modern"], tmp_path / "modern")
    _corrupt_entry(run / "c" / "lenet5_weights.c", "lenet5_out_bias_bias", lambda v: v + 1)
    d = _expect_divergence(run, official_test_dir, "out_bias", limit=3)
    assert (d["tensor"], d["index"], d["got"] - d["want"], d["differing"]) == ("scores", 0, 1, 1)


def test_corrupted_table_entry_is_caught_at_layer_0(verify_runs, official_test_dir, tmp_path):
    """Change the input table's entry for pixel 0 (the background of every digit): the very first
    layer diverges, at the first background pixel of the first test digit."""
    require_tool("cc")
    run = _copy_run(verify_runs["modern"], tmp_path / "modern")   # the paper fuses its input table into C1
    _corrupt_entry(run / "c" / "lenet5_weights.c", "lenet5_input_table_table", lambda v: v + 1 if v < 127 else v - 1)
    d = _expect_divergence(run, official_test_dir, "input_table", limit=5)
    assert d["image"] == 0 and d["index"] == 0 and d["got"] == d["want"] + 1


@pytest.mark.parametrize("arch", ["paper", "modern"])
def test_sanitizer_build_runs_all_inputs_clean(verify_runs, arch, official_test_dir, tmp_path):
    """ASan + UBSan build of the generated C over every verification family at full size plus 1,000
    test digits; any sanitizer report aborts the driver (-fno-sanitize-recover), which is an error."""
    from lenet_edge.check import hostbuild
    from lenet_edge.data import load_test

    require_tool("cc")
    run = verify_runs[arch]
    flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]
    exe = hostbuild.build(run / "c", flags=flags, work_dir=tmp_path)
    digits = load_test(test_dir=official_test_dir).images
    images = np.concatenate([digits[:1000]] + [f.images for f in verification_families(digits)])
    got_scores, got_labels = V.run_c(exe, images)
    want_scores, want_labels = V.run_ort(run / V.MODEL_FILE, images)
    np.testing.assert_array_equal(got_scores, want_scores)
    np.testing.assert_array_equal(got_labels, want_labels)


def _one_line_error(result, *needles):
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("lenet-edge: error: "), result.output
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_missing_model_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["verify", "--run", str(tmp_path / "nothing")])
    _one_line_error(result, "lenet5_int8.onnx", "export --target onnx")


def test_corrupt_model_is_one_line(tmp_path):
    (tmp_path / V.MODEL_FILE).write_bytes(b"\x08\x07not really onnx")
    result = CliRunner().invoke(main, ["verify", "--run", str(tmp_path)])
    _one_line_error(result, "lenet5_int8.onnx")


def test_missing_compiler_is_one_line(verify_runs, tmp_path, monkeypatch):
    run = _copy_run(verify_runs["modern"], tmp_path / "run")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("CC", raising=False)
    result = CliRunner().invoke(main, ["verify", "--run", str(run)])
    _one_line_error(result, "compiler")


def test_host_benchmark_needs_an_exported_model(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_host", Path(__file__).parents[1] / "benchmarks" / "host.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--run", str(tmp_path), "--no-write"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lenet5_int8.onnx: no such model file" in err[0]


def test_a_hanging_host_build_times_out_in_one_line_naming_the_driver(verify_runs, tmp_path, monkeypatch):
    """Issue 9 item 3: the limit scales with the images; verify says what it is doing before it hangs."""
    from lenet_edge.check import hostbuild

    run = _copy_run(verify_runs["modern"], tmp_path / "run")
    src = run / "c" / "lenet5.c"
    text = src.read_text()
    head = text.index("int lenet5_predict(")
    body = text.index("{", head) + 1
    src.write_text(text[:body] + "\n    { volatile int spin = 1; while (spin) { } }\n" + text[body:])
    monkeypatch.setattr(hostbuild, "RUN_BASE_TIMEOUT_S", 1.0)
    monkeypatch.setattr(hostbuild, "RUN_PER_IMAGE_TIMEOUT_S", 0.0005)
    monkeypatch.setattr(V, "verification_families", lambda images, limit: [])
    result = CliRunner().invoke(main, ["verify", "--run", str(run)])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("verify: host C (float requant path) on") for line in lines), lines
    assert re.match(r"lenet-edge: error: host driver .*lenet5_driver \(\d+ images\): did not finish within [\d.]+ s",
                    lines[-1]), lines[-1]
    assert not (run / "verify.json").exists()


def test_verify_in_a_folder_with_a_space_and_non_ascii(verify_runs, tmp_path, monkeypatch):
    run = _copy_run(verify_runs["modern"], tmp_path / "my runs ü" / "lenet 5")
    monkeypatch.setattr(V, "verification_families", lambda images, limit: [])  # the test set only: fast
    result = CliRunner().invoke(main, ["verify", "--run", str(run)])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "verify.json").read_text())["ok"]
