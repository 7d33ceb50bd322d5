"""IDX files (the MNIST on-disk format), raw or gzip-compressed.

Layout (all integers big-endian):
    bytes 0..3   magic: 0x00, 0x00, dtype code, ndim   (MNIST images 0x00000803, labels 0x00000801)
    then ndim    uint32 dimension sizes             (images: N, 28, 28; labels: N)
    then         prod(dims) items of the dtype, row-major

Every fault (missing file, not gzip, bad magic, truncated, wrong dims, count mismatch, label out
of range) is a one-line LenetEdgeError that names the file.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from lenet_edge import fsutil
from lenet_edge.errors import LenetEdgeError

IMAGES_MAGIC = 0x00000803  # ubyte, 3 dims
LABELS_MAGIC = 0x00000801  # ubyte, 1 dim
IMAGE_SIDE = 28

# IDX dtype code -> big-endian numpy dtype
DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KIND = {IMAGES_MAGIC: "IDX ubyte images", LABELS_MAGIC: "IDX ubyte labels"}
_ITEMS = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}


def _read_bytes(path: Path) -> bytes:
    """File contents, decompressed when the name ends in .gz."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise LenetEdgeError(f"{path}: missing file") from None
    except IsADirectoryError:
        raise LenetEdgeError(f"{path}: is a folder, expected an IDX file") from None
    except gzip.BadGzipFile:
        raise LenetEdgeError(f"{path}: not a gzip file") from None
    except (EOFError, zlib.error) as e:
        raise LenetEdgeError(f"{path}: corrupt gzip stream ({e})") from None
    except OSError as e:
        raise LenetEdgeError(f"{path}: cannot read ({e.strerror or e})") from None


def read_idx(path: Path, magic: int | None = None) -> np.ndarray:
    """Read one IDX file (.gz or raw) into an array of its declared dtype (native byte order).

    `magic`, if given, is the exact 4-byte magic the file must carry (IMAGES_MAGIC, LABELS_MAGIC).
    Validates the magic, the dtype code, the dims and that the file size equals the header's.
    """
    path = Path(path)
    data = _read_bytes(path)
    size_word = "decompressed data has" if path.suffix == ".gz" else "file has"
    if len(data) < 4:
        raise LenetEdgeError(f"{path}: truncated: {len(data)} bytes, shorter than the 4-byte IDX magic")
    got_magic = int.from_bytes(data[:4], "big")
    if magic is not None and got_magic != magic:
        raise LenetEdgeError(
            f"{path}: bad magic 0x{got_magic:08X} (expected 0x{magic:08X}, {_KIND.get(magic, 'IDX')})")
    code, ndim = data[2], data[3]
    if data[0] or data[1] or code not in DTYPES or ndim == 0:
        raise LenetEdgeError(f"{path}: bad magic 0x{got_magic:08X} (not an IDX file)")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise LenetEdgeError(
            f"{path}: truncated: {ndim}-dim IDX header needs {header_len} bytes, {size_word} {len(data)} bytes")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = DTYPES[code]
    want = header_len + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != want:
        fault = "truncated" if len(data) < want else "trailing bytes"
        items = _ITEMS.get(got_magic, "items")
        raise LenetEdgeError(
            f"{path}: {fault}: header says {dims[0]} {items} ({want} bytes), {size_word} {len(data)} bytes")
    arr = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))  # a writable native-order copy


def read_images(path: Path) -> np.ndarray:
    """MNIST-style image file -> uint8 [N, 28, 28]."""
    images = read_idx(path, IMAGES_MAGIC)
    if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        h, w = images.shape[1:]
        raise LenetEdgeError(f"{path}: images are {h}x{w}, expected {IMAGE_SIDE}x{IMAGE_SIDE}")
    return images


def read_labels(path: Path) -> np.ndarray:
    """MNIST-style label file -> int64 [N], every value in 0..9."""
    labels = read_idx(path, LABELS_MAGIC).astype(np.int64)
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise LenetEdgeError(f"{path}: label {labels[bad[0]]} at index {bad[0]} is outside 0..9")
    return labels


def find_idx(folder: Path, split: str, kind: str) -> Path:
    """`folder/<split>-<kind>-idx?-ubyte`, raw preferred, else `.gz`; missing -> error naming both.

    split: "train" or "t10k"; kind: "images" or "labels".
    """
    name = f"{split}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise LenetEdgeError(f"{folder / name}[.gz]: missing file")


def has_split(folder: Path, split: str) -> bool:
    """True when any image or label file of `split` is present (a half-present pair is an error later)."""
    return any((Path(folder) / f"{split}-{kind}-idx{n}-ubyte{gz}").is_file()
               for kind, n in (("images", 3), ("labels", 1)) for gz in ("", ".gz"))


def read_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray, Path]:
    """Images uint8 [N,28,28], labels int64 [N] and the images path of one split in `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LenetEdgeError(f"{folder}: no such folder (expected the MNIST IDX files in it)")
    images_path, labels_path = find_idx(folder, split, "images"), find_idx(folder, split, "labels")
    images, labels = read_images(images_path), read_labels(labels_path)
    if len(images) != len(labels):
        raise LenetEdgeError(
            f"{labels_path}: {len(labels)} labels but {images_path.name} has {len(images)} images")
    return images, labels, images_path


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write `array` as an IDX file (gzip when the name ends in .gz; mtime 0 so it is byte-stable)."""
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None or array.ndim == 0 or array.ndim > 255:
        raise LenetEdgeError(f"{path}: cannot write a {array.dtype} array of {array.ndim} dims as IDX")
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes()
    if Path(path).suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    fsutil.write_bytes(Path(path), data)
