"""The MNIST downloader against a local HTTP server (127.0.0.1, random port) serving small IDX
files made here. No test touches the internet."""
from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

import lenet_edge.data.datasets as datasets
import lenet_edge.data.download as download
from lenet_edge.data import cache_dir, download_mnist, load_test, load_train_val, write_idx
from lenet_edge.errors import LenetEdgeError

NAMES = tuple(download.MNIST_MD5)  # the four official file names


class Server:
    """A static file server in a thread that records every requested path."""

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):
                requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(server, md5s): the four official names as small gz IDX files (60 train, 20 t10k digits)."""
    root = tmp_path_factory.mktemp("www")
    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("t10k", 20)):
        write_idx(root / "mnist" / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), np.uint8))
        write_idx(root / "mnist" / f"{split}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    md5s = {name: hashlib.md5((root / "mnist" / name).read_bytes()).hexdigest() for name in NAMES}
    server = Server(root)
    yield server, md5s
    server.close()


@pytest.fixture
def server(served):
    server, _ = served
    server.requests.clear()
    return server


@pytest.fixture
def md5s(served):
    return dict(served[1])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_download_and_skip_when_cached(tmp_path, server, md5s, capsys):
    folder = download_mnist(tmp_path, base_url=server.url, progress=True, md5s=md5s)
    assert folder == tmp_path / "mnist"
    assert sorted(server.requests) == sorted(f"/mnist/{n}" for n in NAMES)
    for name in NAMES:
        assert hashlib.md5((folder / name).read_bytes()).hexdigest() == md5s[name]
    assert leftovers(folder) == []
    assert "t10k-labels-idx1-ubyte.gz" in capsys.readouterr().err  # the progress lines name the file

    server.requests.clear()
    assert download_mnist(tmp_path, base_url=server.url, progress=False, md5s=md5s) == folder
    assert server.requests == []  # all four present with the right md5: nothing fetched


def test_corrupt_cached_file_is_fetched_again(tmp_path, server, md5s):
    folder = download_mnist(tmp_path, base_url=server.url, progress=False, md5s=md5s)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    server.requests.clear()
    download_mnist(tmp_path, base_url=server.url, progress=False, md5s=md5s)
    assert server.requests == ["/mnist/train-labels-idx1-ubyte.gz"]
    assert hashlib.md5((folder / "train-labels-idx1-ubyte.gz").read_bytes()).hexdigest() == md5s[
        "train-labels-idx1-ubyte.gz"]


def test_md5_mismatch_is_an_error_and_leaves_no_file(tmp_path, server, md5s):
    md5s["t10k-images-idx3-ubyte.gz"] = "0" * 32
    with pytest.raises(LenetEdgeError) as info:
        download_mnist(tmp_path, base_url=server.url, progress=False, md5s=md5s)
    msg = str(info.value)
    served_md5 = hashlib.md5((server.root / "mnist" / "t10k-images-idx3-ubyte.gz").read_bytes()).hexdigest()
    assert "\n" not in msg
    assert "t10k-images-idx3-ubyte.gz" in msg and f"expected {'0' * 32}, got {served_md5}" in msg, msg
    folder = tmp_path / "mnist"
    assert not (folder / "t10k-images-idx3-ubyte.gz").exists()
    assert leftovers(folder) == []


def test_http_404_names_the_url(tmp_path, server, md5s):
    md5s["missing-idx1-ubyte.gz"] = "0" * 32
    with pytest.raises(LenetEdgeError) as info:
        download_mnist(tmp_path, base_url=server.url, progress=False, md5s=md5s)
    msg = str(info.value)
    assert "\n" not in msg
    assert f"{server.url}missing-idx1-ubyte.gz: HTTP 404" in msg, msg
    assert not (tmp_path / "mnist" / "missing-idx1-ubyte.gz").exists()
    assert leftovers(tmp_path / "mnist") == []


def test_unreachable_server_names_the_url(tmp_path, md5s):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mnist/"
    with pytest.raises(LenetEdgeError) as info:
        download_mnist(tmp_path, base_url=url, progress=False, md5s=md5s)
    assert f"{url}{NAMES[0]}: " in str(info.value) and "\n" not in str(info.value)


def test_malformed_url_is_a_one_line_error(tmp_path, md5s):
    with pytest.raises(LenetEdgeError, match=r"^cannot download .*: mirror\.example/train-images-idx3-ubyte\.gz: unknown url type"):
        download_mnist(tmp_path, base_url="mirror.example/", progress=False, md5s=md5s)


def test_default_mirror_falls_back_to_the_next(tmp_path, server, md5s, monkeypatch):
    dead = server.url.replace("/mnist/", "/gone/")
    monkeypatch.setattr(download, "MIRRORS", (dead, server.url))
    folder = download_mnist(tmp_path, base_url=download.DEFAULT_MIRROR, progress=False, md5s=md5s)
    assert all((folder / n).is_file() for n in NAMES)
    assert server.requests.count(f"/gone/{NAMES[0]}") == 1 and f"/mnist/{NAMES[0]}" in server.requests


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LENET_EDGE_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir() == tmp_path / "home" / ".cache" / "lenet-edge"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "lenet-edge"
    monkeypatch.setenv("LENET_EDGE_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_dataset_mnist_end_to_end(tmp_path, server, md5s, monkeypatch):
    """--dataset mnist: downloads into the user cache, trains on train-*, tests on the cached t10k."""
    monkeypatch.setenv("LENET_EDGE_CACHE", str(tmp_path))
    monkeypatch.setattr(datasets, "download_mnist",
                        functools.partial(download_mnist, base_url=server.url, progress=False, md5s=md5s))
    train, val = load_train_val("mnist", seed=0)
    assert (len(train), len(val)) == (54, 6) and train.source == "official MNIST (54 train)"
    test = load_test(dataset="mnist", fallback=val)
    assert len(test) == 20 and test.source == f"t10k IDX files in {tmp_path / 'mnist'}"
