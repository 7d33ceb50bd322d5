"""Progress reporting: a tqdm bar in a terminal only. In a log, a pipe or CI the same call prints a few
plain lines (half-way and done, with the elapsed time), never carriage-return redraws.

    for chunk in progress_bar(range(n), desc="ORT on 21132 images", unit="chunk"):
        ...
    with progress_bar(total=size, desc="train-images.gz", unit="B") as bar:
        bar.update(len(block))

`plain=False` makes the call silent outside a terminal (for callers that already print their own
per-step lines, such as `train`'s one line per epoch); `enabled=False` makes it silent everywhere.
"""
from __future__ import annotations

import sys
import time
from typing import IO, Iterable


def is_terminal(stream: IO | None = None) -> bool:
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or stream-like objects without isatty
        return False


def progress_bar(iterable: Iterable | None = None, *, desc: str, total: int | None = None, unit: str = "it",
                 enabled: bool = True, plain: bool = True, file: IO | None = None, leave: bool = False):
    """A tqdm bar when `file` (default: stderr at call time) is a terminal, else `PlainProgress`."""
    file = sys.stderr if file is None else file
    if enabled and is_terminal(file):
        from tqdm import tqdm

        return tqdm(iterable, desc=desc, total=total, unit=unit, file=file, leave=leave, dynamic_ncols=True,
                    unit_scale=unit == "B")
    return PlainProgress(iterable, desc=desc, total=total, unit=unit, file=file if enabled and plain else None)


class PlainProgress:
    """The tqdm subset the call sites use (iterate, update, set_postfix, close, `with`), printing at
    most two whole lines: one when half the total is done, one when the work ends."""

    MILESTONES = (0.5,)

    def __init__(self, iterable: Iterable | None, desc: str, total: int | None, unit: str, file: IO | None):
        self.iterable, self.desc, self.unit, self.file = iterable, desc, unit, file
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.n, self.postfix = total, 0, ""
        self._start = time.monotonic()
        self._next = 0
        self._closed = False

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _amount(self, n: int) -> str:
        if self.unit == "B":
            return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} B"
        return f"{n:,} {self.unit}"

    def _line(self, text: str) -> None:
        if self.file is not None:
            self.file.write(f"{self.desc}: {text}{self.postfix}\n")
            self.file.flush()

    def update(self, n: int = 1) -> None:
        self.n += n
        while (self.total and self._next < len(self.MILESTONES)
               and self.n < self.total and self.n >= self.MILESTONES[self._next] * self.total):
            self._line(f"{self._amount(self.n)} of {self._amount(self.total)}")
            self._next += 1

    def set_postfix(self, **values) -> None:
        self.postfix = " (" + ", ".join(f"{k} {v}" for k, v in values.items()) + ")" if values else ""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            of = f" of {self._amount(self.total)}" if self.total and self.total != self.n else ""
            self._line(f"{self._amount(self.n)}{of} done in {time.monotonic() - self._start:.1f} s")
