"""Running external programs (host driver, C compilers, make, QEMU, binutils, OpenOCD/pyOCD).

Every call goes through `run`, which always has a time limit. Limits scale with the work (the
callers compute them from images, sources or bytes) and can be stretched for a slow machine with
LENET_EDGE_TIMEOUT_SCALE (a factor, default 1). A timeout or a program that cannot be started is a
one-line LenetEdgeError that names the program.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from lenet_edge.errors import LenetEdgeError

SCALE_ENV = "LENET_EDGE_TIMEOUT_SCALE"


def scaled(seconds: float) -> float:
    """`seconds` times LENET_EDGE_TIMEOUT_SCALE (a bad value is a one-line error)."""
    raw = os.environ.get(SCALE_ENV, "1")
    try:
        factor = float(raw)
    except ValueError:
        factor = -1.0
    if not 0 < factor < 1e6:
        raise LenetEdgeError(f"{SCALE_ENV}={raw!r}: expected a positive number")
    return seconds * factor


def _last_line(output) -> str:
    if isinstance(output, bytes):
        output = output.decode(errors="replace")
    lines = (output or "").strip().splitlines()
    return f"; last output: {lines[-1].strip()[:200]!r}" if lines else "; no output"


def run(args: list[str], timeout: float, name: str | None = None, **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run(args, timeout=scaled(timeout), **kwargs). `name` is how errors call the
    program (default: its file name)."""
    name = name or Path(args[0]).name
    limit = scaled(timeout)
    try:
        return subprocess.run(args, timeout=limit, **kwargs)
    except subprocess.TimeoutExpired as e:
        raise LenetEdgeError(f"{name}: did not finish within {round(limit, 1):g} s (limit for this much work; "
                             f"{SCALE_ENV} stretches it){_last_line(e.stdout)}") from None
    except FileNotFoundError:
        raise LenetEdgeError(f"{name}: program not found ({args[0]})") from None
    except PermissionError:
        raise LenetEdgeError(f"{name}: not executable ({args[0]})") from None
