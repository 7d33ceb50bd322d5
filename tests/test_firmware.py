"""Firmware projects: build for every board, boot in QEMU, self-test, faults, size errors.

Two models: a tiny stand-in (tests/fixtures/fake_c: deterministic integer "scores" replayed here in
numpy) exercises the firmware mechanics fast; the real generated C of a briefly trained LeNet-5
is compared bit for bit with ONNX Runtime on official test images for every board.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import require_tool
from lenet_edge.cli import main as cli
from lenet_edge.errors import LenetEdgeError
from lenet_edge.device import emulator as em
from lenet_edge.device import firmware as fw

FAKE_C = Path(__file__).parent / "fixtures" / "fake_c"
BOARDS = tuple(fw.BOARDS)
N_IMAGES = 50


def fake_model(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy replay of fake_c/lenet5.c: score k sums rows r % 10 == k against weights ±(c+1)."""
    w = np.array([(c + 1) * (1 if c % 2 == 0 else -1) for c in range(28)], dtype=np.int64)
    x = images.reshape(-1, 28, 28).astype(np.int64)
    scores = np.zeros((len(x), 10), dtype=np.int64)
    for r in range(28):
        scores[:, r % 10] += x[:, r, :] @ w
    return scores, scores.argmax(axis=1)


@pytest.fixture(scope="session")
def toolchain():
    require_tool("arm-none-eabi-gcc")
    require_tool("make")
    require_tool("qemu-system-arm")


@pytest.fixture(scope="session")
def fake_run(tmp_path_factory, toolchain) -> Path:
    run = tmp_path_factory.mktemp("fake_run")
    shutil.copytree(FAKE_C, run / "c")
    return run


@pytest.fixture(scope="session")
def fake_projects(fake_run) -> dict[str, Path]:
    for board in BOARDS:
        fw.export_firmware(fake_run, board, quiet=True)
    return {b: fw.project_dir(fake_run, b) for b in BOARDS}


@pytest.fixture(scope="session")
def random_images() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, size=(N_IMAGES, 28, 28), dtype=np.uint8)


# ---------------------------------------------------------------------------------------------
# Export and build

@pytest.mark.parametrize("board", BOARDS)
def test_export_writes_buildable_project(fake_projects, board):
    project = fake_projects[board]
    for name in ("Makefile", "board.mk", "linker.ld", "startup.c", "main.c", "lenet5.c", "firmware.elf",
                 "firmware.bin", "firmware.hex", "firmware.map", "manifest.json"):
        assert (project / name).is_file(), name
    spec = fw.board_spec(board)
    info = __import__("json").loads((project / "manifest.json").read_text())["firmware"]
    assert info["board"] == board and info["flash_total_bytes"] == spec.flash_bytes
    assert 0 < info["flash_used_bytes"] < spec.flash_bytes
    assert info["model_bytes"]["rodata"] == 28  # the stand-in's 28 int8 weights
    # The linker script states the real part's memory (what a real board has, not QEMU's RAM).
    kib = lambda n: f"{n // 1024}K"  # noqa: E731
    text = (project / "linker.ld").read_text().replace(" ", "")
    assert f"LENGTH={kib(spec.flash_bytes)}" in text or f"LENGTH={spec.flash_bytes >> 20}M" in text


def test_project_builds_with_plain_make_after_copying(fake_projects, tmp_path):
    """The folder is self-contained: copied elsewhere, `make` alone rebuilds the same image."""
    src = fake_projects["netduinoplus2"]
    copy = tmp_path / "copy"
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("build*", "firmware.*"))
    result = fw.make(copy, "netduinoplus2")
    assert result.elf.read_bytes() == (src / "firmware.elf").read_bytes()


def test_export_is_deterministic(fake_run, tmp_path, toolchain):
    other = tmp_path / "elsewhere"
    shutil.copytree(fake_run / "c", other / "c")
    fw.export_firmware(other, "lm3s6965evb", quiet=True)
    fw.export_firmware(fake_run, "lm3s6965evb", quiet=True)
    for name in ("firmware.elf", "firmware.bin", "firmware.hex", "manifest.json"):
        a = (fw.project_dir(other, "lm3s6965evb") / name).read_bytes()
        assert a == (fw.project_dir(fake_run, "lm3s6965evb") / name).read_bytes(), name


@pytest.mark.parametrize("board", ["lm3s6965evb", "netduinoplus2"])
def test_too_big_for_flash_is_one_line_with_byte_count(fake_projects, board):
    """A batch as big as the whole flash: the linker's overflow is reported in one line, in bytes."""
    project = fake_projects[board]
    spec = fw.board_spec(board)
    (project / "build-big").mkdir(exist_ok=True)
    (project / "build-big" / "images.bin").write_bytes(bytes(spec.flash_bytes))
    with pytest.raises(LenetEdgeError) as e:
        fw.make(project, board, build="build-big", images="build-big/images.bin")
    msg = str(e.value)
    assert "\n" not in msg and "does not fit" in msg and "FLASH" in msg
    overflow = int(msg.split("overflowed by ")[1].split()[0])
    assert 1000 < overflow < 20_000  # = the firmware's own size (a few KB)


def test_cli_export_firmware(fake_run):
    result = CliRunner().invoke(cli, ["export", "--target", "firmware", "--board", "lm3s6965evb",
                                      "--run", str(fake_run)])
    assert result.exit_code == 0, result.output
    assert "lm3s6965evb: flash" in result.output and "of 256 KiB" in result.output


def test_cli_export_firmware_without_model_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["export", "--target", "firmware", "--run", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "lenet5_int8.onnx" in result.output


def test_missing_cross_compiler_names_apt_command(fake_run, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(LenetEdgeError, match="apt-get install --no-install-recommends gcc-arm-none-eabi"):
        fw.export_firmware(fake_run, "mps2-an386", quiet=True)


def test_missing_qemu_names_apt_command(fake_run, monkeypatch, tmp_path):
    for tool in ("arm-none-eabi-gcc", "make"):  # keep these, hide qemu-system-arm
        (tmp_path / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LenetEdgeError, match="qemu-system-arm not found.*qemu-system-arm"):
        em.boot("mps2-an386", fake_run / "x.elf", fake_run, 5)


# ---------------------------------------------------------------------------------------------
# Running in QEMU

@pytest.mark.parametrize("board", BOARDS)
def test_fake_model_runs_exactly_on_every_board(fake_projects, random_images, board):
    device, runs = em.classify(fake_projects[board], board, random_images)
    scores, labels = fake_model(random_images)
    report = em.compare(device, scores, labels)
    assert report["mismatches"] == 0 and report["identical"] == N_IMAGES
    assert device.selftest == 0
    assert 0 < device.stack_peak < runs[0].stack_size
    assert runs[0].log.rstrip().endswith(f"LENET5 DONE {N_IMAGES} selftest=0")


def test_batches_cover_all_images_in_order(fake_projects, random_images, monkeypatch):
    monkeypatch.setattr(em, "MAX_BATCH", 20)  # 50 images -> 3 builds and boots
    device, runs = em.classify(fake_projects["lm3s6965evb"], "lm3s6965evb", random_images)
    assert device.boots == 3 and [r.done for r in runs] == [20, 20, 10]
    scores, labels = fake_model(random_images)
    assert em.compare(device, scores, labels)["mismatches"] == 0


def test_compare_reports_first_mismatch(fake_projects, random_images):
    device, _ = em.classify(fake_projects["mps2-an386"], "mps2-an386", random_images[:5])
    scores, labels = fake_model(random_images[:5])
    scores[3, 4] += 1
    report = em.compare(device, scores, labels)
    assert report["mismatches"] == 1 and report["first_mismatch"]["index"] == 3


FAULT_CASES = [(b, 1, "UsageFault") for b in BOARDS] + [(b, 3, "UsageFault") for b in BOARDS] + [
    (b, 2, "BusFault") for b in ("mps2-an386", "netduinoplus2")]  # QEMU's lm3s6965evb ignores bus errors


@pytest.mark.parametrize("board,kind,name", FAULT_CASES)
def test_fault_handler_reports_and_exits(fake_projects, board, kind, name):
    """1: undefined instruction, 2: unmapped read, 3: divide by zero -> one FAULT line, exit 3."""
    project = fake_projects[board]
    build = f"build-fault{kind}"
    result = fw.make(project, board, build=build, defs=("-DLE_QEMU_EXIT", f"-DLE_FAULT_TEST={kind}"))
    run = em.boot(board, result.elf, project, timeout_s=20)
    assert run.returncode == 3
    assert run.fault and run.fault.startswith(f"FAULT {name} pc=0x")
    cfsr = int(run.fault.split("cfsr=")[1].split()[0], 16)
    assert cfsr & {1: 1 << 16, 2: 1 << 15, 3: 1 << 25}[kind]  # UNDEFINSTR, BFARVALID, DIVBYZERO
    with pytest.raises(LenetEdgeError, match="faulted"):
        em.check_run(run, result.elf, 0)


def test_selftest_failure_exits_nonzero(fake_projects, tmp_path):
    project = fake_projects["mps2-an386"]
    result = fw.make(project, "mps2-an386", build="build-badself", defs=("-DLENET5_FAKE_SELFTEST_FAIL",))
    (tmp_path / "images.bin").write_bytes(b"")  # semihosting input: zero images
    run = em.boot("mps2-an386", result.elf, tmp_path, timeout_s=20)
    assert run.selftest == 1 and run.returncode == 1 and run.done == 0
    with pytest.raises(LenetEdgeError, match="selftest"):
        em.check_run(run, result.elf, 0)


def test_missing_images_file_is_reported(fake_projects, tmp_path):
    project = fake_projects["mps2-an386"]
    run = em.boot("mps2-an386", project / "firmware.elf", tmp_path, timeout_s=20)  # no images.bin here
    assert run.returncode == 2 and run.error == "ERROR cannot open the images input"


def test_firmware_that_never_exits_times_out_with_one_line(fake_projects):
    """Without -DLE_QEMU_EXIT a UART board spins after its sentinel (as on a real board)."""
    project = fake_projects["netduinoplus2"]
    with pytest.raises(LenetEdgeError, match="did not finish within 3 s .*LENET5 DONE 0"):
        em.boot("netduinoplus2", project / "firmware.elf", project, timeout_s=3)


@pytest.mark.parametrize("what", ["garbage", "wrong board"])
def test_a_bad_elf_names_qemus_real_cause(fake_projects, tmp_path, what):
    """Issue 9 item 9: QEMU's "Lockup: can't escalate 3 to HardFault", not the register dump's last line."""
    if what == "garbage":
        elf = tmp_path / "garbage.elf"
        elf.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
        machine = "mps2-an386"
    else:  # the M4F image at 0x0 on the M3 board
        elf, machine = fake_projects["mps2-an386"] / "firmware.elf", "lm3s6965evb"
    run = em.boot(machine, elf, tmp_path, timeout_s=20)
    with pytest.raises(LenetEdgeError) as e:
        em.check_run(run, elf, 1)
    msg = str(e.value)
    assert "\n" not in msg and "FPSCR" not in msg, msg
    # the cause: QEMU's own (a lockup) or, when the image gets as far as its fault handler, the fault
    assert re.search(r"QEMU stopped: Lockup: can't escalate \d to HardFault|the firmware faulted: FAULT \w+Fault",
                     msg), msg


def test_qemu_cause_picks_the_fatal_line():
    stderr = ("qemu: fatal: Lockup: can't escalate 3 to HardFault (current priority -1)\n\n"
              "R00=00000000 R01=00000000\nXPSR=40000003 -Z-- A handler\nFPSCR: 00000000\n")
    assert em.qemu_cause(stderr) == "Lockup: can't escalate 3 to HardFault (current priority -1)"
    assert em.qemu_cause("qemu-system-arm: Could not load kernel 'x.elf'\n") == "Could not load kernel 'x.elf'"
    assert em.qemu_cause("") == ""


@pytest.mark.parametrize("line", ["R 0 3 1 2 3", "R 0 x 1 2 3 4 5 6 7 8 9 10", "SELFTEST", "SELFTEST ok",
                                  "STACK 12", "LENET5 DONE many", "R " + " ".join(["9" * 40] * 12) + " z"])
def test_unparsable_firmware_output_is_an_error_not_a_crash(line):
    run = em.parse_output(f"LENET5 BOOT board=x\n{line}\n", 0)
    assert run.error and "unparsable firmware output at line 2" in run.error
    with pytest.raises(LenetEdgeError, match="unparsable firmware output at line 2"):
        em.check_run(run, Path("f.elf"), 0)


def test_board_facts_come_from_one_registry(fake_projects):
    """The CLI's choices, the project's board.mk and linker.ld, QEMU's machine and flash's probe
    scripts are all the registry's (lenet_edge/device/boards.py); no board file ships elsewhere."""
    from lenet_edge import cli
    from lenet_edge.device import boards, flash

    assert tuple(cli.BOARDS) == tuple(boards.BOARDS)
    for name, b in boards.BOARDS.items():
        project = fake_projects[name]
        mk = (project / "board.mk").read_text()
        assert f"CPU          := {b.cpu_flags}\n" in mk and f"QEMU_MACHINE := {b.machine}\n" in mk
        assert f"INPUT        ?= {b.input}\n" in mk
        assert em.qemu_command(name, Path("f.elf"))[2] == name
        assert flash.flash_command(name, "openocd", Path("f.elf"))[1:-2] == list(b.openocd)
        assert not (fw.firmware_root() / name / "board.mk").exists()
        assert not (fw.firmware_root() / name / "linker.ld").exists()
