"""`lenet-edge flash`: command lines per board and probe, and quick one-line errors (no probe
attached, tool missing). Real hardware cannot be tested here."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import require_tool
from lenet_edge.cli import main as cli
from lenet_edge.errors import LenetEdgeError
from lenet_edge.device import flash
from lenet_edge.device.boards import BOARDS


def fake_elf(run: Path, board: str) -> Path:
    elf = run / "firmware" / board / "firmware.elf"
    elf.parent.mkdir(parents=True)
    elf.write_bytes(b"\x7fELF not really")
    return elf


@pytest.mark.parametrize("board,probe,want", [
    ("netduinoplus2", "openocd",
     """openocd -f interface/stlink.cfg -f target/stm32f4x.cfg -c 'program "{elf}" verify reset exit'"""),
    ("lm3s6965evb", "openocd", """openocd -f board/ek-lm3s6965.cfg -c 'program "{elf}" verify reset exit'"""),
    ("netduinoplus2", "pyocd", "pyocd flash -W -t stm32f405rg {elf}"),
    ("lm3s6965evb", "pyocd", "pyocd flash -W -t cortex_m {elf}"),
    ("mps2-an386", "pyocd", "pyocd flash -W -t cortex_m {elf}"),
])
def test_dry_run_prints_exact_command(tmp_path, board, probe, want):
    elf = fake_elf(tmp_path, board).resolve()
    result = CliRunner().invoke(cli, ["flash", "--board", board, "--probe", probe, "--dry-run", "--run", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == want.format(elf=elf)


def test_mps2_openocd_loads_into_ram_and_resets():
    cmd = flash.flash_command("mps2-an386", "openocd", Path("/x/firmware.elf"))
    assert cmd[:3] == ["openocd", "-f", "interface/cmsis-dap.cfg"]
    assert 'load_image "/x/firmware.elf"' in cmd[-1] and "verify_image" in cmd[-1]


def test_pyocd_always_passes_no_wait():
    for board in BOARDS:
        assert "-W" in flash.flash_command(board, "pyocd", Path("f.elf"))


@pytest.mark.parametrize("board", ["netduinoplus2", "lm3s6965evb", "mps2-an386"])
def test_no_probe_attached_is_a_quick_one_line_error(tmp_path, board):
    require_tool("openocd")
    fake_elf(tmp_path, board)
    result = CliRunner().invoke(cli, ["flash", "--board", board, "--run", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"lenet-edge: error: openocd: no debug probe found for {board}")


@pytest.mark.parametrize("probe,install", [("openocd", "apt-get install --no-install-recommends openocd"),
                                           ("pyocd", "pip install pyocd")])
def test_missing_flash_tool_names_install_command(tmp_path, monkeypatch, probe, install):
    fake_elf(tmp_path, "netduinoplus2")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LenetEdgeError, match=f"{probe} not found; install it with: {install}"):
        flash.flash_cmd("netduinoplus2", probe, False, tmp_path)


def test_missing_firmware_is_one_line(tmp_path):
    require_tool("openocd")
    with pytest.raises(LenetEdgeError, match="no firmware .*export --target firmware"):
        flash.flash_cmd("netduinoplus2", "openocd", False, tmp_path)


def test_dry_run_command_is_shell_quoted(tmp_path):
    run = tmp_path / "with space"
    elf = fake_elf(run, "netduinoplus2")
    result = CliRunner().invoke(cli, ["flash", "--board", "netduinoplus2", "--dry-run", "--run", str(run)])
    assert shlex.split(result.output)[-2:] == ["-c", f'program "{elf.resolve()}" verify reset exit']


@pytest.mark.parametrize("name", ["with space", "ünï cödé", 'odd $x [y] {z} "q" \\ end'])
def test_openocd_reads_the_quoted_elf_path_as_one_existing_file(tmp_path, name):
    """OpenOCD's own Tcl parser gets exactly the path: `file exists` on the quoted word is 1."""
    openocd = require_tool("openocd")
    elf = fake_elf(tmp_path / name, "lm3s6965evb").resolve()
    word = flash.tcl_quote(str(elf))
    import subprocess

    out = subprocess.run([openocd, "-c", f"echo [file exists {word}]; shutdown"], capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert "1" in (out.stdout + out.stderr).splitlines(), out.stderr
    assert "0" not in (out.stdout + out.stderr).splitlines(), out.stderr


def test_a_probe_that_never_answers_times_out_in_one_line(tmp_path, monkeypatch):
    """Issue 9 item 3: OpenOCD gets a limit (scaled with the ELF size), reported naming it."""
    fake_elf(tmp_path, "netduinoplus2")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "openocd").write_text("#!/bin/sh\necho 'Info : waiting for the target'\nexec sleep 60\n")
    (bin_dir / "openocd").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr(flash, "FLASH_BASE_TIMEOUT_S", 1.0)
    result = CliRunner().invoke(cli, ["flash", "--board", "netduinoplus2", "--run", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("lenet-edge: error: openocd: did not finish within 1 s")
    assert "waiting for the target" in result.output and "is the netduinoplus2 connected and powered?" in result.output
