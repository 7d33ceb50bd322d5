"""The package boundaries of the project charter, as import-linter contracts in pyproject.toml:
the tree keeps every contract, and each contract does break when its rule is broken."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# One breach per contract: (file under lenet_edge/, line added to it, contract it must break).
BREACHES = [
    ("model/lenet5.py", "from lenet_edge.check import ort", "model does not import check"),
    ("compiler/ir.py", "import torch", "compiler imports neither torch nor onnxruntime (nor anything that does)"),
    ("compiler/emit.py", "import onnx", "inside the compiler only the frontend and op recognisers read ONNX"),
    ("device/flash.py", "import onnxruntime", "only check.ort builds ONNX Runtime sessions"),
    ("data/idx.py", "import torch", "torch is imported only in lenet_edge.model"),
]


def _contracts() -> list[str]:
    """Contract names in pyproject.toml (read with a regex: tomllib is Python >= 3.11 only)."""
    text = (REPO / "pyproject.toml").read_text()
    names = re.findall(r'^\[\[tool\.importlinter\.contracts\]\]\nname = "([^"]+)"', text, re.M)
    assert len(names) == text.count("[[tool.importlinter.contracts]]")
    return names


def _lint(cwd: Path) -> tuple[int, str]:
    assert LINT_IMPORTS.is_file(), f"{LINT_IMPORTS} missing: install the dev extras (make setup)"
    proc = subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(REPO / "pyproject.toml")],
                          cwd=cwd, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def _status(output: str) -> dict[str, str]:
    return {name: status for name, status in re.findall(r"^(.+?) (KEPT|BROKEN)\b", output, re.M)}


def test_every_boundary_contract_is_kept():
    rc, out = _lint(REPO)
    assert rc == 0, out
    assert _status(out) == {name: "KEPT" for name in _contracts()}, out
    assert set(_contracts()) == {contract for _, _, contract in BREACHES}


def test_each_contract_breaks_when_its_rule_is_broken(tmp_path):
    copy = tmp_path / "lenet_edge"
    shutil.copytree(REPO / "lenet_edge", copy, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, line, _ in BREACHES:
        path = copy / rel
        path.write_text(path.read_text() + f"\n{line}  # deliberate breach\n")
    rc, out = _lint(tmp_path)
    assert rc != 0, out
    assert _status(out) == {contract: "BROKEN" for _, _, contract in BREACHES}, out
    for rel, line, _ in BREACHES:
        module = "lenet_edge." + rel.removesuffix(".py").replace("/", ".")
        assert module in out, (module, out)
