"""Progress bars go to a terminal only; in logs and CI they are a few plain lines, no carriage returns."""
from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest

from lenet_edge.data import download_mnist, write_idx
from lenet_edge.progress import PlainProgress, progress_bar
from test_download import Server


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_two_plain_lines():
    log = io.StringIO()
    assert sum(progress_bar(range(100), desc="ORT on 100 images", unit="chunk", file=log)) == 4950
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and "\x1b" not in log.getvalue()
    assert len(lines) == 2, lines
    assert lines[0] == "ORT on 100 images: 50 chunk of 100 chunk"
    assert lines[1].startswith("ORT on 100 images: 100 chunk done in ") and lines[1].endswith(" s")


def test_a_terminal_gets_a_tqdm_bar():
    tty = Terminal()
    bar = progress_bar(range(100), desc="epoch 1/1", unit="batch", file=tty)
    assert not isinstance(bar, PlainProgress)
    for _ in bar:
        pass
    assert "\r" in tty.getvalue() and "epoch 1/1" in tty.getvalue()


def test_byte_counts_and_postfix_in_plain_mode():
    log = io.StringIO()
    with progress_bar(total=2_000_000, desc="train-images-idx3-ubyte.gz", unit="B", file=log) as bar:
        for _ in range(4):
            bar.update(500_000)
        bar.set_postfix(loss="0.1234")
    lines = log.getvalue().splitlines()
    assert lines[0] == "train-images-idx3-ubyte.gz: 1.0 MB of 2.0 MB"
    assert lines[1].startswith("train-images-idx3-ubyte.gz: 2.0 MB done in ") and lines[1].endswith("(loss 0.1234)")


def test_unknown_total_prints_only_the_end_line():
    log = io.StringIO()
    with progress_bar(desc="f.gz", unit="B", file=log) as bar:
        bar.update(1234)
    assert len(log.getvalue().splitlines()) == 1
    assert log.getvalue().startswith("f.gz: 1,234 B done in ")


@pytest.mark.parametrize("stream", [io.StringIO, Terminal])
def test_disabled_is_silent_everywhere(stream):
    out = stream()
    list(progress_bar(range(10), desc="x", file=out, enabled=False))
    assert out.getvalue() == ""


def test_plain_false_is_silent_outside_a_terminal_only():
    log, tty = io.StringIO(), Terminal()
    list(progress_bar(range(10), desc="x", file=log, plain=False))
    list(progress_bar(range(10), desc="x", file=tty, plain=False))
    assert log.getvalue() == "" and "\r" in tty.getvalue()


def test_download_in_a_log_is_plain_lines(tmp_path, capfd):
    """The real call site: stderr captured by pytest is not a terminal."""
    root = tmp_path / "www"
    write_idx(root / "mnist" / "t10k-labels-idx1-ubyte.gz", (np.arange(5000) % 10).astype(np.uint8))
    md5s = {"t10k-labels-idx1-ubyte.gz": hashlib.md5((root / "mnist" / "t10k-labels-idx1-ubyte.gz")
                                                     .read_bytes()).hexdigest()}
    server = Server(root)
    try:
        capfd.readouterr()
        download_mnist(tmp_path / "cache", base_url=server.url, progress=True, md5s=md5s)
    finally:
        server.close()
    err = capfd.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert 1 <= len(lines) <= 2 and all(line.startswith("t10k-labels-idx1-ubyte.gz: ") for line in lines), lines
    assert "done in" in lines[-1]
