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
import pickle
import re
from pathlib import Path

import torch

from lenet_edge import fsutil
from lenet_edge.errors import LenetEdgeError
from lenet_edge.model.lenet5 import ARCHS, build_model

FORMAT = "lenet-edge-checkpoint/1"


def save_checkpoint(path: Path, state: dict) -> None:
    """Atomic: a Ctrl-C during the write leaves the previous checkpoint intact."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buf)
    fsutil.write_bytes(path, buf.getvalue())


# Top-level keys: the type each must have, and whether a checkpoint without it is still usable.
# Everything that is not a tensor is a plain type (str, int, float, bool, None, list, dict), so
# torch.load(weights_only=True) reads it without running any code from the file.
_SCHEMA = {
    "arch": (str, True), "epoch": (int, True), "model": (dict, True), "config": (dict, True),
    "optimizer": (dict, False), "history": (list, False), "data_sha256": (str, False),
    "rng": (torch.Tensor, False),
}

# Types of the training-config fields that export and --resume read (other keys are ignored).
_CONFIG = {"dataset": str, "data_dir": (str, type(None)), "seed": int, "arch": str, "optimizer": str,
           "epochs": int, "augment": bool, "map_j": (int, float), "batch_size": int, "eta_scale": (int, float)}


def load_checkpoint(path: Path, arch: str | None = None) -> dict:
    """Read and validate a checkpoint; `arch` (if given) must match the checkpoint's.
    Nothing in the file is executed: torch.load(weights_only=True) refuses any pickled object
    that is not a tensor or a plain container, and each key's type is checked."""
    path = Path(path)
    if not path.is_file():
        raise LenetEdgeError(f"{path}: checkpoint not found (run `lenet-edge train` first)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        m = re.search(r"Unsupported global: GLOBAL ([\w.]+)|unsupported GLOBAL ([\w.]+)", str(e), re.IGNORECASE)
        if m is None:
            raise LenetEdgeError(f"{path}: corrupt checkpoint (not a torch file)") from None
        raise LenetEdgeError(f"{path}: checkpoint refused: it pickles {m.group(1) or m.group(2)}, which is not "
                             "a tensor or plain data (nothing from it was run)") from None
    except Exception as e:
        raise LenetEdgeError(f"{path}: corrupt checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise LenetEdgeError(f"{path}: not a lenet-edge checkpoint (format {FORMAT} expected)")
    if not isinstance(ckpt.get("arch"), str) or ckpt["arch"] not in ARCHS:
        what = f"arch {ckpt['arch']!r} is not one of {', '.join(ARCHS)}" if "arch" in ckpt else "has no 'arch'"
        raise LenetEdgeError(f"{path}: checkpoint {what}")
    if arch is not None and ckpt["arch"] != arch:  # the most useful message first
        raise LenetEdgeError(f"{path}: checkpoint is for --arch {ckpt['arch']}, not --arch {arch}")
    for key, (kind, required) in _SCHEMA.items():
        if key not in ckpt:
            if required:
                raise LenetEdgeError(f"{path}: checkpoint has no {key!r} (damaged or from another tool)")
            continue
        value = ckpt[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise LenetEdgeError(f"{path}: checkpoint {key!r} is {type(value).__name__}, expected {kind.__name__}")
    if ckpt["epoch"] < 0:
        raise LenetEdgeError(f"{path}: checkpoint epoch {ckpt['epoch']} is negative")
    bad = next((k for k, v in ckpt["model"].items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        raise LenetEdgeError(f"{path}: checkpoint 'model' entry {bad!r} is not a named tensor")
    for key, kind in _CONFIG.items():
        value = ckpt["config"].get(key)
        if key in ckpt["config"] and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
            raise LenetEdgeError(f"{path}: checkpoint config {key!r} is {type(value).__name__} {value!r:.40}")
    return ckpt


def load_model(path: Path, arch: str | None = None) -> tuple[torch.nn.Module, dict]:
    """The trained model in eval mode, and its checkpoint dict."""
    ckpt = load_checkpoint(path, arch)
    model = build_model(ckpt["arch"])
    try:
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        raise LenetEdgeError(f"{path}: weights do not fit --arch {ckpt['arch']} ({str(e).splitlines()[0]})") from None
    model.eval()
    return model, ckpt
