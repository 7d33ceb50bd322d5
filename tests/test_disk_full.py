"""Disk full at every write: an injected ENOSPC at the k-th write of a command, for every k.

Each attempt must end in one line `lenet-edge: error: <file>: cannot write (No space left on
device)`, exit 1, and leave the previous artifacts exactly as they were: the firmware project (a
new model's sources next to the old ELF and manifest would be the "mixed set" of issue 9).
"""
from __future__ import annotations

import errno
import hashlib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import require_tool
from lenet_edge.cli import main

FAKE_C = Path(__file__).parent / "fixtures" / "fake_c"


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class DiskFull:
    """Counts writes (Path.write_bytes, shutil.copy2) and fails the `fail_at`-th with ENOSPC."""

    def __init__(self, monkeypatch, fail_at: int | None):
        self.count, self.fail_at = 0, fail_at
        real_write, real_copy = Path.write_bytes, shutil.copy2

        def write_bytes(path, data):
            self._tick(path)
            return real_write(path, data)

        def copy2(src, dst, **kw):
            self._tick(dst)
            return real_copy(src, dst, **kw)
        monkeypatch.setattr(Path, "write_bytes", write_bytes)
        monkeypatch.setattr(shutil, "copy2", copy2)

    def _tick(self, path):
        self.count += 1
        if self.count == self.fail_at:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))


def invoke(args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_export_firmware_disk_full_at_every_write_keeps_the_old_project(tmp_path, monkeypatch):
    require_tool("arm-none-eabi-gcc")
    require_tool("make")
    run = tmp_path / "run"
    shutil.copytree(FAKE_C, run / "c")
    args = ["export", "--target", "firmware", "--board", "lm3s6965evb", "--run", run]
    assert invoke(args).exit_code == 0
    project = run / "firmware" / "lm3s6965evb"
    old = tree(project)
    # a new model: different weights, so the export rewrites sources, objects, ELF and manifest
    weights = run / "c" / "lenet5_weights.c"
    weights.write_text(weights.read_text().replace("1,", "3,", 1))

    with monkeypatch.context() as m:
        counter = DiskFull(m, fail_at=None)
        assert invoke(args).exit_code == 0
        writes = counter.count
    new = tree(project)
    assert new != old and writes >= 5
    # back to the old model, then fail each write of the same export in turn
    shutil.rmtree(project)
    weights.write_text(weights.read_text().replace("3,", "1,", 1))
    assert invoke(args).exit_code == 0
    old = tree(project)
    weights.write_text(weights.read_text().replace("1,", "3,", 1))
    for k in range(1, writes + 1):
        with monkeypatch.context() as m:
            DiskFull(m, fail_at=k)
            result = invoke(args)
        assert result.exit_code == 1, (k, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "No space left on device" in lines[0], (k, result.stderr)
        assert result.exception is None or isinstance(result.exception, SystemExit), (k, result.exception)
        assert tree(project) == old, f"write {k} of {writes}: the old project changed"
        assert sorted(p.name for p in project.parent.iterdir()) == [".lm3s6965evb.lock", "lm3s6965evb"], k
    assert invoke(args).exit_code == 0 and tree(project) == new


def test_verify_disk_full_keeps_the_old_report(short_run, tmp_path, monkeypatch):
    """verify writes one file, verify.json, after its whole check: a full disk then keeps the old one."""
    from conftest import copy_run
    from lenet_edge.check import verify as V

    run = copy_run(short_run["modern"], tmp_path / "run")
    (run / "verify.json").write_text('{"old": true}\n')
    monkeypatch.setattr(V, "verification_families", lambda images, limit: [])  # the test set only: fast
    with monkeypatch.context() as m:
        counter = DiskFull(m, fail_at=1)
        result = invoke(["verify", "--run", run])
    assert counter.count == 1, "verify is expected to write verify.json only"
    assert result.exit_code == 1, result.output
    last = result.stderr.strip().splitlines()[-1]  # (the lines before it are verify's progress)
    assert last.startswith("lenet-edge: error: ") and "verify.json: cannot write (No space left on device)" in last
    assert (run / "verify.json").read_text() == '{"old": true}\n'
    assert not [p for p in run.iterdir() if p.name.startswith(".verify.json")]
