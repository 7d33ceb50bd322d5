"""lenet_edge.fsutil: a file or a folder of files is replaced whole or not at all."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from lenet_edge import fsutil
from lenet_edge.errors import LenetEdgeError


def listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_atomic_dir_replaces_the_whole_set(tmp_path):
    with fsutil.atomic_dir(tmp_path / "c") as stage:
        (stage / "a.c").write_text("old a")
        (stage / "b.c").write_text("old b")
    with fsutil.atomic_dir(tmp_path / "c") as stage:
        (stage / "a.c").write_text("new a")
    assert listing(tmp_path / "c") == {"a.c": b"new a"}
    assert os.listdir(tmp_path) == ["c"]  # no staging or old folder left beside it


def test_atomic_dir_failure_leaves_the_old_set_untouched(tmp_path):
    with fsutil.atomic_dir(tmp_path / "c") as stage:
        (stage / "a.c").write_text("old a")
    before = listing(tmp_path / "c")
    with pytest.raises(KeyboardInterrupt):
        with fsutil.atomic_dir(tmp_path / "c") as stage:
            (stage / "a.c").write_text("new a")
            raise KeyboardInterrupt
    assert listing(tmp_path / "c") == before
    assert os.listdir(tmp_path) == ["c"]


def test_atomic_dir_keep_starts_from_a_copy_with_mtimes(tmp_path):
    with fsutil.atomic_dir(tmp_path / "p") as stage:
        (stage / "sub").mkdir()
        (stage / "sub" / "x.o").write_text("obj")
    os.utime(tmp_path / "p" / "sub" / "x.o", (1_000_000, 1_000_000))
    with fsutil.atomic_dir(tmp_path / "p", keep=True) as stage:
        assert (stage / "sub" / "x.o").stat().st_mtime == 1_000_000
        (stage / "y").write_text("y")
    assert set(listing(tmp_path / "p")) == {"sub/x.o", "y"}


def test_atomic_dir_over_a_file_is_one_line_error(tmp_path):
    (tmp_path / "c").write_text("a file")
    with pytest.raises(LenetEdgeError, match=r"c: exists and is not a folder"):
        with fsutil.atomic_dir(tmp_path / "c"):
            pass


def test_write_over_a_folder_is_one_line_error(tmp_path):
    (tmp_path / "verify.json").mkdir()
    with pytest.raises(LenetEdgeError, match=r"verify.json: cannot write \(it is a folder\)"):
        fsutil.write_text(tmp_path / "verify.json", "{}")
    with pytest.raises(LenetEdgeError, match=r"verify.json: cannot write \(it is a folder\)"):
        fsutil.check_writable_file(tmp_path / "verify.json")


def test_disk_full_during_a_write_keeps_the_old_file(tmp_path, monkeypatch):
    dest = tmp_path / "metrics.json"
    fsutil.write_text(dest, "old")

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(LenetEdgeError, match=r"metrics.json: cannot write \(No space left on device\)"):
        fsutil.write_text(dest, "new")
    monkeypatch.undo()
    assert dest.read_text() == "old"
    assert os.listdir(tmp_path) == ["metrics.json"]


@pytest.mark.parametrize("text, match", [
    ("{", "not valid JSON"), ("[1]", "expected a JSON object, got list"),
    ('{"a": 1}', "missing key 'b'"), ('{"a": "x", "b": 1}', "key 'a' is str, expected int"),
    ('{"a": true, "b": 1}', "key 'a' is bool, expected int"),
])
def test_read_json_names_the_fault(tmp_path, text, match):
    (tmp_path / "run.json").write_text(text)
    with pytest.raises(LenetEdgeError, match=match):
        fsutil.read_json(tmp_path / "run.json", {"a": int, "b": int})


def test_atomic_dir_errors_name_the_final_folder_not_the_staging_copy(tmp_path):
    (tmp_path / "p").mkdir()
    with pytest.raises(LenetEdgeError) as e:
        with fsutil.atomic_dir(tmp_path / "p") as stage:
            (stage / "firmware.elf").mkdir()
            fsutil.write_bytes(stage / "firmware.elf", b"x")
    assert str(e.value) == f"{tmp_path / 'p' / 'firmware.elf'}: cannot write (it is a folder)"
