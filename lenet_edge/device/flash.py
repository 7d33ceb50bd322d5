"""`lenet-edge flash`: write firmware.elf to a real board through OpenOCD or pyOCD.

Untested on hardware here (no board attached to the CI machine); the command lines follow each
tool's documented usage, and "no probe attached" is detected from the tools' own messages so the
command fails quickly with one line instead of hanging.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

from lenet_edge import proc
from lenet_edge.device import firmware as fw
from lenet_edge.device.boards import board_spec
from lenet_edge.errors import LenetEdgeError

# Probe connection and erase, then programming at a slow-probe ~10 KB/s with a 4x margin.
FLASH_BASE_TIMEOUT_S = 60.0
FLASH_BYTES_PER_S = 2_500
INSTALL = {
    "openocd": "apt-get install --no-install-recommends openocd",
    "pyocd": "pip install pyocd",
}
NO_PROBE_PATTERNS = (
    "open failed", "no device found", "unable to find a matching cmsis-dap device", "unable to open ftdi",
    "libusb_error", "libusb_open", "no connected debug probes", "no available debug probes",
    "no probe", "can't find", "couldn't find", "could not find", "unable to find",
)


def tcl_quote(text: str) -> str:
    """`text` as one Tcl word (OpenOCD's -c commands are Tcl): double quotes, with the characters
    Tcl substitutes inside them escaped. Spaces and non-ASCII pass through as they are."""
    return '"' + re.sub(r'([\\"$\[\]{}])', r"\\\1", text) + '"'


def flash_command(board: str, probe: str, elf: Path) -> list[str]:
    spec = board_spec(board)
    elf_arg = str(elf)
    if probe == "openocd":
        word = tcl_quote(elf_arg)
        if spec.openocd_load_image:  # code lives in SSRAM (MPS2): load it, then reset into it
            action = f"init; reset halt; load_image {word}; verify_image {word}; reset run; shutdown"
        else:
            action = f"program {word} verify reset exit"
        return ["openocd", *spec.openocd, "-c", action]
    if probe == "pyocd":  # -W: without it pyOCD waits forever for a probe to appear
        return ["pyocd", "flash", "-W", "-t", spec.pyocd_target, elf_arg]
    raise LenetEdgeError(f"unknown probe {probe!r} (choose openocd or pyocd)")


def _first_error(output: str) -> str:
    for line in output.splitlines():
        if "error" in line.lower():
            return line.strip()
    lines = output.strip().splitlines()
    return lines[-1].strip() if lines else "no output"


def flash_cmd(board: str, probe: str, dry_run: bool, run_dir: Path) -> None:
    elf = fw.project_dir(run_dir, board) / "firmware.elf"
    cmd = flash_command(board, probe, elf.resolve() if elf.exists() else elf)
    if dry_run:
        print(shlex.join(cmd))
        return
    if shutil.which(cmd[0]) is None:
        raise LenetEdgeError(f"{cmd[0]} not found; install it with: {INSTALL[probe]}")
    if not elf.is_file():
        raise LenetEdgeError(f"{elf}: no firmware (run `lenet-edge export --target firmware --board {board}`)")
    limit = FLASH_BASE_TIMEOUT_S + elf.stat().st_size / FLASH_BYTES_PER_S
    try:
        done = proc.run(cmd, limit, name=probe, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    except LenetEdgeError as e:
        raise LenetEdgeError(f"{e} (is the {board} connected and powered?)") from None
    output = done.stdout + done.stderr
    if done.returncode != 0:
        low = output.lower()
        if any(p in low for p in NO_PROBE_PATTERNS):
            raise LenetEdgeError(f"{probe}: no debug probe found for {board} ({_first_error(output)}); "
                                 "connect the board's debug USB port and check permissions (udev rules)")
        raise LenetEdgeError(f"{probe}: flashing {elf} failed: {_first_error(output)}")
    print(f"flashed {elf} to {board} with {probe}")
