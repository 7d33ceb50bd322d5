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


def replace_folder_files(dest: Path, files: dict[str, bytes]) -> None:
    """Make the folder `dest` hold `files` (name -> bytes) as one set: stage a complete copy in a
    sibling temp folder (the new files plus whatever else `dest` already holds), then swap it in
    with one rename (an atomic exchange where the OS has one, Linux renameat2). On any failure
    before the swap `dest` is untouched; after it, the old set is simply deleted."""
    import shutil

    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise LenetEdgeError(f"{dest}: exists and is not a folder")
    for name in files:
        if (dest / name).is_dir():
            raise LenetEdgeError(f"{dest / name}: exists as a folder; cannot write the generated file there")
    ensure_writable_dir(dest.parent)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".new", dir=dest.parent))
    try:
        if dest.is_dir():
            for entry in dest.iterdir():              # keep what is not ours
                if entry.name not in files:
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.copytree(entry, stage / entry.name, symlinks=True)
                    else:
                        shutil.copy2(entry, stage / entry.name, follow_symlinks=False)
            os.chmod(stage, dest.stat().st_mode & 0o7777)
        else:
            os.chmod(stage, 0o777 & ~_umask())
        for name, data in files.items():
            (stage / name).write_bytes(data)
            os.chmod(stage / name, 0o666 & ~_umask())
        if dest.is_dir():
            if not _exchange(stage, dest):
                old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
                os.rmdir(old)
                os.rename(dest, old)
                os.rename(stage, dest)
                stage = old
        else:
            os.rename(stage, dest)
            return
    except OSError as e:
        shutil.rmtree(stage, ignore_errors=True)
        raise LenetEdgeError(f"{dest}: cannot write the generated files ({e.strerror or e})") from None
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    shutil.rmtree(stage, ignore_errors=True)          # now the old set


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where not available."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if rc != 0:
        err = ctypes.get_errno()
        if err in (22, 38, 95):   # EINVAL / ENOSYS / EOPNOTSUPP: the filesystem cannot exchange
            return False
        raise OSError(err, os.strerror(err))
    return True
