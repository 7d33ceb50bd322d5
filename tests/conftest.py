"""Shared test fixtures. A test that needs a system tool calls `require_tool`: it skips when the
tool is missing on a developer machine, but FAILS under CI=true, where a missing toolchain is a bug."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# One intra-op thread: LeNet-sized batches gain nothing from more, and on a busy 2-core machine
# oversubscribed torch threads made a training epoch 30x slower. Set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    msg = f"{name} not found (run `make toolchain` as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def official_test_dir() -> Path:
    """The official MNIST t10k files beside the repo (../shared/data/mnist)."""
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED_MNIST}: official MNIST test set missing")
        pytest.skip("official MNIST test set not available")
    return SHARED_MNIST


@pytest.fixture(scope="session")
def full_run(tmp_path_factory, official_test_dir) -> Path:
    """A run folder through every stage: a one-epoch paper model (RBF head), both ONNX files, the C,
    a short verify, and the mps2-an386 firmware run in QEMU on 20 official digits with a profile.
    Read-only for tests: copy it (shutil.copytree) before changing anything."""
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    from lenet_edge.check.verify import verify_cmd
    from lenet_edge.compiler import export_c_cmd
    from lenet_edge.device.measure import run_cmd
    from lenet_edge.cli import export_onnx_cmd
    from lenet_edge.model.train import TrainConfig, fit

    run = tmp_path_factory.mktemp("full_run")
    quiet = lambda *a, **k: None  # noqa: E731
    fit(run, TrainConfig(arch="paper", epochs=1), test_dir=official_test_dir, progress=False, echo=quiet)
    export_onnx_cmd(run, calib_images=200, test_dir=official_test_dir, echo=quiet)
    export_c_cmd(run / "lenet5_int8.onnx", run / "c")
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        verify_cmd(run, official_test_dir, as_json=True, limit=200)
        run_cmd("mps2-an386", 20, run, official_test_dir, as_json=True, profile_images=1)
    return run
class _ShortRuns(dict):
    """arch -> a run folder trained one epoch on the embedded digits (seed 1), with lenet5_int8.onnx,
    lenet5_float.onnx and c/ exported; made on first use, once per session. Read-only for tests:
    copy it (`copy_run`) before changing anything in it."""

    def __init__(self, root: Path):
        super().__init__()
        self.root = root

    def __missing__(self, arch: str) -> Path:
        from lenet_edge.compiler import export_c_cmd
        from lenet_edge.cli import export_onnx_cmd
        from lenet_edge.model.train import TrainConfig, fit

        run = self.root / arch
        quiet = lambda *a, **k: None  # noqa: E731
        # seed 1: with seed 0 the 1-epoch paper run trips the exporter's accumulator bound at s4
        fit(run, TrainConfig(arch=arch, epochs=1, seed=1), progress=False, echo=quiet)
        export_onnx_cmd(run, calib_images=200, echo=quiet)
        export_c_cmd(run / "lenet5_int8.onnx", run / "c")
        self[arch] = run
        return run


@pytest.fixture(scope="session")
def short_run(tmp_path_factory) -> _ShortRuns:
    """`short_run["modern"]` / `short_run["paper"]`: shared briefly trained runs (see _ShortRuns)."""
    return _ShortRuns(tmp_path_factory.mktemp("short-runs"))


def copy_run(run: Path, dest: Path) -> Path:
    """A private copy of a run folder's model files (checkpoint, metrics, ONNX, c/)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("checkpoint.pt", "metrics.json", "lenet5_int8.onnx", "lenet5_float.onnx"):
        if (run / name).is_file():
            shutil.copy2(run / name, dest / name)
    if (run / "c").is_dir():
        shutil.copytree(run / "c", dest / "c")
    return dest
