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
