"""The real generated C on every emulated board: bit-exact with ONNX Runtime on official test
images, self-test passing, `lenet-edge run` end to end, and repeatable instruction counts.

The model is LeNet-5 (modern head) trained for one pass on the embedded mnist-5k set: accuracy is
beside the point here, every score must equal ORT's.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import require_tool
from lenet_edge.check import ort
from lenet_edge.cli import main as cli
from lenet_edge.data import load_test
from lenet_edge.device import emulator as em
from lenet_edge.device import firmware as fw
from lenet_edge.device import profile as pf

N_IMAGES = 50
BOARDS = tuple(fw.BOARDS)


@pytest.fixture(scope="session")
def real_run(short_run, official_test_dir) -> Path:
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    return short_run["modern"]


@pytest.fixture(scope="session")
def test_images(official_test_dir) -> np.ndarray:
    return load_test(test_dir=official_test_dir).images[:N_IMAGES]


@pytest.mark.parametrize("board", BOARDS)
def test_real_model_bit_exact_with_ort(real_run, test_images, board):
    fw.export_firmware(real_run, board, quiet=True)
    device, runs = em.classify(fw.project_dir(real_run, board), board, test_images)
    ref = ort.predict(real_run / "lenet5_int8.onnx", test_images)
    report = em.compare(device, ref["scores"], ref["label"])
    assert report["mismatches"] == 0, report["first_mismatch"]
    assert device.selftest == 0
    want = "requant=int" if board == "lm3s6965evb" else "requant=float"
    assert want in runs[0].log.splitlines()[0]


def test_cli_run_json(real_run, official_test_dir):
    result = CliRunner().invoke(cli, ["run", "--board", "lm3s6965evb", "--images", "20", "--run", str(real_run),
                                      "--test-dir", str(official_test_dir), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["bit_exact"] and report["identical"] == 20 and report["selftest"] == 0
    assert 0 < report["stack_peak_bytes"] < 8192


def test_cli_run_detects_a_mismatch(real_run, official_test_dir, monkeypatch):
    """Any differing score is a non-zero exit with one line naming the image."""
    real_predict = ort.predict

    def off_by_one(model_path, images):
        out = real_predict(model_path, images)
        out["scores"] = out["scores"].copy()
        out["scores"][2, 0] += 1
        return out

    monkeypatch.setattr(ort, "predict", off_by_one)
    result = CliRunner().invoke(cli, ["run", "--board", "mps2-an386", "--images", "5", "--run", str(real_run),
                                      "--test-dir", str(official_test_dir)])
    assert result.exit_code == 1
    assert "lenet-edge: error: mps2-an386: 1 of 5 images differ from ONNX Runtime (first: image 2" in result.output


def test_instruction_counts_are_exact_and_repeatable(real_run, test_images):
    board = "mps2-an386"
    fw.export_firmware(real_run, board, quiet=True)
    manifest = json.loads((fw.project_dir(real_run, board) / "manifest.json").read_text())
    names = [layer["node"] for layer in manifest["layers"]]
    same = np.repeat(test_images[:1], 2, axis=0)        # the same image twice
    prof = pf.profile(fw.project_dir(real_run, board), board, same, names)
    assert prof.total_instructions[0] == prof.total_instructions[1] > 100_000
    assert [row["name"] for row in prof.layers[1:-1]] == names
    first_conv = next(e["node"] for e in manifest["layers"] if e.get("macs"))   # c1, or the fused layer holding it
    conv = {row["name"]: row for row in prof.layers}[first_conv]
    # >= 1 multiply instruction per 2 MACs (SMLAD on the Cortex-M4 does two)
    assert 2 * conv["classes"]["mul"] >= manifest["layers"][names.index(conv["name"])]["macs"]
    assert sum(row["instructions"] for row in prof.layers) == prof.total_instructions[0]


def test_relative_run_folder(real_run, official_test_dir, monkeypatch):
    """`--run runs/x` from the folder above: make, QEMU and verify's compiler all run elsewhere."""
    monkeypatch.chdir(real_run.parent)
    for args in (["run", "--board", "mps2-an386", "--images", "3"], ["verify"]):
        result = CliRunner().invoke(cli, [*args, "--run", real_run.name, "--test-dir", str(official_test_dir)])
        assert result.exit_code == 0, result.output


def test_run_without_an_official_test_set_uses_the_held_out_split(real_run, tmp_path, monkeypatch):
    """README: with no test set anywhere, every command falls back to the run's held-out split."""
    monkeypatch.setenv("LENET_EDGE_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("LENET_EDGE_TEST_DIR", raising=False)
    result = CliRunner().invoke(cli, ["run", "--board", "mps2-an386", "--images", "3", "--json", "--run", str(real_run)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "held-out split" in report["test_source"] and report["bit_exact"]


def test_run_folder_with_a_space_and_non_ascii(real_run, official_test_dir, tmp_path):
    """Issue 9 item 5: export --target firmware, run (flash-batch and semihosting boards, with the
    profiling plugin) and flash all work from a path with a space and non-ASCII characters."""
    from conftest import copy_run

    run = copy_run(real_run, tmp_path / "my runs ü" / "lenet 5 é")
    runner = CliRunner()
    for board in ("lm3s6965evb", "mps2-an386"):
        result = runner.invoke(cli, ["export", "--target", "firmware", "--board", board, "--run", str(run)])
        assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["run", "--board", "lm3s6965evb", "--images", "3", "--run", str(run),
                                 "--test-dir", str(official_test_dir), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["bit_exact"]
    result = runner.invoke(cli, ["run", "--board", "mps2-an386", "--images", "2", "--profile", "1", "--run", str(run),
                                 "--test-dir", str(official_test_dir), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["instructions_per_inference"] > 100_000
    result = runner.invoke(cli, ["flash", "--board", "lm3s6965evb", "--dry-run", "--run", str(run)])
    elf = fw.project_dir(run, "lm3s6965evb") / "firmware.elf"
    assert result.exit_code == 0 and f'program "{elf}" verify' in result.output


def test_two_runs_on_one_board_and_folder_at_once(real_run, official_test_dir, tmp_path):
    """Issue 9 item 10: each run has its own input file and ELF, builds take turns (a lock)."""
    import subprocess
    import sys

    from conftest import copy_run

    run = copy_run(real_run, tmp_path / "run")
    cmd = [sys.executable, "-m", "lenet_edge.cli", "run", "--board", "lm3s6965evb", "--images", "3",
           "--run", str(run), "--test-dir", str(official_test_dir), "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err.decode()
        assert json.loads(out)["identical"] == 3
    leftovers = list(fw.project_dir(run, "lm3s6965evb").parent.glob(".lm3s6965evb.run-*"))
    assert leftovers == [], leftovers
