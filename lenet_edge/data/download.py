"""Download the official MNIST IDX files into the user cache, verified by md5.

Each file is streamed into a temp file beside its destination and renamed only once its md5
matches; a file already present with the right md5 is not fetched again.
"""
from __future__ import annotations

import hashlib
import os
import urllib.request
from http.client import HTTPException
from pathlib import Path
from urllib.error import HTTPError, URLError

from lenet_edge import __version__, fsutil
from lenet_edge.errors import LenetEdgeError
from lenet_edge.progress import progress_bar

# Official file name -> md5 of the .gz file (as published with the dataset).
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
DEFAULT_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
# Tried in order when the default mirror is asked for; an explicit base_url is the only one tried.
MIRRORS = (
    DEFAULT_MIRROR,
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
TIMEOUT_S = 30
CHUNK = 1 << 16


def cache_dir() -> Path:
    """$LENET_EDGE_CACHE, else $XDG_CACHE_HOME/lenet-edge, else ~/.cache/lenet-edge."""
    if os.environ.get("LENET_EDGE_CACHE"):
        return Path(os.environ["LENET_EDGE_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "lenet-edge"


_user_cache_dir = cache_dir  # download_mnist's `cache_dir` argument shadows the function


def file_md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


class _FetchError(Exception):
    """One URL failed; the message is the reason (the caller adds the URL)."""


def _fetch(url: str, dest: Path, want_md5: str, progress: bool) -> None:
    """Stream `url` into `dest` atomically; the temp file is deleted unless the md5 matches."""
    try:
        request = urllib.request.Request(url, headers={"User-Agent": f"lenet-edge/{__version__}"})
        with fsutil.atomic_path(dest) as tmp, urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            h = hashlib.md5()
            with open(tmp, "wb") as out, progress_bar(total=total, unit="B", desc=dest.name,
                                                      enabled=progress) as bar:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
            if h.hexdigest() != want_md5:
                raise _FetchError(f"md5 mismatch for {dest.name}: expected {want_md5}, got {h.hexdigest()}")
    except HTTPError as e:
        raise _FetchError(f"HTTP {e.code} {e.reason}") from None
    except URLError as e:
        raise _FetchError(str(e.reason)) from None
    except (OSError, HTTPException, ValueError) as e:  # timeouts, resets, short reads, bad URLs
        raise _FetchError(str(e) or type(e).__name__) from None


def download_mnist(cache_dir: Path | None = None, base_url: str = DEFAULT_MIRROR, progress: bool = True,
                   md5s: dict[str, str] | None = None) -> Path:
    """Fetch the MNIST files into `<cache_dir>/mnist/` (default: the user cache); returns that folder.

    md5s: file name -> expected md5 (default MNIST_MD5, the official files); injectable for tests.
    """
    root = Path(cache_dir) if cache_dir is not None else _user_cache_dir()
    folder = fsutil.ensure_writable_dir(root / "mnist")
    md5s = MNIST_MD5 if md5s is None else md5s
    bases = MIRRORS if base_url == DEFAULT_MIRROR else (base_url,)
    for name, want in md5s.items():
        dest = folder / name
        if dest.is_file():
            if file_md5(dest) == want:
                continue  # cached and intact
            dest.unlink()  # corrupt or stale: never leave it where a loader would find it
        failures = []
        for base in bases:
            url = base.rstrip("/") + "/" + name
            try:
                _fetch(url, dest, want, progress)
                break
            except _FetchError as e:
                failures.append(f"{url}: {e}")
        else:
            raise LenetEdgeError(f"cannot download {dest}: " + "; ".join(failures))
    return folder
