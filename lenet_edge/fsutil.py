"""Atomic artifact writing.

* `atomic_path` / `write_bytes` / `write_text`: one file, written to a temp file in the target
  folder and renamed onto it (os.replace).
* `atomic_dir`: a whole set of files (a generated C folder, a firmware project), written into a
  staging folder beside the final one and swapped in as one step.

A crash, Ctrl-C or full disk at any point leaves either the old file (set) or the new one, never
a half-written or mixed one. Every OSError on the way becomes a one-line LenetEdgeError naming the
file.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from lenet_edge.errors import LenetEdgeError


def os_error(path: Path, e: OSError, what: str = "cannot write") -> LenetEdgeError:
    """The one-line error for an OSError on `path`, e.g. "c/lenet5.c: cannot write (No space left on device)"."""
    return LenetEdgeError(f"{path}: {what} ({e.strerror or e})")


def ensure_writable_dir(path: Path) -> Path:
    """Create `path` if needed and check we can write into it; one-line error otherwise."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise os_error(path, e, "cannot create folder") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise LenetEdgeError(f"{path}: folder is not writable")
    return path


def check_writable_file(dest: Path) -> Path:
    """Fail now, before any long work, if `dest` could not be written later: it is a folder or a
    read-only file, or its folder (or the nearest existing parent, for a folder still to be made)
    is not a writable folder. Creates nothing."""
    dest = Path(dest)
    if dest.is_dir():
        raise LenetEdgeError(f"{dest}: cannot write (it is a folder)")
    if dest.exists() and not os.access(dest, os.W_OK):
        raise LenetEdgeError(f"{dest}: file is not writable")
    folder = dest.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise LenetEdgeError(f"{folder}: is not a folder, cannot write {dest.name} under it")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LenetEdgeError(f"{folder}: folder is not writable")
    return dest


@contextlib.contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temp path beside `dest`; on success rename it onto `dest`, on failure delete it.
    Exceptions from the caller's block pass through unchanged (the caller knows what it was doing);
    an OSError of the final rename becomes a one-line error naming `dest`."""
    dest = Path(dest)
    if dest.is_dir():
        raise LenetEdgeError(f"{dest}: cannot write (it is a folder)")
    ensure_writable_dir(dest.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        os.close(fd)
    except OSError as e:
        raise os_error(dest, e) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        try:
            os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; artifacts get normal permissions
            os.replace(tmp_path, dest)
        except OSError as e:
            raise os_error(dest, e) from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(dest: Path, data: bytes) -> None:
    with atomic_path(dest) as tmp:
        try:
            tmp.write_bytes(data)
        except OSError as e:  # e.g. the disk is full: the old `dest` stays as it was
            raise os_error(dest, e) from None


def write_text(dest: Path, text: str) -> None:
    write_bytes(dest, text.encode("utf-8"))


def write_json(dest: Path, data) -> None:
    write_text(dest, json.dumps(data, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------------------------
# A folder of files as one transaction

@contextlib.contextmanager
def atomic_dir(dest: Path, keep: bool = False) -> Iterator[Path]:
    """Yield a staging folder beside `dest`; fill it; on success it replaces `dest` in one step.

    On any failure (exception, Ctrl-C, full disk) the staging folder is deleted and `dest` is left
    exactly as it was. `keep=True` starts the staging folder as a copy of the current `dest`
    (modification times kept, so `make` in it stays incremental); otherwise it starts empty.

        with fsutil.atomic_dir(run_dir / "c") as stage:
            fsutil.write_text(stage / "lenet5.c", text)   # ... the whole set
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise LenetEdgeError(f"{dest}: exists and is not a folder")
    ensure_writable_dir(dest.parent)
    try:
        stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".new", dir=dest.parent))
    except OSError as e:
        raise os_error(dest, e, "cannot create staging folder") from None
    try:
        try:
            if keep and dest.is_dir():
                shutil.copytree(dest, stage, symlinks=True, dirs_exist_ok=True)
            os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes 0700
        except OSError as e:
            raise os_error(stage, e, "cannot stage a copy of the folder") from None
        try:
            yield stage
        except LenetEdgeError as e:  # name the files as the user knows them, not the staging copy
            raise LenetEdgeError(str(e).replace(str(stage), str(dest))) from None
        _swap_in(stage, dest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _swap_in(stage: Path, dest: Path) -> None:
    """Put `stage` at `dest`. An existing `dest` is exchanged atomically where the OS allows it
    (Linux renameat2 RENAME_EXCHANGE), else moved aside first; the old set is then deleted."""
    try:
        if not dest.exists():
            os.rename(stage, dest)
            return
        if _exchange(stage, dest):
            old = stage  # after the exchange, `stage` holds the old set
        else:
            old = dest.with_name(f"{stage.name[:-len('.new')]}.old")
            os.rename(dest, old)
            os.rename(stage, dest)
    except OSError as e:
        raise os_error(dest, e, "cannot swap in the new folder") from None
    shutil.rmtree(old, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux >= 3.15). False when the call is not available."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


# ---------------------------------------------------------------------------------------------
# Reading our own JSON artifacts

def read_json(path: Path, required: dict[str, type | tuple[type, ...]] | None = None, hint: str = "") -> dict:
    """A JSON object from `path`, with `required` keys of the given types; one-line error otherwise
    (missing file, invalid JSON, not an object, missing key, wrong type). `hint` says how to remake it."""
    path = Path(path)
    again = f"; {hint}" if hint else ""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LenetEdgeError(f"{path}: missing{again}") from None
    except OSError as e:
        raise os_error(path, e, "cannot read") from None
    except UnicodeDecodeError:
        raise LenetEdgeError(f"{path}: not valid JSON (not UTF-8 text){again}") from None
    except json.JSONDecodeError as e:
        raise LenetEdgeError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}){again}") from None
    if not isinstance(data, dict):
        raise LenetEdgeError(f"{path}: expected a JSON object, got {type(data).__name__}{again}")
    for key, kind in (required or {}).items():
        if key not in data:
            raise LenetEdgeError(f"{path}: missing key {key!r}{again}")
        if not isinstance(data[key], kind) or (isinstance(data[key], bool) and bool not in _types(kind)):
            raise LenetEdgeError(f"{path}: key {key!r} is {type(data[key]).__name__}, expected "
                                 f"{' or '.join(t.__name__ for t in _types(kind))}{again}")
    return data


def _types(kind) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def replace_folder_files(dest: Path, files: dict[str, bytes]) -> None:
    """Make the folder `dest` hold `files` (name -> bytes) as one set, keeping whatever else it
    already holds: a complete copy is staged beside it and swapped in at once (`atomic_dir`), so on
    any failure `dest` is untouched."""
    dest = Path(dest)
    for name in files:
        if (dest / name).is_dir():
            raise LenetEdgeError(f"{dest / name}: exists as a folder; cannot write the generated file there")
    with atomic_dir(dest, keep=True) as stage:
        for name, data in files.items():
            write_bytes(stage / name, data)
