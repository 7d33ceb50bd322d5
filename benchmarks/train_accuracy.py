"""Float accuracy of the trained models on the official MNIST test set, and training time per epoch.

    python benchmarks/train_accuracy.py [--test-dir ../shared/data/mnist] [--out runs/bench]

Trains, with the CLI defaults unless noted: the paper model with Adam (the default), the paper model
with SDLM, the modern model, and (when Debian's dataset-fashion-mnist is installed) the paper model on
the full 60k Fashion-MNIST training set. Writes the "train" section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the CLI: LeNet-sized batches gain nothing from more
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import update_section  # noqa: E402

from lenet_edge.data.datasets import FASHION_DIR  # noqa: E402
from lenet_edge.model.train import DEFAULT_EPOCHS, SDLM_BATCH, TrainConfig, fit  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--test-dir", type=Path, default=REPO.parent / "shared" / "data" / "mnist")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "bench")
    ap.add_argument("--skip", nargs="*", default=[], help="names of runs to skip")
    args = ap.parse_args()

    runs = [
        ("paper-adam", TrainConfig(), args.test_dir),
        ("paper-sdlm", TrainConfig(optimizer="sdlm", epochs=DEFAULT_EPOCHS["sdlm"], batch_size=SDLM_BATCH), args.test_dir),
        ("modern-adam", TrainConfig(arch="modern"), args.test_dir),
    ]
    if Path(FASHION_DIR).is_dir():  # 60k clothing images: the digit distortions do not apply
        runs.append(("fashion-paper-adam", TrainConfig(dataset="fashion-mnist", epochs=40, augment=False), None))
        runs.append(("fashion-modern-adam", TrainConfig(dataset="fashion-mnist", arch="modern", epochs=20,
                                                        augment=False), None))
    rows = []
    for name, cfg, test_dir in runs:
        if name in args.skip:
            continue
        print(f"== {name}: {cfg}", flush=True)
        t0 = time.perf_counter()
        m = fit(args.out / name, cfg, test_dir=test_dir, progress=False)
        wall = time.perf_counter() - t0
        per_epoch = sum(e["seconds"] for e in m["epochs"]) / len(m["epochs"])
        rows.append((name, cfg, m, per_epoch, wall))

    lines = [
        "## Float accuracy after training (`train`)",
        "",
        "Command: `.venv/bin/python benchmarks/train_accuracy.py --test-dir ../shared/data/mnist`",
        f"(torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}).",
        "",
        "| run | arch | optimizer | epochs | augment | train images | test set | test accuracy | s/epoch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, cfg, m, per_epoch, _ in rows:
        lines.append(f"| {name} | {cfg.arch} | {cfg.optimizer} | {cfg.epochs} | {cfg.augment} | "
                     f"{m['data']['train_images']:,} ({cfg.dataset}) | {m['test']['source']} | "
                     f"**{100 * m['test']['accuracy']:.2f}%** | {per_epoch:.1f} |")
    lines += ["", "Goals: paper model from the 5,000 embedded digits ≥ 98.0% on the official MNIST test set; "
              "Fashion-MNIST (60k) ≥ 90%. The default optimizer is the one with the better test accuracy."]
    update_section("train", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
