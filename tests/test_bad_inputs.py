"""The bad-input suite (issue 9): one row per case, run through the real CLI.

Each row gives the command, the expected exit code and a pattern for the error. Every row checks
that stderr is exactly one line `lenet-edge: error: ...` matching the pattern, that no exception
escaped (no traceback), and that no file in the run folder was created, changed or removed.

Rows marked `model` need a real int8 model (the shared short_run fixture, copied and then mutated);
rows marked `tools` need the Arm toolchain and QEMU. The others run in well under a second each.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import onnx
import pytest
import torch
from click.testing import CliRunner

from conftest import copy_run, require_tool
from lenet_edge.cli import main
from lenet_edge.model.checkpoint import save_checkpoint
from lenet_edge.model.lenet5 import build_model

FAKE_C = Path(__file__).parent / "fixtures" / "fake_c"


# ---------------------------------------------------------------------------------------------
# Building bad run folders

def checkpoint(run: Path, **changes) -> None:
    """An untrained modern checkpoint in the trainer's format, with `changes` applied
    (a value of `...` deletes the key)."""
    torch.manual_seed(0)
    state = {"arch": "modern", "epoch": 1, "model": build_model("modern").state_dict(), "optimizer": {},
             "config": {"dataset": "mnist-5k", "data_dir": None, "arch": "modern", "seed": 0},
             "history": [], "data_sha256": "0" * 64, "rng": torch.Generator().get_state()}
    for key, value in changes.items():
        if value is ...:
            del state[key]
        else:
            state[key] = value
    save_checkpoint(run / "checkpoint.pt", state)


class Payload:
    """Pickles as a call of os.system: a checkpoint must never run it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def malicious_checkpoint(run: Path) -> None:
    checkpoint(run, history=[Payload(run.parent / "PWNED")])


def idx(path: Path, dims: tuple[int, ...], body: bytes = b"", code: int = 0x08) -> None:
    data = bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) + body
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)


def make_test_dir(run: Path, images_dims, labels_dims=(10,), gz=False, images_body=b"") -> Path:
    folder = run.parent / "t10k"
    folder.mkdir(exist_ok=True)
    suffix = ".gz" if gz else ""
    idx(folder / f"t10k-images-idx3-ubyte{suffix}", images_dims, images_body)
    idx(folder / "t10k-labels-idx1-ubyte", labels_dims, bytes(labels_dims[0]) if labels_dims[0] < 10**6 else b"")
    return folder


def fake_model_file(run: Path) -> None:
    (run / "lenet5_int8.onnx").write_bytes(b"not used: the command fails before reading it")
    (run / "lenet5_float.onnx").write_bytes(b"not used: the command fails before reading it")


def rename_tensor(model: onnx.ModelProto, old: str, new: str) -> None:
    for node in model.graph.node:
        node.input[:] = [new if t == old else t for t in node.input]
        node.output[:] = [new if t == old else t for t in node.output]
    for vi in list(model.graph.output) + list(model.graph.value_info):
        if vi.name == old:
            vi.name = new


def mutate_model(run: Path, how: str) -> None:
    path = run / "lenet5_int8.onnx"
    model = onnx.load(str(path))
    if how == "scores->logits":
        rename_tensor(model, "scores", "logits")
    elif how == "float input":
        model.graph.input[0].type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    elif how == "image->pixels":
        rename_tensor(model, "image", "pixels")
        model.graph.input[0].name = "pixels"
    elif how == "no label":
        keep = [o for o in model.graph.output if o.name != "label"]
        del model.graph.output[:]
        model.graph.output.extend(keep)
    elif how == "batch of 32x32":
        dims = model.graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_value = dims[3].dim_value = 32
    else:
        raise AssertionError(how)
    path.write_bytes(model.SerializeToString())


def firmware_project_exists(run: Path) -> None:
    shutil.copytree(FAKE_C, run / "c")


# ---------------------------------------------------------------------------------------------
# The table

@dataclass
class Case:
    id: str
    args: list[str]                      # after `lenet-edge`; {run} and {test} are substituted
    code: int
    pattern: str                         # regex searched in the one error line
    setup: Callable[[Path], object] = lambda run: None
    needs: tuple[str, ...] = ()          # "model" (a real int8 model), "tools" (Arm gcc + QEMU)
    changes: tuple[str, ...] = ()        # run-folder paths the command may change
    env: dict = field(default_factory=dict)


CASES = [
    # click usage errors: one line too, exit 2
    Case("epochs-not-a-number", ["train", "--epochs", "abc", "--run", "{run}"], 2,
         r"Invalid value for '--epochs': 'abc' is not a valid integer"),
    Case("run-profile-negative", ["run", "--profile", "-1", "--run", "{run}"], 2,
         r"Invalid value for '--profile': -1 is not in the range x>=0"),
    Case("run-images-zero", ["run", "--images", "0", "--run", "{run}"], 2, r"'--images': 0 is not in the range"),
    Case("unknown-command", ["frobnicate"], 2, r"No such command 'frobnicate'"),
    # non-finite hyperparameters
    Case("map-j-nan", ["train", "--map-j", "nan", "--run", "{run}"], 1, r"--map-j must be a finite number >= 0, got nan"),
    Case("map-j-inf", ["train", "--map-j", "inf", "--run", "{run}"], 1, r"--map-j must be a finite number >= 0, got inf"),
    # checkpoints: nothing is executed, missing or wrong keys named
    Case("checkpoint-pickles-code", ["export", "--target", "onnx", "--run", "{run}"], 1,
         r"checkpoint.pt: checkpoint refused: it pickles posix.system", malicious_checkpoint),
    Case("checkpoint-pickles-code-resume", ["train", "--resume", "--arch", "modern", "--run", "{run}"], 1,
         r"checkpoint.pt: checkpoint refused: it pickles posix.system", malicious_checkpoint),
    Case("checkpoint-no-arch", ["export", "--target", "onnx", "--run", "{run}"], 1,
         r"checkpoint.pt: checkpoint has no 'arch'", lambda run: checkpoint(run, arch=...)),
    Case("checkpoint-unknown-arch", ["export", "--target", "onnx", "--run", "{run}"], 1,
         r"checkpoint.pt: checkpoint arch 'lenet9' is not one of paper, modern", lambda run: checkpoint(run, arch="lenet9")),
    Case("checkpoint-config-list", ["export", "--target", "onnx", "--run", "{run}"], 1,
         r"checkpoint.pt: checkpoint 'config' is list, expected dict", lambda run: checkpoint(run, config=[1, 2])),
    Case("checkpoint-config-seed-str", ["export", "--target", "onnx", "--run", "{run}"], 1,
         r"checkpoint.pt: checkpoint config 'seed' is str",
         lambda run: checkpoint(run, config={"arch": "modern", "seed": "zero"})),
    Case("checkpoint-model-str", ["export", "--target", "onnx", "--run", "{run}"], 1,
         r"checkpoint.pt: checkpoint 'model' is str, expected dict", lambda run: checkpoint(run, model="weights")),
    Case("checkpoint-model-not-tensors", ["train", "--resume", "--arch", "modern", "--run", "{run}"], 1,
         r"checkpoint.pt: checkpoint 'model' entry 'w' is not a named tensor", lambda run: checkpoint(run, model={"w": 1})),
    Case("resume-without-rng", ["train", "--resume", "--arch", "modern", "--run", "{run}"], 1,
         r"checkpoint.pt: cannot resume, the checkpoint has no rng", lambda run: checkpoint(run, rng=...)),
    Case("resume-config-unknown-key", ["train", "--resume", "--arch", "modern", "--run", "{run}"], 1,
         r"checkpoint.pt: checkpoint config does not fit this version",
         lambda run: checkpoint(run, config={"arch": "modern", "colour": "red"})),
    # IDX test files
    Case("idx-zero-images", ["evaluate", "--run", "{run}", "--test-dir", "{test}"], 1,
         r"t10k-images-idx3-ubyte: header declares no data \(dims 0x28x28, 0 images\)",
         lambda run: (fake_model_file(run), make_test_dir(run, (0, 28, 28)))),
    Case("idx-dims-overflow", ["evaluate", "--run", "{run}", "--test-dir", "{test}"], 1,
         r"t10k-images-idx3-ubyte: header declares 2147483648x2147483648x4 uint8 = 18,446,744,073,709,551,616 bytes",
         lambda run: (fake_model_file(run), make_test_dir(run, (2**31, 2**31, 4)))),
    Case("idx-gzip-bomb", ["evaluate", "--run", "{run}", "--test-dir", "{test}"], 1,
         r"t10k-images-idx3-ubyte.gz: header declares 4000000x28x28 uint8 = 3,136,000,000 bytes, over the",
         lambda run: (fake_model_file(run), make_test_dir(run, (4_000_000, 28, 28), gz=True,
                                                         images_body=bytes(1 << 20)))),
    Case("idx-labels-zero", ["evaluate", "--run", "{run}", "--test-dir", "{test}"], 1,
         r"t10k-labels-idx1-ubyte: header declares no data",
         lambda run: (fake_model_file(run), make_test_dir(run, (1, 28, 28), (0,), images_body=bytes(784)))),
    # outputs that cannot be written are found before the long work
    Case("verify-json-is-a-folder", ["verify", "--run", "{run}"], 1, r"verify.json: cannot write \(it is a folder\)",
         lambda run: (fake_model_file(run), (run / "verify.json").mkdir())),
    Case("metrics-json-is-a-folder", ["export", "--target", "onnx", "--run", "{run}"], 1,
         r"metrics.json: cannot write \(it is a folder\)",
         lambda run: (checkpoint(run), (run / "metrics.json").mkdir())),
    Case("train-metrics-json-is-a-folder", ["train", "--epochs", "1", "--run", "{run}"], 1,
         r"metrics.json: cannot write \(it is a folder\)", lambda run: (run / "metrics.json").mkdir()),
    # JSON artifacts that are invalid, or have missing keys or wrong types
    Case("report-run-json-invalid", ["report", "--run", "{run}"], 1, r"run.json: not valid JSON",
         lambda run: write(run / "firmware" / "mps2-an386" / "run.json", "{not json")),
    Case("report-run-json-missing-key", ["report", "--run", "{run}"], 1,
         r"run.json: (missing key '\w+'|missing or malformed field \(KeyError: '\w+'\))",
         lambda run: write(run / "firmware" / "mps2-an386" / "run.json", '{"images": 3}')),
    Case("report-run-json-wrong-type", ["report", "--run", "{run}"], 1,
         r"run.json: .*(wrong type|missing or malformed field)",
         lambda run: write(run / "firmware" / "mps2-an386" / "run.json",
                           '{"images": "3", "identical": "x", "device_accuracy": "high", "stack_peak_bytes": 1}')),
    Case("report-fw-manifest-array", ["report", "--run", "{run}"], 1,
         r"firmware/mps2-an386/manifest.json: (expected a|not a) JSON object",
         lambda run: write(run / "firmware" / "mps2-an386" / "manifest.json", "[]")),
    Case("firmware-c-manifest-invalid", ["export", "--target", "firmware", "--board", "lm3s6965evb", "--run", "{run}"], 1,
         r"c/manifest.json: not valid JSON",
         lambda run: (firmware_project_exists(run), write(run / "c" / "manifest.json", "{"))),
    Case("firmware-elf-is-a-folder", ["export", "--target", "firmware", "--board", "lm3s6965evb", "--run", "{run}"], 1,
         r"firmware/lm3s6965evb/firmware.elf: cannot write \(it is a folder\)",
         lambda run: (firmware_project_exists(run), (run / "firmware" / "lm3s6965evb" / "firmware.elf").mkdir(parents=True)),
         needs=("tools",), changes=("firmware/.lm3s6965evb.lock",)),
    Case("firmware-project-is-a-file", ["export", "--target", "firmware", "--board", "lm3s6965evb", "--run", "{run}"], 1,
         r"firmware/lm3s6965evb: exists and is not a folder",
         lambda run: (firmware_project_exists(run), write(run / "firmware" / "lm3s6965evb", "a file")),
         needs=("tools",), changes=("firmware/.lm3s6965evb.lock",)),
    # the ONNX contract, checked where the model is read
    Case("contract-scores-renamed-evaluate", ["evaluate", "--run", "{run}", "--test-dir", "{official}"], 1,
         r"lenet5_int8.onnx: does not follow the lenet-edge ONNX contract .*outputs are \['logits', 'label'\].*missing 'scores'",
         lambda run: mutate_model(run, "scores->logits"), needs=("model",)),
    Case("contract-scores-renamed-export-c", ["export", "--target", "c", "--run", "{run}"], 1,
         r"lenet5_int8.onnx: outputs are named 'logits' \(scores\) and 'label' \(label\); the contract",
         lambda run: mutate_model(run, "scores->logits"), needs=("model",)),
    Case("contract-scores-renamed-verify", ["verify", "--run", "{run}"], 1,
         r"lenet5_int8.onnx: does not follow .*missing 'scores'",
         lambda run: mutate_model(run, "scores->logits"), needs=("model",)),
    Case("contract-float-input", ["evaluate", "--run", "{run}", "--test-dir", "{official}"], 1,
         r"lenet5_int8.onnx: does not follow .*input 'image' is float \[N,1,28,28\], expected uint8 \[N,1,28,28\]",
         lambda run: mutate_model(run, "float input"), needs=("model",)),
    Case("contract-input-renamed", ["evaluate", "--run", "{run}", "--test-dir", "{official}"], 1,
         r"lenet5_int8.onnx: does not follow .*input is named 'pixels', expected 'image'",
         lambda run: mutate_model(run, "image->pixels"), needs=("model",)),
    Case("contract-no-label", ["evaluate", "--run", "{run}", "--test-dir", "{official}"], 1,
         r"lenet5_int8.onnx: does not follow .*missing 'label'",
         lambda run: mutate_model(run, "no label"), needs=("model",)),
    Case("contract-wrong-input-shape", ["evaluate", "--run", "{run}", "--test-dir", "{official}"], 1,
         r"lenet5_int8.onnx: .*(input 'image' is uint8 \[N,1,32,32\]|ONNX Runtime cannot load the model)",
         lambda run: mutate_model(run, "batch of 32x32"), needs=("model",)),
    Case("contract-scores-renamed-run", ["run", "--board", "lm3s6965evb", "--images", "2", "--run", "{run}",
                                         "--test-dir", "{official}"], 1,
         r"lenet5_int8.onnx: does not follow .*missing 'scores'",
         lambda run: mutate_model(run, "scores->logits"), needs=("model", "tools")),
    Case("run-json-is-a-folder", ["run", "--board", "lm3s6965evb", "--images", "2", "--run", "{run}",
                                  "--test-dir", "{official}"], 1,
         r"firmware/lm3s6965evb/run.json: cannot write \(it is a folder\)",
         lambda run: (run / "firmware" / "lm3s6965evb" / "run.json").mkdir(parents=True), needs=("model", "tools")),
]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every path under `folder`: kind, and for files their bytes' hash and mtime."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_dir():
            out[rel] = ("dir",)
        else:
            out[rel] = ("file", hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path, request, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    official = ""
    if "model" in case.needs:
        official = str(request.getfixturevalue("official_test_dir"))
        copy_run(request.getfixturevalue("short_run")["modern"], run)
    if "tools" in case.needs or case.args[0] == "run" and case.code == 1 or "firmware" in case.args:
        require_tool("arm-none-eabi-gcc")
        require_tool("qemu-system-arm")
    case.setup(run)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    before = snapshot(run)
    args = [a.format(run=run, test=run.parent / "t10k", official=official) for a in case.args]
    result = CliRunner().invoke(main, args)

    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"escaped exception (a traceback for the user): {result.exception!r}")
    assert result.exit_code == case.code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got:\n{result.stderr}"
    assert lines[0].startswith("lenet-edge: error: "), lines[0]
    assert __import__("re").search(case.pattern, lines[0]), f"{case.pattern!r} not in {lines[0]!r}"
    assert "Traceback" not in result.output
    after = snapshot(run)
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    assert changed <= set(case.changes), f"run folder changed: {sorted(changed)}"
    assert not (tmp_path / "PWNED").exists(), "the checkpoint's pickled code ran"


def test_training_stops_when_the_loss_becomes_non_finite(tmp_path, monkeypatch):
    """Issue 9 item 10: a diverging run stops with one line and saves no NaN checkpoint."""
    from lenet_edge.model import train

    real_loss, calls = train.loss_fn, []

    def diverging(model, scores, y, map_j):
        calls.append(1)
        loss = real_loss(model, scores, y, map_j)
        return loss * float("nan") if len(calls) >= 3 else loss
    monkeypatch.setattr(train, "loss_fn", diverging)
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--arch", "modern", "--epochs", "1", "--run", str(run)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    line = result.stderr.strip().splitlines()[-1]
    assert line == "lenet-edge: error: epoch 1: training loss became nan at batch 3; training stopped", line
    assert not (run / "checkpoint.pt").exists() and not (run / "metrics.json").exists()
