"""Every fact about a supported board, in one place.

The CLI (the --board choices), the firmware builder (the project's generated board.mk and linker.ld),
the emulator (QEMU machine, input mode) and `flash` (probe scripts, pyOCD target) all read this
registry; nothing else states a board fact. Plain data: importing it costs nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

from lenet_edge.errors import LenetEdgeError


@dataclass(frozen=True)
class Board:
    name: str
    title: str                  # one line for the generated files' comments
    machine: str                # qemu-system-arm -M
    cpu: str                    # cortex-m4f | cortex-m3 (the manifest's "cpu"; m3 = integer requant)
    cpu_flags: str              # the compiler's CPU / FPU flags (board.mk CPU)
    console: str                # where the firmware prints, and how to wire it
    input: str                  # "semihost": images read from a host file; "batch": compiled into flash
    flash_origin: int
    flash_bytes: int            # the real part's sizes
    ram_origin: int
    ram_bytes: int
    stack_bytes: int            # reserved stack (linker.ld LE_STACK_SIZE default)
    board_defs: tuple[str, ...]  # -D flags of every build (board.mk BOARD_DEFS)
    openocd: tuple[str, ...]    # OpenOCD interface/target arguments (from OpenOCD's script library)
    pyocd_target: str           # pyocd -t
    openocd_load_image: bool = False  # code lives in (SS)RAM: OpenOCD load_image + reset, not `program`
    qemu_defs: tuple[str, ...] = ("-DLE_QEMU_EXIT",)  # extra -D flags for the QEMU build
    memory_note: str = ""       # extra lines for the linker script (e.g. other RAM regions)


_M4F = "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"

BOARDS: dict[str, Board] = {b.name: b for b in (
    Board(
        name="mps2-an386", title="ARM MPS2 with AN386 (Cortex-M4F)", machine="mps2-an386", cpu="cortex-m4f",
        cpu_flags=_M4F, input="semihost",
        console="semihosting (QEMU -semihosting-config enable=on; on the real board, a debugger with "
                "semihosting); images are read from images.bin through semihosting too",
        flash_origin=0x00000000, flash_bytes=4 << 20, ram_origin=0x20000000, ram_bytes=4 << 20,
        stack_bytes=16 << 10, board_defs=("-DLE_QEMU_EXIT",),
        # MPS2's on-board CMSIS-DAP; no OpenOCD target file exists for it, so a bare Cortex-M
        openocd=("-f", "interface/cmsis-dap.cfg", "-c", "transport select swd",
                 "-c", "swd newdap mps2 cpu -enable", "-c", "dap create mps2.dap -chain-position mps2.cpu",
                 "-c", "target create mps2.cpu cortex_m -dap mps2.dap"),
        pyocd_target="cortex_m", openocd_load_image=True,
        memory_note="code in ZBT SSRAM1 (loaded by the board's MCC from SD card; QEMU loads the ELF "
                    "there), data in ZBT SSRAM2/3"),
    Board(
        name="netduinoplus2", title="Netduino Plus 2: STM32F405RG (Cortex-M4F)", machine="netduinoplus2",
        cpu="cortex-m4f", cpu_flags=_M4F, input="batch",
        console="USART1 (PA9 TX / PA10 RX, 115200 8N1; QEMU connects USART1 to its first serial port); "
                "semihosting only with -DLE_QEMU_EXIT. Other STM32F405/407 boards: set the crystal, e.g. "
                "make DEFS=-DLE_HSE_HZ=8000000 (STM32F4DISCOVERY)",
        flash_origin=0x08000000, flash_bytes=1 << 20, ram_origin=0x20000000, ram_bytes=128 << 10,
        stack_bytes=16 << 10, board_defs=(),
        # ST-LINK (e.g. a Nucleo/Discovery ST-LINK wired to the Netduino's SWD pads)
        openocd=("-f", "interface/stlink.cfg", "-f", "target/stm32f4x.cfg"),
        pyocd_target="stm32f405rg",  # needs its CMSIS pack: `pyocd pack install stm32f405rg`
        memory_note="flash aliased at 0 at boot; 64 KiB CCM data RAM at 0x10000000 is CPU-only and left "
                    "for the user"),
    Board(
        name="lm3s6965evb", title="TI Stellaris LM3S6965 evaluation board (Cortex-M3, no FPU: integer-only "
                                  "requant path)", machine="lm3s6965evb", cpu="cortex-m3",
        cpu_flags="-mcpu=cortex-m3 -mthumb -mfloat-abi=soft", input="batch",
        console="UART0 (PA0 RX / PA1 TX, 115200 8N1; the EK-LM3S6965's USB virtual COM port); "
                "semihosting only with -DLE_QEMU_EXIT",
        flash_origin=0x00000000, flash_bytes=256 << 10, ram_origin=0x20000000, ram_bytes=64 << 10,
        stack_bytes=8 << 10, board_defs=(),
        openocd=("-f", "board/ek-lm3s6965.cfg"),  # the EK-LM3S6965's on-board FTDI debugger
        pyocd_target="cortex_m"),
)}
NAMES = tuple(BOARDS)
DEFAULT = "mps2-an386"


def board_spec(board: str) -> Board:
    if board not in BOARDS:
        raise LenetEdgeError(f"unknown board {board!r} (choose from {', '.join(BOARDS)})")
    return BOARDS[board]


def _size(n: int) -> str:
    return f"{n >> 20}M" if n % (1 << 20) == 0 else f"{n >> 10}K"


def board_mk(board: str) -> str:
    """The project's board.mk: what the shared Makefile needs to know about the board."""
    b = board_spec(board)
    return (f"# {b.title}. Generated by lenet-edge from lenet_edge/device/boards.py.\n"
            f"# Console: {b.console}.\n"
            f"# Input: {b.input} ({'images.bin read through semihosting' if b.input == 'semihost' else 'images compiled into flash, make IMAGES=file'}).\n"
            f"BOARD        := {b.name}\n"
            f"CPU          := {b.cpu_flags}\n"
            f"BOARD_DEFS   := {' '.join(b.board_defs)}\n"
            f"INPUT        ?= {b.input}\n"
            f"QEMU_MACHINE := {b.machine}\n")


def linker_script(board: str) -> str:
    """The project's linker.ld: the real part's memory map, then the shared sections."""
    b = board_spec(board)
    note = f"\n * {b.memory_note}." if b.memory_note else ""
    return (f"/* {b.title}: {_size(b.flash_bytes)} flash at 0x{b.flash_origin:08X}, {_size(b.ram_bytes)} RAM at "
            f"0x{b.ram_origin:08X}.{note}\n * Generated by lenet-edge from lenet_edge/device/boards.py. */\n"
            "MEMORY\n{\n"
            f"    FLASH (rx)  : ORIGIN = 0x{b.flash_origin:08X}, LENGTH = {_size(b.flash_bytes)}\n"
            f"    RAM   (rwx) : ORIGIN = 0x{b.ram_origin:08X}, LENGTH = {_size(b.ram_bytes)}\n"
            "}\n"
            f"LE_STACK_SIZE = DEFINED(LE_STACK_SIZE) ? LE_STACK_SIZE : {_size(b.stack_bytes)};\n"
            "INCLUDE le_sections.ld\n")


def generated_files(board: str) -> dict[str, str]:
    """Board files that a firmware project gets from this registry (name -> text)."""
    return {"board.mk": board_mk(board), "linker.ld": linker_script(board)}
