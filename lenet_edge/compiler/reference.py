"""Pure-numpy reference interpreter of the IR. It mirrors the generated C operation by operation,
and the tests check it against ONNX Runtime bit for bit, so its outputs serve as golden vectors
(the compiler may not import onnxruntime). Each op's semantics is its `reference` method (ops/).

Also makes the deterministic synthetic digit-like images used when no golden images are given.
"""
from __future__ import annotations

import numpy as np

from lenet_edge.compiler import ir


def run(graph: ir.Graph, images: np.ndarray, int_requant: bool = False) -> dict[str, np.ndarray]:
    """uint8 images [N,28,28] or [N,1,28,28] -> {ONNX tensor name: batch array} for every layer
    (int8 maps [N,C,H,W] / [N,K], int32 scores [N,10], int64 label [N])."""
    x = np.ascontiguousarray(images, dtype=np.uint8).reshape(-1, 1, 28, 28)
    out: dict[str, np.ndarray] = {}
    for layer in graph.layers:
        x = layer.reference(x, int_requant)
        out[layer.tensor] = x
    return out


def synthetic_digits(n: int = 10, seed: int = 0) -> np.ndarray:
    """n deterministic 28x28 uint8 'digits': a few thick anti-aliased strokes (line segments and
    ellipse arcs) inside the central 20x20 box, ink 255 on background 0."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float64)
    images = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        ink = np.zeros((28, 28))
        for _ in range(int(rng.integers(2, 5))):
            width = rng.uniform(1.2, 2.2)
            if rng.random() < 0.5:   # line segment
                p0, p1 = rng.uniform(5, 23, 2), rng.uniform(5, 23, 2)
                d = p1 - p0
                t = np.clip(((yy - p0[0]) * d[0] + (xx - p0[1]) * d[1]) / max(d @ d, 1e-9), 0, 1)
                dist = np.hypot(yy - (p0[0] + t * d[0]), xx - (p0[1] + t * d[1]))
            else:                     # ellipse arc
                cy, cx = rng.uniform(9, 19, 2)
                ry, rx = rng.uniform(3, 8, 2)
                a0 = rng.uniform(0, 2 * np.pi)
                span = rng.uniform(np.pi, 2 * np.pi)
                ang = np.mod(np.arctan2((yy - cy) / ry, (xx - cx) / rx) - a0, 2 * np.pi)
                rad = np.hypot((yy - cy) / ry, (xx - cx) / rx)
                dist = np.abs(rad - 1) * min(ry, rx) + np.where(ang <= span, 0, 99)
            ink = np.maximum(ink, np.clip(width - dist + 0.5, 0, 1))
        images[i] = np.round(ink * 255).astype(np.uint8)
    return images
