"""Every bad input to `export --target onnx` is one line naming the file or the problem, exit 1, and
leaves no .onnx behind. Uses an untrained checkpoint so it runs in seconds."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from lenet_edge.cli import main
from lenet_edge.model.checkpoint import save_checkpoint
from lenet_edge.model.lenet5 import build_model


def make_run(folder: Path, arch: str = "modern", **config) -> Path:
    """A run folder holding an untrained checkpoint in the trainer's format."""
    torch.manual_seed(0)
    model = build_model(arch)
    cfg = {"dataset": "mnist-5k", "data_dir": None, "arch": arch, "seed": 0, **config}
    save_checkpoint(folder / "checkpoint.pt", {"arch": arch, "epoch": 0, "model": model.state_dict(),
                                               "optimizer": {}, "config": cfg, "history": [],
                                               "data_sha256": "0" * 64})
    return folder


def export(run: Path, *args: str):
    result = CliRunner().invoke(main, ["export", "--target", "onnx", "--run", str(run), *args])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lenet-edge: error: "), result.stderr
    left = [p.name for p in run.glob("*") if p.suffix in (".onnx", ".tmp") and p.is_file()]
    assert not left, f"left behind: {left}"
    return lines[0]


def test_missing_checkpoint(tmp_path):
    assert "checkpoint.pt: checkpoint not found" in export(tmp_path)


def test_corrupt_checkpoint(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"not a torch file")
    assert "checkpoint.pt: corrupt checkpoint" in export(tmp_path)


def test_architecture_mismatch(tmp_path):
    make_run(tmp_path, "modern")
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    ckpt["arch"] = "paper"  # modern weights labelled paper
    torch.save(ckpt, tmp_path / "checkpoint.pt")
    assert "checkpoint.pt: weights do not fit --arch paper" in export(tmp_path)


@pytest.mark.parametrize("count", ["0", "-5"])
def test_no_calibration_images(tmp_path, count):
    make_run(tmp_path)
    assert "no calibration data: --calib-images must be positive" in export(tmp_path, "--calib-images", count)


def test_calibration_dataset_unavailable(tmp_path):
    missing = tmp_path / "no-such-folder"
    make_run(tmp_path, data_dir=str(missing))
    msg = export(tmp_path)
    assert "no calibration data" in msg and "no-such-folder" in msg


def test_unwritable_output(tmp_path):
    make_run(tmp_path)
    (tmp_path / "lenet5_int8.onnx").mkdir()  # a folder where the file must go (root ignores chmod)
    msg = export(tmp_path)
    assert "lenet5_int8.onnx: cannot write" in msg
    assert not (tmp_path / "lenet5_float.onnx").exists()
