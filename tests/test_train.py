"""Training: smoke run, determinism, resume, Ctrl-C safety, SDLM, and the bad-input errors."""
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from lenet_edge.cli import main
from lenet_edge.errors import LenetEdgeError
from lenet_edge.model import train as T
from lenet_edge.model.checkpoint import load_checkpoint, save_checkpoint
from lenet_edge.model.lenet5 import LeNet5Paper, loss_fn, preprocess
from lenet_edge.model.sdlm import SDLM, estimate_curvature, eta_for_pass

QUIET = dict(progress=False, echo=lambda *a, **k: None)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, official_test_dir):
    run = tmp_path_factory.mktemp("smoke")
    metrics = T.fit(run, T.TrainConfig(epochs=2), test_dir=official_test_dir, **QUIET)
    return run, metrics


def test_smoke_loss_falls_and_accuracy_well_above_chance(smoke_run):
    run, m = smoke_run
    losses = [e["loss"] for e in m["epochs"]]
    assert losses[1] < losses[0]
    assert m["test"]["accuracy"] > 0.5 and m["test"]["images"] == 10_000
    assert "official MNIST test set" in m["test"]["source"]
    for name in ("checkpoint.pt", "metrics.json", "training_curves.png", "confusion_matrix.png"):
        assert (run / name).stat().st_size > 0
    on_disk = json.loads((run / "metrics.json").read_text())
    assert on_disk["data"]["sha256"] and on_disk["epochs"][0]["seconds"] > 0


def test_same_seed_gives_identical_weights(tmp_path):
    cfg = T.TrainConfig(epochs=1, seed=7)
    T.fit(tmp_path / "a", cfg, **QUIET)
    T.fit(tmp_path / "b", cfg, **QUIET)
    a, b = (load_checkpoint(tmp_path / r / "checkpoint.pt")["model"] for r in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_continues_and_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    cfg = T.TrainConfig(epochs=2, seed=3, arch="modern")
    T.fit(tmp_path / "full", cfg, **QUIET)
    # Interrupt the second epoch with Ctrl-C: the epoch-1 checkpoint must survive intact.
    real = T._train_epoch
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(T, "_train_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        T.fit(tmp_path / "part", cfg, **QUIET)
    monkeypatch.setattr(T, "_train_epoch", real)
    assert load_checkpoint(tmp_path / "part" / "checkpoint.pt")["epoch"] == 1
    assert not list((tmp_path / "part").glob(".*.tmp"))
    T.fit(tmp_path / "part", cfg, resume=True, **QUIET)
    a = load_checkpoint(tmp_path / "full" / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "part" / "checkpoint.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_eta_schedule_matches_the_paper():
    assert [eta_for_pass(p) for p in range(1, 21)] == (
        [5e-4] * 2 + [2e-4] * 3 + [1e-4] * 3 + [5e-5] * 4 + [1e-5] * 8)


def test_sdlm_curvature_and_step():
    torch.manual_seed(0)
    model = LeNet5Paper()
    x = preprocess(np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8))
    y = torch.arange(64) % 10
    h = estimate_curvature(model, x)
    names = {n for n, _ in model.named_parameters()}
    assert set(h) == names
    assert all(torch.isfinite(v).all() and (v >= 0).all() for v in h.values())
    assert torch.all(h["c3.weight"][model.c3.mask.expand_as(model.c3.weight) == 0] == 0)
    # Output curvature 2 through f'(a)^2: the F6 bias curvature is 2 f'(a)^2 <= 2 (A S)^2.
    assert h["f6.bias"].max() <= 2 * (1.7159 * 2 / 3) ** 2 + 1e-6
    opt = SDLM(model.named_parameters())
    eta = T.SDLM_ETA_SCALE * eta_for_pass(1)
    stats = opt.set_curvature(h, eta)
    lo, hi = min(s[0] for s in stats.values()), max(s[2] for s in stats.values())
    assert 0 < lo <= hi <= eta / 0.02 * (1 + 1e-6)
    before = loss_fn(model, model(x), y).item()
    for _ in range(5):
        loss = loss_fn(model, model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss_fn(model, model(x), y).item() < before


def test_sdlm_needs_the_paper_arch():
    with pytest.raises(LenetEdgeError, match="needs --arch paper"):
        T.TrainConfig(arch="modern", optimizer="sdlm").validate()


def _cli(*args):
    res = CliRunner().invoke(main, ["train", *args])
    return res.exit_code, res.stderr  # the error is the only thing on stderr


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "--epochs must be a positive"),
    (["--epochs", "-3"], "--epochs must be a positive"),
    (["--arch", "vgg"], "unknown architecture 'vgg'"),
    (["--dataset", "cifar"], "cifar"),
    (["--optimizer", "sgd"], "unknown optimizer 'sgd'"),
])
def test_bad_options_are_one_line_errors(tmp_path, args, message):
    code, out = _cli(*args, "--run", str(tmp_path / "r"))
    assert code != 0 and message in out
    assert out.count("\n") == 1 and "Traceback" not in out


def test_unwritable_run_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, out = _cli("--epochs", "1", "--run", str(blocker / "run"))
    assert code != 0 and str(blocker) in out and out.count("\n") == 1


def test_corrupt_checkpoint_and_wrong_arch_resume(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"\x80\x02garbage")
    code, out = _cli("--resume", "--epochs", "1", "--run", str(run))
    assert code != 0 and "corrupt checkpoint" in out and str(run / "checkpoint.pt") in out
    save_checkpoint(run / "checkpoint.pt", {"arch": "modern", "epoch": 1, "model": {}, "optimizer": {},
                                            "config": {}, "history": [], "data_sha256": "", "rng": None})
    code, out = _cli("--resume", "--epochs", "2", "--arch", "paper", "--run", str(run))
    assert code != 0 and "--arch modern, not --arch paper" in out and out.count("\n") == 1
