"""IDX files (the MNIST on-disk format), raw or gzip-compressed.

Layout (all integers big-endian):
    bytes 0..3   magic: 0x00, 0x00, dtype code, ndim   (MNIST images 0x00000803, labels 0x00000801)
    then ndim    uint32 dimension sizes             (images: N, 28, 28; labels: N)
    then         prod(dims) items of the dtype, row-major

Every fault (missing file, not gzip, bad magic, truncated, trailing bytes, zero or oversized dims,
count mismatch, label out of range) is a one-line LenetEdgeError that names the file.
"""
from __future__ import annotations

import gzip
import math
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


# Largest data an IDX file may declare (the official train images are 47 MB): a header that claims
# more is refused before anything is read or decompressed, so a "gzip bomb" costs no memory.
MAX_IDX_BYTES = 1 << 30


def _open(path: Path):
    """A binary stream of the file's contents, decompressed when the name ends in .gz."""
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: Path, magic: int | None = None) -> np.ndarray:
    """Read one IDX file (.gz or raw) into an array of its declared dtype (native byte order).

    `magic`, if given, is the exact 4-byte magic the file must carry (IMAGES_MAGIC, LABELS_MAGIC).
    Validates the magic, the dtype code, the dims (none zero, product computed without overflow and
    at most MAX_IDX_BYTES) and that the data size equals the header's. Reads the header first and
    then only as many bytes as it declares (plus one, to detect trailing bytes).
    """
    path = Path(path)
    size_word = "decompressed data has" if path.suffix == ".gz" else "file has"
    try:
        with _open(path) as f:
            head = f.read(4)
            if len(head) < 4:
                raise LenetEdgeError(f"{path}: truncated: {len(head)} bytes, shorter than the 4-byte IDX magic")
            got_magic = int.from_bytes(head, "big")
            if magic is not None and got_magic != magic:
                raise LenetEdgeError(
                    f"{path}: bad magic 0x{got_magic:08X} (expected 0x{magic:08X}, {_KIND.get(magic, 'IDX')})")
            code, ndim = head[2], head[3]
            if head[0] or head[1] or code not in DTYPES or ndim == 0:
                raise LenetEdgeError(f"{path}: bad magic 0x{got_magic:08X} (not an IDX file)")
            header_len = 4 + 4 * ndim
            dim_bytes = f.read(4 * ndim)
            if len(dim_bytes) < 4 * ndim:
                raise LenetEdgeError(f"{path}: truncated: {ndim}-dim IDX header needs {header_len} bytes, "
                                     f"{size_word} {4 + len(dim_bytes)} bytes")
            dims = tuple(int.from_bytes(dim_bytes[4 * i: 4 * i + 4], "big") for i in range(ndim))
            items = _ITEMS.get(got_magic, "items")
            if 0 in dims:
                raise LenetEdgeError(f"{path}: header declares no data (dims {'x'.join(map(str, dims))}, "
                                     f"{dims[0]} {items})")
            dtype = DTYPES[code]
            body_len = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
            if body_len > MAX_IDX_BYTES:
                raise LenetEdgeError(f"{path}: header declares {'x'.join(map(str, dims))} {dtype.name} "
                                     f"= {body_len:,} bytes, over the {MAX_IDX_BYTES:,}-byte limit")
            body = f.read(body_len + 1)
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
    if len(body) != body_len:
        fault = "truncated" if len(body) < body_len else "trailing bytes"
        if len(body) <= body_len:
            got = f"{header_len + len(body)}"
        elif path.suffix != ".gz":
            got = f"{path.stat().st_size}"
        else:  # the rest of the stream is not inflated just to count it
            got = f"more than {header_len + body_len}"
        raise LenetEdgeError(f"{path}: {fault}: header says {dims[0]} {items} ({header_len + body_len} bytes), "
                             f"{size_word} {got} bytes")
    return np.frombuffer(body, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))  # writable, native


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
