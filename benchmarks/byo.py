"""Bring-your-own-model benchmark: the test networks of tests/byo_models.py, exported by torch and
quantized by quantize_static, compiled by `lenet-edge compile`, run on Cortex-M4F in QEMU
(mps2-an386) under the instruction-count plugin. Writes the `byo` section of BENCHMARKS.md.

    python benchmarks/byo.py [--inputs 20]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402

from _report import update_section  # noqa: E402
from byo_models import build, calibration  # noqa: E402
from lenet_edge.check import byo  # noqa: E402
from lenet_edge.device import byo_run  # noqa: E402

CONFIGS = [("cnn", "qdq", "s8", True), ("cnn", "qoperator", "u8", False), ("blocks", "qdq", "s8", True),
           ("blocks", "qoperator", "u8", False), ("acts", "qdq", "s8", True), ("acts", "qoperator", "u8", False),
           ("mobile", "qdq", "s8", True), ("mobile", "qoperator", "u8", False)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--inputs", type=int, default=20)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="byo-bench-") as tmp:
        tmp = Path(tmp)
        for name, fmt, act, pc in CONFIGS:
            built = build(name, fmt, act, pc, tmp / "models")
            out = tmp / built.tag
            m = byo.compile_cmd(built.path, out, echo=lambda *a: None)
            x = calibration(name, args.inputs, seed=5)
            r = byo_run.run(built.path, out, x, "mps2-an386", profile=True)
            r3 = byo_run.run(built.path, out, x, "lm3s6965evb", profile=True)
            assert r["identical"] == r["inputs"] and r3["identical"] == r3["inputs"], built.tag
            ins, ins3 = r["instructions"], r3["instructions"]
            rows.append((built.tag, m["macs"], min(ins), max(ins), m["flash_bytes"]["constants"],
                         m["ram_bytes"]["arena"] + m["ram_bytes"]["scratch"], built.path.stat().st_size,
                         r["sections"].get(".text", 0), r["identical"] + r3["identical"],
                         r["inputs"] + r3["inputs"], min(ins3)))
            print(rows[-1], flush=True)
    lines = [
        "## Bring your own model: quantize_static models compiled by `lenet-edge compile` (Cortex-M4F, QEMU)",
        "",
        f"`python benchmarks/byo.py --inputs {args.inputs}` — networks of tests/byo_models.py (torch.onnx.export "
        f"-> quantize_static, {args.inputs} calibration-like inputs each), kernel set `opt` (an optimized conv; "
        f"the reference kernels for the rest, as manifest.json records), built -O2 for mps2-an386 (Cortex-M4F) and lm3s6965evb (Cortex-M3: integer "
        f"requantization, soft float for the other float steps), executed in QEMU with the instruction-count plugin (minimum over the inputs); onnxruntime {onnxruntime.__version__}. Every output of every input was "
        f"bit-exact with ONNX Runtime.",
        "",
        "| model | MACs | M4F instructions / inference | per MAC | M3 instructions | model constants (B) | arena + scratch (B) | ORT .onnx file (B) | M4F firmware .text (B) | bit-exact (M4F + M3) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for tag, macs, lo, hi, flash, ram, onnx_size, text, ok, n, m3 in rows:
        ins = f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"
        lines.append(f"| {tag} | {macs:,} | {ins} | {lo / macs:.1f} | {m3:,} | {flash:,} | {ram:,} | {onnx_size:,} | "
                     f"{text:,} | {ok}/{n} |")
    lines += ["", "Apart from the conv's clipped windows the kernels are the plain reference loops (generic strides, "
              "explicit float32 rounding through volatile stores): correct first, not yet fast. ORT's file size includes float scales, names and "
              "graph structure; the model constants column is what the C stores in flash."]
    update_section("byo", "\n".join(lines))


if __name__ == "__main__":
    main()
