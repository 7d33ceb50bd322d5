"""Figures written into the run folder (matplotlib, headless Agg backend, written atomically)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lenet_edge import fsutil  # noqa: E402


def _save(fig, dest: Path) -> None:
    try:
        with fsutil.atomic_path(dest) as tmp:
            fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    finally:
        plt.close(fig)


def plot_training_curves(history: list[dict], dest: Path, title: str = "") -> None:
    """Loss (left) and accuracy (right) per epoch: training and validation."""
    ep = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(ep, [h["loss"] for h in history], "o-", label="train")
    ax1.plot(ep, [h["val_loss"] for h in history], "s-", label="validation")
    ax1.set(xlabel="epoch", ylabel="loss", yscale="log", title="loss")
    ax2.plot(ep, [100 * h["accuracy"] for h in history], "o-", label="train")
    ax2.plot(ep, [100 * h["val_accuracy"] for h in history], "s-", label="validation")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, dest)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """[true, predicted] counts."""
    cm = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return cm


def plot_confusion(labels: np.ndarray, predicted: np.ndarray, dest: Path, title: str = "") -> None:
    cm = confusion_matrix(labels, predicted)
    fig, ax = plt.subplots(figsize=(6, 5.5))
    ax.imshow(np.log1p(cm), cmap="Blues")
    for t in range(10):
        for p in range(10):
            if cm[t, p]:
                ax.text(p, t, str(cm[t, p]), ha="center", va="center", fontsize=7,
                        color="white" if t == p else "black")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true",
           title=f"accuracy {100 * np.trace(cm) / max(1, cm.sum()):.2f}% — {title}")
    ax.title.set_fontsize(8)
    fig.tight_layout()
    _save(fig, dest)


def plot_glyphs(glyphs: np.ndarray, dest: Path) -> None:
    """The ten 7x12 RBF centre bitmaps [10, 84] (+1 ink black, -1 background white), side by side."""
    fig, axes = plt.subplots(1, len(glyphs), figsize=(len(glyphs) * 0.8, 1.6))
    for digit, (ax, g) in enumerate(zip(axes, glyphs)):
        ax.imshow(g.reshape(12, 7), cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(str(digit), fontsize=9)
        ax.axis("off")
    _save(fig, dest)
