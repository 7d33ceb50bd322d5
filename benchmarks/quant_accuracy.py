"""Float vs int8 accuracy of the exported ONNX models on the full official MNIST test set.

For each architecture: train into <out>/<arch> if it has no checkpoint yet (mnist-5k, Adam),
export with `export_onnx_cmd`, then measure under the pinned ONNX Runtime session:
  * lenet5_float.onnx vs torch on all 10,000 images: max |d scores| and identical labels,
  * float and int8 accuracy, and how many labels differ between them.
Writes the `quant_accuracy` section of BENCHMARKS.md.

    .venv/bin/python benchmarks/quant_accuracy.py [--out runs/bench] [--epochs 40] [--calib-images 1000] [--qat]
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _report import update_section  # noqa: E402

from lenet_edge.check import ort as ort_oracle  # noqa: E402
from lenet_edge.data import load_test  # noqa: E402
from lenet_edge.model.checkpoint import load_model  # noqa: E402
from lenet_edge.cli import export_onnx_cmd  # noqa: E402
from lenet_edge.model.lenet5 import preprocess  # noqa: E402
from lenet_edge.model.train import TrainConfig, fit  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OFFICIAL = REPO.parent / "shared" / "data" / "mnist"


def measure(run: Path, test, against_torch: bool = True) -> dict:
    """ORT accuracies; with `against_torch`, also the float graph vs the checkpoint's torch model
    (not after --qat: the fine-tuned model lives only in the exported graphs)."""
    f = ort_oracle.predict(run / "lenet5_float.onnx", test.images)
    q = ort_oracle.predict(run / "lenet5_int8.onnx", test.images)
    vs_torch = {"max_dscores": "n/a", "label_diff_torch": "n/a"}
    if against_torch:
        model, _ = load_model(run / "checkpoint.pt")
        with torch.no_grad():
            torch_scores = model(preprocess(test.images)).numpy()
        torch_labels = model.predict(torch.from_numpy(torch_scores)).numpy()
        vs_torch = {"max_dscores": f"{np.abs(f['scores'] - torch_scores).max():.2e}",
                    "label_diff_torch": int((f["label"] != torch_labels).sum())}
    return {
        **vs_torch,
        "float": float(np.mean(f["label"] == test.labels)),
        "int8": float(np.mean(q["label"] == test.labels)),
        "float_int8_diff": int((f["label"] != q["label"]).sum()),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "bench")
    ap.add_argument("--arch", action="append", choices=["paper", "modern"])
    ap.add_argument("--epochs", type=int, default=None, help="training passes if a run must be trained")
    ap.add_argument("--calib-images", type=int, default=1000)
    ap.add_argument("--qat", action="store_true")
    ap.add_argument("--test-dir", type=Path, default=OFFICIAL)
    args = ap.parse_args(argv)
    test = load_test(args.test_dir)
    rows = []
    for arch in args.arch or ["paper", "modern"]:
        run = args.out / arch
        if not (run / "checkpoint.pt").exists():
            cfg = TrainConfig(arch=arch) if args.epochs is None else TrainConfig(arch=arch, epochs=args.epochs)
            fit(run, cfg, progress=False)
        t0 = time.perf_counter()
        export_onnx_cmd(run, calib_images=args.calib_images, qat=args.qat, test_dir=args.test_dir)
        r = measure(run, test, against_torch=not args.qat)
        print(f"{arch}: {r} (export {time.perf_counter() - t0:.1f}s)")
        rows.append((arch, r))
    cmd = "python benchmarks/quant_accuracy.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    lines = [
        f"## int8 quantization accuracy (ONNX Runtime){' with --qat' if args.qat else ''}",
        "",
        f"`{cmd.strip()}` — {test.source.replace(str(REPO.parent), '..')}, {len(test.labels)} images; "
        f"models: `lenet-edge train` defaults (mnist-5k, Adam), {args.epochs or 'default'} epochs; "
        f"calibration on {args.calib_images} training images{', QAT' if args.qat else ''}; "
        f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__}.",
        "",
        "| arch | float acc | int8 acc | drop (points) | labels float≠int8 | max \\|Δscores\\| float ONNX vs torch | labels ONNX≠torch |",
        "|---|---|---|---|---|---|---|",
    ]
    for arch, r in rows:
        lines.append(f"| {arch} | {100 * r['float']:.2f}% | {100 * r['int8']:.2f}% | "
                     f"{100 * (r['float'] - r['int8']):+.2f} | {r['float_int8_diff']} | "
                     f"{r['max_dscores']} | {r['label_diff_torch']} |")
    update_section("quant_accuracy_qat" if args.qat else "quant_accuracy", "\n".join(lines))


if __name__ == "__main__":
    main()
