"""lenet_edge/device/byo_run.py runs its external programs (make with arm-none-eabi-gcc, QEMU)
through lenet_edge.proc.run: a program that runs out of time is a one-line error naming it, with
limits scaled to the work; a firmware that does not fit in flash says so."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from byo_models import ModelCache
from conftest import require_tool
from lenet_edge import proc
from lenet_edge.cli import main
from lenet_edge.device import byo_run


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    built = ModelCache(tmp_path_factory.mktemp("byo_run_models")).get("cnn", "qdq", "s8", False)
    out = tmp_path_factory.mktemp("byo_run") / "c"
    r = CliRunner().invoke(main, ["compile", str(built.path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return built.path, out


def _cli(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    return r.exit_code, r.output.strip()


def _one_line_error(code, text, pattern):
    import re

    assert code == 1, text
    assert "\n" not in text and "Traceback" not in text, text
    assert re.fullmatch(pattern, text), text


def test_no_subprocess_call_of_its_own():
    """Only proc.run starts programs: no subprocess.run/Popen/check_output in byo_run."""
    tree = ast.parse(Path(byo_run.__file__).read_text())
    calls = [n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and isinstance(n.func.value, ast.Name) and n.func.value.id == "subprocess"]
    assert calls == []


def test_make_timeout_is_one_line(compiled, tmp_path, monkeypatch):
    require_tool("arm-none-eabi-gcc")
    require_tool("make")
    _, c_dir = compiled
    monkeypatch.setenv(proc.SCALE_ENV, "1e-6")            # every limit a millionth: make cannot finish
    code, text = _cli("export", "--target", "firmware", "--c", c_dir, "--out", tmp_path / "fw")
    _one_line_error(code, text, r"lenet-edge: error: make: did not finish within 0 s \(limit for this much work; "
                                r"LENET_EDGE_TIMEOUT_SCALE stretches it\).*")


def test_qemu_timeout_is_one_line(compiled, monkeypatch):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    onnx_path, c_dir = compiled
    monkeypatch.setattr(byo_run, "QEMU_BOOT_TIMEOUT_S", 0.001)   # the build keeps its limit; QEMU gets 1 ms
    monkeypatch.setattr(byo_run, "QEMU_PER_INPUT_TIMEOUT_S", 0.0)
    monkeypatch.setattr(byo_run, "QEMU_PER_MAC_TIMEOUT_S", 0.0)
    code, text = _cli("run", "--c", c_dir, "--onnx", onnx_path, "--random", "3", "--board", "mps2-an386")
    _one_line_error(code, text, r"lenet-edge: error: qemu-system-arm -M mps2-an386: did not finish within 0 s .*")


def test_limits_scale_with_the_work(compiled, tmp_path):
    _, c_dir = compiled
    m = json.loads((c_dir / "manifest.json").read_text())
    assert byo_run.qemu_timeout(100, m["macs"]) > byo_run.qemu_timeout(10, m["macs"]) > byo_run.qemu_timeout(10, 0)
    small, big = tmp_path / "small", tmp_path / "big"
    for folder, n in ((small, 1), (big, 2000)):
        folder.mkdir()
        x = np.zeros((n, *m["input"]["shape"][1:]), np.float32)
        for name, data in byo_run.project_files(c_dir, "mps2-an386", x).items():
            (folder / name).write_bytes(data)
    assert byo_run.make_timeout(big) > byo_run.make_timeout(small) + 60 * 1.0   # >1 MB more of inputs


def test_firmware_that_does_not_fit_says_so(compiled, tmp_path):
    require_tool("arm-none-eabi-gcc")
    require_tool("make")
    _, c_dir = compiled
    np.save(tmp_path / "x.npy", np.zeros((300, 1, 16, 16), np.float32))     # 300 KiB of inputs, 256 KiB flash
    code, text = _cli("export", "--target", "firmware", "--c", c_dir, "--board", "lm3s6965evb",
                      "--inputs", tmp_path / "x.npy", "--out", tmp_path / "fw")
    _one_line_error(code, text, r"lenet-edge: error: lm3s6965evb: the firmware does not fit: FLASH \(256 KiB\) "
                                r"overflowed by \d+ bytes")


def test_export_firmware_without_inputs_builds(compiled, tmp_path):
    """No --inputs: an empty batch (this crashed on reshaping zero inputs before)."""
    require_tool("arm-none-eabi-gcc")
    require_tool("make")
    _, c_dir = compiled
    code, text = _cli("export", "--target", "firmware", "--c", c_dir, "--out", tmp_path / "fw")
    assert code == 0, text
    assert "0 input(s) in flash" in text and (tmp_path / "fw" / "firmware.elf").is_file()
    assert "LE_BYO_COUNT 0u" in (tmp_path / "fw" / "byo_inputs.h").read_text()
    import subprocess

    rebuild = subprocess.run(["make", "-C", str(tmp_path / "fw"), "clean", "all"], capture_output=True, text=True,
                             timeout=300)
    assert rebuild.returncode == 0 and "warning:" not in rebuild.stderr, rebuild.stderr
