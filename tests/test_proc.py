"""lenet_edge.proc: every external program has a time limit, reported in one line naming it."""
from __future__ import annotations

import time

import pytest

from lenet_edge import proc
from lenet_edge.errors import LenetEdgeError


def test_timeout_names_the_program_and_the_limit():
    t0 = time.monotonic()
    with pytest.raises(LenetEdgeError, match=r"^sleep: did not finish within 0.5 s .*; no output$"):
        proc.run(["sleep", "30"], 0.5, capture_output=True)
    assert time.monotonic() - t0 < 10


def test_timeout_quotes_the_last_output_line():
    with pytest.raises(LenetEdgeError, match=r"^make \(x\): did not finish .*last output: 'step 2'$"):
        proc.run(["sh", "-c", "echo step 1; echo step 2; sleep 30"], 1, name="make (x)", capture_output=True)


def test_scale_stretches_every_limit(monkeypatch):
    monkeypatch.setenv(proc.SCALE_ENV, "3")
    assert proc.scaled(10) == 30
    monkeypatch.setenv(proc.SCALE_ENV, "0")
    with pytest.raises(LenetEdgeError, match="LENET_EDGE_TIMEOUT_SCALE='0': expected a positive number"):
        proc.scaled(10)


def test_missing_program_is_one_line():
    with pytest.raises(LenetEdgeError, match=r"^no-such-tool-xyz: program not found"):
        proc.run(["no-such-tool-xyz"], 5)
