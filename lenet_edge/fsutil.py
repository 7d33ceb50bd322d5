"""Atomic artifact writing: a temp file in the target folder, then os.replace.

A crash or Ctrl-C at any point leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from lenet_edge.errors import LenetEdgeError


def ensure_writable_dir(path: Path) -> Path:
    """Create `path` if needed and check we can write into it; one-line error otherwise."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LenetEdgeError(f"{path}: cannot create folder ({e.strerror or e})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise LenetEdgeError(f"{path}: folder is not writable")
    return path


@contextlib.contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temp path beside `dest`; on success rename it onto `dest`, on failure delete it."""
    dest = Path(dest)
    ensure_writable_dir(dest.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; artifacts get normal permissions
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(dest: Path, data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def write_text(dest: Path, text: str) -> None:
    write_bytes(dest, text.encode("utf-8"))
