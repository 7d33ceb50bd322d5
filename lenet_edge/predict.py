"""`lenet-edge predict IMAGE...`: classify the user's own digits with any stage of the pipeline.

Preprocessing follows the recipe MNIST itself was made with (docs/predict.md):
  1. convert to grayscale (an alpha channel is composited onto the background first);
  2. invert when the background is light, so the ink is bright on black like MNIST;
  3. crop to the ink (pixels above 1/5 of the ink's range over the background level);
  4. fit into 20x20 keeping the aspect ratio (anti-aliased resampling);
  5. paste into 28x28 so the centre of mass sits at the centre (pixel 13.5, 13.5), scaled so the
     brightest pixel is 255.
`.npy` arrays (uint8 [28, 28] or [N, 28, 28]) are taken as they are: already MNIST format.

Backends: torch (checkpoint.pt), onnx (float ONNX) and int8 (int8 ONNX) under ONNX Runtime, and c:
the generated C built on the host once and cached in <run>/.predict-cache/ (rebuilt when the C
changes).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click
import numpy as np

from lenet_edge import fsutil
from lenet_edge.errors import LenetEdgeError

BACKENDS = ("torch", "onnx", "int8", "c")
BOX = 20                 # MNIST: the digit is fitted into 20x20
SIZE = 28
INK_FRACTION = 0.2       # crop: pixels above this share of the ink range count as ink
MIN_CONTRAST = 24        # grey levels between background and ink below this: a blank image
MAX_PIXELS = 50_000_000  # refuse decompression bombs with a one-line error
CACHE = ".predict-cache"


# ---------------------------------------------------------------------------------------------
# Reading and preprocessing

def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]]) if min(a.shape) > 1 else a.ravel()


def to_mnist(gray: np.ndarray, name: str = "image") -> np.ndarray:
    """uint8 [28, 28], bright ink on black, from any grayscale image array [H, W] (0..255)."""
    from PIL import Image

    a = np.asarray(gray, dtype=np.float64)
    if a.ndim != 2 or a.size == 0:
        raise LenetEdgeError(f"{name}: empty image")
    if np.median(_border(a)) > 127:         # light background: dark ink, invert
        a = 255.0 - a
    background = float(np.median(_border(a)))
    ink = np.clip(a - background, 0, None)
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise LenetEdgeError(f"{name}: blank image (no ink: contrast {peak:.0f} of 255)")
    ink = ink * (255.0 / peak)
    rows = np.flatnonzero((ink > INK_FRACTION * 255).any(axis=1))
    cols = np.flatnonzero((ink > INK_FRACTION * 255).any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = Image.fromarray(crop.astype(np.float32)).resize((nw, nh), Image.Resampling.LANCZOS)
    small = np.clip(np.asarray(small, dtype=np.float64), 0, 255)
    total = small.sum()
    if total <= 0:
        raise LenetEdgeError(f"{name}: blank image (no ink left after scaling)")
    cy = (small.sum(axis=1) * np.arange(nh)).sum() / total
    cx = (small.sum(axis=0) * np.arange(nw)).sum() / total
    top, left = int(round(SIZE / 2 - 0.5 - cy)), int(round(SIZE / 2 - 0.5 - cx))
    # keep the whole digit inside the frame (a lopsided digit's centre of mass may sit off-centre)
    top, left = min(max(top, 0), SIZE - nh), min(max(left, 0), SIZE - nw)
    out = np.zeros((SIZE, SIZE), dtype=np.float64)
    out[top:top + nh, left:left + nw] = small * (255.0 / small.max())  # full contrast, as MNIST's digits
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _gray(img) -> np.ndarray:
    """A Pillow image as a grayscale array; transparency is flattened onto the background."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        hi = a.max() if a.max() > 0 else 1.0
        return a * (255.0 / (65535.0 if hi > 255 else 255.0))
    if img.mode == "P":
        img = img.convert("RGBA")
    if "A" in img.getbands():
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float64)
        alpha = rgba[..., 3] / 255.0
        lum = np.asarray(img.convert("RGB").convert("L"), dtype=np.float64)
        if alpha.min() < 1.0:
            # opaque strokes on a transparent sheet: draw them on the contrasting background
            opaque = alpha > 0.5
            ink_dark = opaque.any() and lum[opaque].mean() < 128
            bg = 255.0 if ink_dark else 0.0
            return alpha * lum + (1 - alpha) * bg
        return lum
    return np.asarray(img.convert("L"), dtype=np.float64)


def load_images(path: Path) -> tuple[list[str], np.ndarray]:
    """(names, uint8 [N, 28, 28]) from one file: an image (preprocessed) or a .npy array."""
    path = Path(path)
    if path.is_dir():
        raise LenetEdgeError(f"{path}: is a folder, not an image file")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise LenetEdgeError(f"{path}: cannot read ({e.strerror or e})") from None
    if not head:
        raise LenetEdgeError(f"{path}: empty file")
    if path.suffix.lower() == ".npy" or head.startswith(b"\x93NUMPY"):
        return _load_npy(path)
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(path) as img:
            img.load()
            gray = _gray(img)
    except UnidentifiedImageError:
        raise LenetEdgeError(f"{path}: not an image Pillow can read (PNG, JPEG, PGM or .npy expected)") from None
    except Image.DecompressionBombError:
        raise LenetEdgeError(f"{path}: image too large (more than {MAX_PIXELS:,} pixels)") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise LenetEdgeError(f"{path}: cannot decode the image ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    return [str(path)], to_mnist(gray, str(path))[None]


def _load_npy(path: Path) -> tuple[list[str], np.ndarray]:
    try:
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise LenetEdgeError(f"{path}: not a readable .npy array ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.shape[-2:] != (SIZE, SIZE) or a.ndim not in (2, 3):
        shape = getattr(a, "shape", "?")
        raise LenetEdgeError(f"{path}: expected a uint8 array of shape 28x28 or Nx28x28, got "
                             f"{getattr(a, 'dtype', type(a).__name__)} {shape}")
    single = a.ndim == 2
    a = a.reshape(-1, SIZE, SIZE)
    if len(a) == 0:
        raise LenetEdgeError(f"{path}: the array holds no images")
    names = [str(path)] if single else [f"{path}[{i}]" for i in range(len(a))]
    return names, np.ascontiguousarray(a)


# ---------------------------------------------------------------------------------------------
# Backends

def _c_executable(run_dir: Path) -> Path:
    """The host build of <run>/c, built once per content of the C files and cached in
    <run>/.predict-cache/<hash>/ (a new build replaces the entries of older C)."""
    import os
    import shutil
    import tempfile

    from lenet_edge.check import hostbuild
    from lenet_edge.compiler import ensure_c
    from lenet_edge.compiler.emit import OUTPUT_FILES

    c_dir = run_dir / "c"
    onnx_path = run_dir / "lenet5_int8.onnx"
    if onnx_path.is_file() or not all((c_dir / f).is_file() for f in OUTPUT_FILES):
        ensure_c(onnx_path, c_dir)  # regenerates the C when it was made from another model
    digest = hashlib.sha256()
    for name in sorted(OUTPUT_FILES):
        digest.update(name.encode() + b"\0" + (c_dir / name).read_bytes())
    digest.update(b"driver.c\0" + hostbuild.driver_source().read_bytes())
    root = run_dir / CACHE
    entry = root / digest.hexdigest()[:16]
    exe = entry / "lenet5_driver"
    if exe.is_file():
        return exe
    fsutil.ensure_writable_dir(root)
    with tempfile.TemporaryDirectory(prefix=".build.", dir=root) as tmp:
        built = hostbuild.build(c_dir, work_dir=Path(tmp) / "work")
        stage = Path(tmp) / "entry"
        stage.mkdir()
        shutil.copy2(built, stage / exe.name)
        for old in root.iterdir():  # entries of older C: never used again
            if not old.name.startswith("."):
                shutil.rmtree(old, ignore_errors=True)
        os.replace(stage, entry)  # the entry appears whole or not at all
    return exe


def run_backend(backend: str, run_dir: Path, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scores [N, 10], labels [N]) of uint8 images [N, 28, 28]."""
    from lenet_edge.errors import require_onnx

    run_dir = Path(run_dir)
    if backend == "torch":
        from lenet_edge.model.checkpoint import load_model
        from lenet_edge.model.train import predict

        model, _ = load_model(run_dir / "checkpoint.pt")
        return predict(model, images)
    if backend in ("onnx", "int8"):
        from lenet_edge.check import ort

        model = require_onnx(run_dir / ("lenet5_float.onnx" if backend == "onnx" else "lenet5_int8.onnx"))
        out = ort.predict(model, images)
        return out["scores"], out["label"]
    if backend == "c":
        from lenet_edge.check import hostbuild

        out = hostbuild.run_images(_c_executable(run_dir), images)
        return out["scores"], out["label"]
    raise LenetEdgeError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")


def _arch(run_dir: Path) -> str | None:
    try:
        return json.loads((Path(run_dir) / "metrics.json").read_text()).get("config", {}).get("arch")
    except (OSError, ValueError, AttributeError):
        return None


def _warn_if_stale(backend: str, run_dir: Path) -> None:
    """A note on stderr when the model this backend runs was made from another checkpoint."""
    from lenet_edge import lineage

    if backend == "torch" or not run_dir.is_dir():
        return
    artifact = lineage.FLOAT_ONNX if backend == "onnx" else lineage.INT8_ONNX
    try:
        status = lineage.check_run(run_dir).get(artifact)
    except LenetEdgeError:
        return  # a broken side file does not stop a prediction; `report` names it
    if status is not None and status.state == "stale":
        click.echo(f"lenet-edge: warning: {run_dir / artifact} is stale ({status.reason}); "
                   f"refresh with: {status.refresh}", err=True)


def predict_cmd(paths: list[Path], backend: str, run_dir: Path, as_json: bool) -> list[dict]:
    """CLI entry (see cli.py). Every file is read before any model runs: one bad file, one error."""
    if backend not in BACKENDS:
        raise LenetEdgeError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    names, arrays = [], []
    for p in paths:
        n, a = load_images(Path(p))
        names += n
        arrays.append(a)
    images = np.concatenate(arrays)
    _warn_if_stale(backend, Path(run_dir))
    scores, labels = run_backend(backend, Path(run_dir), images)
    results = []
    for name, s, lab in zip(names, scores, labels):
        vals = [int(v) if np.issubdtype(np.asarray(s).dtype, np.integer) else round(float(v), 6) for v in s]
        results.append({"file": name, "label": int(lab), "scores": vals})
    if as_json:
        arch = _arch(run_dir)
        click.echo(json.dumps({"backend": backend, "run": str(run_dir),
                               "scores": "RBF distances, smallest wins" if arch == "paper" else
                               "logits, largest wins" if arch == "modern" else "per class",
                               "results": results}, indent=2))
    else:
        for r in results:
            click.echo(f"{r['file']}: {r['label']}  scores {' '.join(f'{i}:{v}' for i, v in enumerate(r['scores']))}")
    return results
