"""Verification inputs: named, seeded families of raw 28x28 images beyond the test digits.

Every family is a pure function of a fixed seed (and, for the families derived from digits, of the
test images passed in), so two runs of `lenet-edge verify` feed the C and ONNX Runtime the same
bytes. Each image is uint8 [28, 28], 0 = background, 255 = ink, like MNIST.

The families aim at the corners of the int8 arithmetic, where a C port is most likely to differ
from ORT: constant images (every pixel code, incl. all-0 and all-255), saturated and sparse inputs
(large accumulators, clamping at -128/127), periodic patterns (every kernel offset and stride
phase), single hot pixels (each input position seen alone by every kernel tap), plus noise and
distorted digits (typical values). Default sizes give 11,132 images; `limit` caps each family
(tests use small caps, the CLI none).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

SIDE = 28
SEED = 5_1998  # fixed: the verification set must not change between runs

HOT_PIXEL_VALUES = (255, 128, 1)  # on black; plus a black pixel on white (value 0 on 255)
CHECKER_PERIODS = (1, 2, 3, 4, 5, 7, 14)  # cell size in pixels


@dataclass(frozen=True)
class Family:
    name: str          # short id used in reports, e.g. "hot-pixel"
    description: str   # one line for docs and the text report
    images: np.ndarray  # uint8 [N, 28, 28]


def constant() -> np.ndarray:
    """[256, 28, 28]: one image per byte value; index 0 is all-0, index 255 all-255."""
    return np.repeat(np.arange(256, dtype=np.uint8), SIDE * SIDE).reshape(256, SIDE, SIDE)


def checkerboards() -> np.ndarray:
    """Every period in CHECKER_PERIODS x every (row, col) phase in 0..2p-1 (capped at 4 each) x two
    polarities (ink on black, black on ink). [N, 28, 28] with cells of 0 and 255."""
    rows, cols = np.mgrid[0:SIDE, 0:SIDE]
    out = []
    for p in CHECKER_PERIODS:
        phases = range(min(2 * p, 4))
        for dy in phases:
            for dx in phases:
                board = (((rows + dy) // p + (cols + dx) // p) % 2).astype(np.uint8) * 255
                out += [board, 255 - board]
    return np.stack(out)


def stripes() -> np.ndarray:
    """Horizontal and vertical bars of widths 1..4 at every phase: [N, 28, 28] of 0/255."""
    idx = np.arange(SIDE)
    out = []
    for w in (1, 2, 3, 4):
        for phase in range(2 * w):
            line = (((idx + phase) // w) % 2).astype(np.uint8) * 255
            out += [np.repeat(line[:, None], SIDE, 1), np.repeat(line[None, :], SIDE, 0)]
    return np.stack(out)


def hot_pixels() -> np.ndarray:
    """One lit pixel at each of the 784 positions for each value in HOT_PIXEL_VALUES on black, then
    one black pixel at each position on an all-255 image: [4 * 784, 28, 28]."""
    n = SIDE * SIDE
    out = []
    for value, background in [(v, 0) for v in HOT_PIXEL_VALUES] + [(0, 255)]:
        flat = np.full((n, n), background, dtype=np.uint8)
        flat[np.arange(n), np.arange(n)] = value
        out.append(flat.reshape(n, SIDE, SIDE))
    return np.concatenate(out)


def uniform_noise(rng: np.random.Generator, n: int = 2000) -> np.ndarray:
    """Independent uniform bytes 0..255 per pixel."""
    return rng.integers(0, 256, size=(n, SIDE, SIDE), dtype=np.uint8)


def salt(rng: np.random.Generator, n: int = 1000) -> np.ndarray:
    """Sparse random pixels: 1-10 % of positions set to a random byte, the rest 0."""
    density = rng.uniform(0.01, 0.10, size=(n, 1, 1))
    mask = rng.random((n, SIDE, SIDE)) < density
    return np.where(mask, rng.integers(1, 256, size=(n, SIDE, SIDE)), 0).astype(np.uint8)


def strokes(rng: np.random.Generator, n: int = 1500) -> np.ndarray:
    """1-4 random straight strokes, 1-3 px thick, ink 128-255, anti-aliased edges: pen-like inputs
    that are not digits."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    out = np.zeros((n, SIDE, SIDE), dtype=np.float64)
    for i in range(n):
        for _ in range(rng.integers(1, 5)):
            (y0, x0), (y1, x1) = rng.uniform(0, SIDE - 1, size=(2, 2))
            half = rng.uniform(0.5, 1.5)
            ink = rng.uniform(128, 255)
            dy, dx = y1 - y0, x1 - x0
            t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / max(dy * dy + dx * dx, 1e-9), 0, 1)
            dist = np.hypot(yy - (y0 + t * dy), xx - (x0 + t * dx))
            out[i] = np.maximum(out[i], ink * np.clip(half + 0.5 - dist, 0, 1))
    return np.rint(out).astype(np.uint8)


def blobs(rng: np.random.Generator, n: int = 1000) -> np.ndarray:
    """1-3 Gaussian blobs with peak 2-8x full scale, clipped to 255: large saturated ink areas."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    out = np.zeros((n, SIDE, SIDE), dtype=np.float64)
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(0, SIDE - 1, size=2)
            sigma = rng.uniform(1.5, 7.0)
            peak = rng.uniform(2, 8) * 255
            out[i] += peak * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma * sigma))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def inverted_digits(digits: np.ndarray, rng: np.random.Generator, n: int = 1000) -> np.ndarray:
    """255 - digit for n digits picked without replacement: mostly-ink images."""
    pick = rng.choice(len(digits), size=min(n, len(digits)), replace=False)
    return (255 - digits[pick]).astype(np.uint8)


def shifted_digits(digits: np.ndarray, rng: np.random.Generator, n: int = 1000) -> np.ndarray:
    """Digits rolled by -6..6 px in each direction (wrapping) and mixed with +-40 noise, clipped:
    digit-like inputs off the training distribution."""
    pick = rng.choice(len(digits), size=min(n, len(digits)), replace=False)
    out = np.empty((len(pick), SIDE, SIDE), dtype=np.uint8)
    for k, j in enumerate(pick):
        dy, dx = rng.integers(-6, 7, size=2)
        noisy = np.roll(digits[j], (dy, dx), axis=(0, 1)).astype(np.int16)
        noisy += rng.integers(-40, 41, size=(SIDE, SIDE), dtype=np.int16)
        out[k] = np.clip(noisy, 0, 255)
    return out


def verification_families(digits: np.ndarray, limit: int | None = None) -> list[Family]:
    """All synthetic families, each capped at `limit` images (None = full size, the CLI default).

    `digits` uint8 [N, 28, 28] (the test images) seeds the digit-derived families. Each family has
    its own generator stream (SeedSequence.spawn), so capping one family does not change another."""
    digits = np.asarray(digits, dtype=np.uint8).reshape(-1, SIDE, SIDE)
    rngs = iter(np.random.default_rng(s) for s in np.random.SeedSequence(SEED).spawn(8))
    small = (lambda k: k) if limit is None else (lambda k: min(k, limit))
    specs: list[tuple[str, str, Callable[[], np.ndarray]]] = [
        ("constant", "every byte value 0..255 on the whole image (incl. all-0, all-255)", constant),
        ("checkerboard", f"0/255 checkerboards, periods {CHECKER_PERIODS}, several phases, both polarities",
         checkerboards),
        ("stripes", "0/255 horizontal and vertical bars, widths 1-4, every phase", stripes),
        ("hot-pixel", "one pixel of 255/128/1 on black, or 0 on white, at each of the 784 positions",
         hot_pixels),
        ("uniform", "uniform random bytes", lambda r=next(rngs): uniform_noise(r, small(2000))),
        ("salt", "1-10 % random pixels of random value on black", lambda r=next(rngs): salt(r, small(1000))),
        ("strokes", "1-4 random anti-aliased straight strokes", lambda r=next(rngs): strokes(r, small(1500))),
        ("blobs", "saturated Gaussian ink blobs", lambda r=next(rngs): blobs(r, small(1000))),
        ("inverted-digits", "255 - test digit", lambda r=next(rngs): inverted_digits(digits, r, small(1000))),
        ("shifted-digits", "test digits rolled by up to 6 px plus +-40 noise",
         lambda r=next(rngs): shifted_digits(digits, r, small(1000))),
    ]
    families = []
    for name, description, make in specs:
        images = make()
        if limit is not None and len(images) > limit:
            # deterministic even spread over the family rather than its first rows
            images = images[np.linspace(0, len(images) - 1, limit).round().astype(int)]
        families.append(Family(name, description, np.ascontiguousarray(images, dtype=np.uint8)))
    return families
