"""Figures: written into the run folder (train) or returned as PNG bytes for the HTML report.
matplotlib with the headless Agg backend; files are written atomically; every figure is closed."""
from __future__ import annotations

import io
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


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes (no timestamp or software metadata: same figure, same bytes)."""
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
        return buf.getvalue()
    finally:
        plt.close(fig)


def plot_training_curves(history: list[dict], dest: Path, title: str = "") -> None:
    _save(training_curves_figure(history, title), dest)


def training_curves_figure(history: list[dict], title: str = ""):
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
    return fig


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """[true, predicted] counts."""
    cm = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return cm


def plot_confusion(labels: np.ndarray, predicted: np.ndarray, dest: Path, title: str = "") -> None:
    _save(confusion_figure(labels, predicted, title), dest)


def confusion_figure(labels: np.ndarray, predicted: np.ndarray, title: str = ""):
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
    return fig


def plot_glyphs(glyphs: np.ndarray, dest: Path) -> None:
    _save(glyphs_figure(glyphs), dest)


def glyphs_figure(glyphs: np.ndarray):
    """The ten 7x12 RBF centre bitmaps [10, 84] (+1 ink black, -1 background white), side by side."""
    fig, axes = plt.subplots(1, len(glyphs), figsize=(len(glyphs) * 0.8, 1.6))
    for digit, (ax, g) in enumerate(zip(axes, glyphs)):
        ax.imshow(g.reshape(12, 7), cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(str(digit), fontsize=9)
        ax.axis("off")
    return fig


def error_histograms_figure(errors: dict[str, np.ndarray], steps: dict[str, float]):
    """One histogram per layer of (dequantized int8 - float) activation error; the dashed lines mark
    +-half a quantization step of that tensor."""
    n = len(errors)
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False)
    for ax, (name, err) in zip(axes.flat, errors.items()):
        err = np.asarray(err, dtype=np.float64).ravel()
        ax.hist(err, bins=61, color="#4c72b0")
        half = steps.get(name, 0.0) / 2
        if half:
            for x in (-half, half):
                ax.axvline(x, color="#c44e52", ls="--", lw=0.8)
        ax.set_yscale("log")
        ax.set_title(f"{name}: rms {np.sqrt(np.mean(err ** 2)):.4f}, max |e| {np.abs(err).max():.3f}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("int8 (dequantized) minus float, per layer output", fontsize=9)
    fig.tight_layout()
    return fig


def layer_cost_figure(names: list[str], instructions: list[int], cycles: list[int], board: str):
    """Horizontal bars per layer: executed instructions and estimated cycles of one inference."""
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(names) + 1.2))
    ax.barh(y - 0.2, instructions, height=0.4, label="instructions (QEMU plugin)", color="#4c72b0")
    ax.barh(y + 0.2, cycles, height=0.4, label="cycles (Cortex-M4 estimate)", color="#dd8452")
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("per inference")
    ax.set_title(f"cost per layer on {board}", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def digit_png(image: np.ndarray, zoom: int = 3) -> bytes:
    """A uint8 [28, 28] digit (ink bright) as a small PNG, black ink on white, pixels kept square."""
    from PIL import Image

    img = Image.fromarray(255 - np.asarray(image, dtype=np.uint8).reshape(28, 28))
    img = img.resize((28 * zoom, 28 * zoom), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
