"""`lenet-edge flash`: write firmware.elf to a real board through OpenOCD or pyOCD.

Untested on hardware here (no board attached to the CI machine); the command lines follow each
tool's documented usage, and "no probe attached" is detected from the tools' own messages so the
command fails quickly with one line instead of hanging.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from lenet_edge.errors import LenetEdgeError
from lenet_edge.device import firmware as fw

FLASH_TIMEOUT_S = 60.0
INSTALL = {
    "openocd": "apt-get install --no-install-recommends openocd",
    "pyocd": "pip install pyocd",
}
# OpenOCD: interface (probe) and target scripts per board, from OpenOCD's own script library.
OPENOCD_SCRIPTS = {
    # ST-LINK (e.g. a Nucleo/Discovery ST-LINK wired to the Netduino's SWD pads)
    "netduinoplus2": ["-f", "interface/stlink.cfg", "-f", "target/stm32f4x.cfg"],
    # The EK-LM3S6965's on-board FTDI debugger (OpenOCD's board file)
    "lm3s6965evb": ["-f", "board/ek-lm3s6965.cfg"],
    # MPS2's on-board CMSIS-DAP; no OpenOCD target file exists for it, so a bare Cortex-M
    "mps2-an386": ["-f", "interface/cmsis-dap.cfg", "-c", "transport select swd",
                   "-c", "swd newdap mps2 cpu -enable", "-c", "dap create mps2.dap -chain-position mps2.cpu",
                   "-c", "target create mps2.cpu cortex_m -dap mps2.dap"],
}
# pyOCD target names (stm32f405rg needs its CMSIS pack: `pyocd pack install stm32f405rg`).
PYOCD_TARGETS = {"netduinoplus2": "stm32f405rg", "lm3s6965evb": "cortex_m", "mps2-an386": "cortex_m"}
NO_PROBE_PATTERNS = (
    "open failed", "no device found", "unable to find a matching cmsis-dap device", "unable to open ftdi",
    "libusb_error", "libusb_open", "no connected debug probes", "no available debug probes",
    "no probe", "can't find", "couldn't find", "could not find", "unable to find",
)


def flash_command(board: str, probe: str, elf: Path) -> list[str]:
    fw.board_spec(board)
    elf_arg = str(elf)
    if probe == "openocd":
        if board == "mps2-an386":  # code lives in SSRAM: load it, then reset into it
            action = f"init; reset halt; load_image {elf_arg}; verify_image {elf_arg}; reset run; shutdown"
        else:
            action = f"program {elf_arg} verify reset exit"
        return ["openocd", *OPENOCD_SCRIPTS[board], "-c", action]
    if probe == "pyocd":  # -W: without it pyOCD waits forever for a probe to appear
        return ["pyocd", "flash", "-W", "-t", PYOCD_TARGETS[board], elf_arg]
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
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=FLASH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise LenetEdgeError(f"{probe}: no answer from the debug probe within {FLASH_TIMEOUT_S:.0f} s "
                             f"(is the {board} connected and powered?)") from None
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        low = output.lower()
        if any(p in low for p in NO_PROBE_PATTERNS):
            raise LenetEdgeError(f"{probe}: no debug probe found for {board} ({_first_error(output)}); "
                                 "connect the board's debug USB port and check permissions (udev rules)")
        raise LenetEdgeError(f"{probe}: flashing {elf} failed: {_first_error(output)}")
    print(f"flashed {elf} to {board} with {probe}")
