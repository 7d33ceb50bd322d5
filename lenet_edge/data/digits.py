"""`Digits`: a set of labelled 28x28 images plus where it came from and a content hash."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from lenet_edge.errors import LenetEdgeError


def digits_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    """Hex sha256 over the image bytes (uint8, C order) then the label bytes (int64 little-endian)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    h.update(np.ascontiguousarray(labels, dtype="<i8").tobytes())
    return h.hexdigest()


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays have no single truth value
class Digits:
    images: np.ndarray  # uint8 [N, 28, 28], 0 = background, 255 = ink (MNIST convention)
    labels: np.ndarray  # int64 [N], 0..9
    source: str         # human description, e.g. "held-out split of mnist-5k (500, seed 0)"
    sha256: str         # digits_sha256(images, labels), hex

    @classmethod
    def from_arrays(cls, images: np.ndarray, labels: np.ndarray, source: str) -> "Digits":
        """Validate shapes, dtypes and ranges, then hash. `source` names the data in errors."""
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise LenetEdgeError(f"{source}: images have shape {images.shape}, expected [N, 28, 28]")
        if images.dtype != np.uint8:
            raise LenetEdgeError(f"{source}: images are {images.dtype}, expected uint8")
        if labels.shape != (len(images),):
            raise LenetEdgeError(f"{source}: labels have shape {labels.shape}, expected [{len(images)}]")
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise LenetEdgeError(f"{source}: labels outside 0..9")
        images = np.ascontiguousarray(images)
        labels = np.ascontiguousarray(labels, dtype=np.int64)
        return cls(images, labels, source, digits_sha256(images, labels))

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray, source: str) -> "Digits":
        """The digits at `index` (int array or bool mask), in that order, as a new set."""
        return Digits.from_arrays(self.images[index], self.labels[index], source)
