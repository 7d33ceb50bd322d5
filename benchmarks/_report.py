"""Write one named section of BENCHMARKS.md, leaving the other sections as they are.

Each benchmark script owns a section delimited by HTML comments, so scripts can be re-run in any
order:  <!-- begin:NAME --> ... <!-- end:NAME -->
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lenet_edge import fsutil  # noqa: E402

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
HEADER = "# Benchmarks\n\nEvery figure below was produced by the command printed next to it.\n"


def update_section(name: str, markdown: str, path: Path = BENCHMARKS_MD) -> None:
    text = path.read_text() if path.exists() else HEADER
    block = f"<!-- begin:{name} -->\n{markdown.rstrip()}\n<!-- end:{name} -->"
    pattern = re.compile(rf"<!-- begin:{re.escape(name)} -->.*?<!-- end:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    fsutil.write_text(path, text)
