"""The wheel carries the templates and firmware, so `pip install .` works outside the source tree."""
import subprocess
import sys
import zipfile
from pathlib import Path

from click.testing import CliRunner

from lenet_edge import __version__
from lenet_edge.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_wheel_ships_templates_and_firmware(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(REPO)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("lenet_edge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("lenet_edge/codegen_templates/lenet5.c.j2", "lenet_edge/codegen_templates/host/driver.c",
                   "lenet_edge/firmware/common/main.c", "lenet_edge/firmware/mps2-an386/linker.ld",
                   "lenet_edge/firmware/netduinoplus2/startup.c", "lenet_edge/model/rbf_glyphs.txt",
                   "lenet_edge/kernels/le_common.h", "lenet_edge/kernels/ref/le_conv_subsample_s8.c",
                   "lenet_edge/kernels/opt/le_conv_subsample_s8.c", "lenet_edge/docs/int8-arithmetic.md",
                   "lenet_edge/compiler/ops/conv.py"):
        assert needed in names, needed
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_every_command_has_help_and_version():
    runner = CliRunner()
    assert __version__ in runner.invoke(main, ["--version"]).output
    for cmd in main.commands:
        res = runner.invoke(main, [cmd, "--help"])
        assert res.exit_code == 0 and "Usage:" in res.output, cmd
