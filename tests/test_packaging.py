"""The wheel carries the templates, firmware, kernels and the embedded digits, so `pip install .`
works outside the source tree, and building it prints no setuptools "package would be ignored"
warnings."""
import email
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from lenet_edge import __version__
from lenet_edge.cli import main

REPO = Path(__file__).resolve().parents[1]
# top-level source folder -> where it lives in the wheel (pyproject.toml [tool.setuptools] package-dir)
SHIPPED_FOLDERS = {"codegen_templates": "lenet_edge/codegen_templates", "firmware": "lenet_edge/firmware",
                   "kernels": "lenet_edge/kernels"}
DROPPED_DEPENDENCIES = ("mlxtend", "scikit-learn", "pandas", "scipy")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    """(the wheel built from the work tree, everything the build printed)."""
    out = tmp_path_factory.mktemp("wheel")
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-w", str(out), str(REPO)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    (whl,) = out.glob("lenet_edge-*.whl")
    return whl, proc.stdout + proc.stderr


def test_wheel_ships_templates_and_firmware(wheel):
    names = set(zipfile.ZipFile(wheel[0]).namelist())
    for needed in ("lenet_edge/codegen_templates/lenet5.c.j2", "lenet_edge/codegen_templates/host/driver.c",
                   "lenet_edge/firmware/common/main.c", "lenet_edge/firmware/mps2-an386/console.c",
                   "lenet_edge/firmware/common/le_sections.ld",
                   "lenet_edge/firmware/netduinoplus2/startup.c", "lenet_edge/model/rbf_glyphs.txt",
                   "lenet_edge/data/mnist_5k.npz", "lenet_edge/data/mnist_5k_NOTICE.txt",
                   "lenet_edge/kernels/__init__.py",
                   "lenet_edge/kernels/le_common.h", "lenet_edge/kernels/ref/le_conv_subsample_s8.c",
                   "lenet_edge/kernels/opt/le_conv_subsample_s8.c", "lenet_edge/docs/int8-arithmetic.md",
                   "lenet_edge/compiler/ops/conv.py"):
        assert needed in names, needed
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def _source_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc" and p.name != ".gitkeep")


@pytest.mark.parametrize("folder", sorted(SHIPPED_FOLDERS))
def test_wheel_carries_every_file_of_the_shipped_folders(wheel, folder):
    """Whatever codegen_templates/, firmware/ and kernels/ (ref/ and opt/ kernel sets) hold today."""
    names = set(zipfile.ZipFile(wheel[0]).namelist())
    files = _source_files(REPO / folder)
    assert folder == "kernels" or files  # kernels/ may hold only its __init__.py on some branches
    missing = [str(f.relative_to(REPO)) for f in files
               if f"{SHIPPED_FOLDERS[folder]}/{f.relative_to(REPO / folder).as_posix()}" not in names]
    assert missing == []


def test_building_prints_no_package_would_be_ignored_warnings(wheel):
    log = wheel[1]
    for warning in ("would be ignored", "is absent from the `packages` configuration"):
        assert warning not in log, log


def test_wheel_metadata_drops_the_heavy_dependencies(wheel):
    with zipfile.ZipFile(wheel[0]) as z:
        (meta,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        requires = email.message_from_bytes(z.read(meta)).get_all("Requires-Dist")
    runtime = [r for r in requires if "extra ==" not in r]
    for dropped in DROPPED_DEPENDENCIES:
        assert not any(r.lower().startswith(dropped) for r in requires), dropped
    assert any(r.startswith("numpy") for r in runtime)


def test_every_command_has_help_and_version():
    runner = CliRunner()
    assert __version__ in runner.invoke(main, ["--version"]).output
    for cmd in main.commands:
        res = runner.invoke(main, [cmd, "--help"])
        assert res.exit_code == 0 and "Usage:" in res.output, cmd


def test_installed_wheel_finds_its_data_outside_the_source_tree(wheel, tmp_path):
    """Installed (not editable), run from another folder: the digits, templates, firmware and kernels
    come from the installed package."""
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                           str(wheel[0])], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    probe = (
        "import importlib.resources as r, lenet_edge\n"
        "from lenet_edge.data.embedded import load_mnist_5k\n"
        "images, labels = load_mnist_5k()\n"
        "print(lenet_edge.__file__)\n"
        "print(images.shape, labels.sum())\n"
        "for pkg in ('lenet_edge.codegen_templates', 'lenet_edge.firmware', 'lenet_edge.kernels'):\n"
        "    print(pkg, r.files(pkg).is_dir())\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(target)})
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith(str(target)), lines[0]
    assert lines[1] == "(5000, 28, 28) 22500"
    assert lines[2:] == [f"{p} True" for p in ("lenet_edge.codegen_templates", "lenet_edge.firmware",
                                               "lenet_edge.kernels")]
