"""checkpoint.pt: the trained model plus everything needed to resume or export it.

Layout (a dict saved with torch.save):
    format      "lenet-edge-checkpoint/1"
    arch        "paper" | "modern"
    epoch       completed passes
    model       state_dict
    optimizer   optimizer state (for --resume)
    config      training options (dataset, data_dir, arch, optimizer, seed, augment, map_j, epochs)
    history     per-epoch metrics, as in metrics.json
    data_sha256 hash of the training data
    rng         torch RNG state (CPU), so a resumed run continues the same random stream
"""
from __future__ import annotations

import io
from pathlib import Path

import torch

from lenet_edge import fsutil
from lenet_edge.errors import LenetEdgeError
from lenet_edge.model.lenet5 import build_model

FORMAT = "lenet-edge-checkpoint/1"


def save_checkpoint(path: Path, state: dict) -> None:
    """Atomic: a Ctrl-C during the write leaves the previous checkpoint intact."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buf)
    fsutil.write_bytes(path, buf.getvalue())


def load_checkpoint(path: Path, arch: str | None = None) -> dict:
    """Read and validate a checkpoint; `arch` (if given) must match the checkpoint's."""
    path = Path(path)
    if not path.is_file():
        raise LenetEdgeError(f"{path}: checkpoint not found (run `lenet-edge train` first)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise LenetEdgeError(f"{path}: corrupt checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise LenetEdgeError(f"{path}: not a lenet-edge checkpoint (format {FORMAT} expected)")
    if arch is not None and ckpt["arch"] != arch:
        raise LenetEdgeError(f"{path}: checkpoint is for --arch {ckpt['arch']}, not --arch {arch}")
    return ckpt


def load_model(path: Path, arch: str | None = None) -> tuple[torch.nn.Module, dict]:
    """The trained model in eval mode, and its checkpoint dict."""
    ckpt = load_checkpoint(path, arch)
    model = build_model(ckpt["arch"])
    try:
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError) as e:
        raise LenetEdgeError(f"{path}: weights do not fit --arch {ckpt['arch']} ({str(e).splitlines()[0]})") from None
    model.eval()
    return model, ckpt
