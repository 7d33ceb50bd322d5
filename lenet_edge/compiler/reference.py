"""Pure-numpy reference interpreter of the IR. It mirrors the generated C operation by operation,
and the tests check it against ONNX Runtime bit for bit, so its outputs serve as golden vectors
(the compiler may not import onnxruntime).

Also makes the deterministic synthetic digit-like images used when no golden images are given.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lenet_edge.compiler import ir, requant


def run(graph: ir.Graph, images: np.ndarray, int_requant: bool = False) -> dict[str, np.ndarray]:
    """uint8 images [N,28,28] or [N,1,28,28] -> {ONNX tensor name: batch array} for every layer
    (int8 maps [N,C,H,W] / [N,K], int32 scores [N,10], int64 label [N])."""
    x = np.ascontiguousarray(images, dtype=np.uint8).reshape(-1, 1, 28, 28)
    out: dict[str, np.ndarray] = {}
    for layer in graph.layers:
        x = _layer(layer, x, int_requant)
        out[layer.tensor] = x
    return out


def _layer(layer: ir.Layer, x: np.ndarray, int_requant: bool) -> np.ndarray:
    if isinstance(layer, (ir.InputTable, ir.Table)):
        return layer.table[x.view(np.uint8)]               # index by the raw byte
    if isinstance(layer, ir.Pad):
        t, l, b, r = layer.pads
        return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=np.int8(layer.value))
    if isinstance(layer, ir.Conv):
        return _conv(layer, x, int_requant)
    if isinstance(layer, ir.MaxPool):
        s = layer.stride
        win = sliding_window_view(x, (layer.kernel, layer.kernel), axis=(2, 3))[:, :, ::s, ::s]
        return win.max(axis=(4, 5))
    if isinstance(layer, ir.Flatten):
        return x.reshape(x.shape[0], -1)
    if isinstance(layer, ir.Rbf):
        d = x.astype(np.int32)[:, None, :] - layer.centres[None]
        return (d * d).sum(axis=2, dtype=np.int32)
    if isinstance(layer, ir.Dense):
        acc = (x.astype(np.int64) - layer.a_zp) @ layer.weight.astype(np.int64) + layer.bias
        return acc.astype(np.int32)
    if isinstance(layer, ir.Arg):
        return (np.argmin(x, axis=1) if layer.mode == "min" else np.argmax(x, axis=1)).astype(np.int64)
    raise TypeError(type(layer).__name__)


def _conv(layer: ir.Conv, x: np.ndarray, int_requant: bool) -> np.ndarray:
    k, s = layer.kernel, layer.stride
    xs = x.astype(np.int64) - layer.x_zp
    win = sliding_window_view(xs, (k, k), axis=(2, 3))[:, :, ::s, ::s]   # [N,C,OH,OW,k,k]
    w = layer.weight.astype(np.int64)
    if layer.group == 1:
        acc = np.einsum("nchwij,ocij->nohw", win, w)
    else:  # depthwise: output channel o reads input channel o // (C_out / C_in)
        src = np.arange(layer.out_shape[0]) // (layer.out_shape[0] // layer.in_shape[0])
        acc = np.einsum("nohwij,oij->nohw", win[:, src], w[:, 0])
    acc = acc + layer.bias.astype(np.int64)[None, :, None, None]
    rq = requant.conv_requant(layer)
    acc_c = np.moveaxis(acc, 1, -1)                        # channel last, to broadcast M[c]
    if int_requant:
        fast = rq.fast_a != 0       # the C: fast constants per channel, else the §3b replay
        q = np.where(fast, requant.requant_fast(acc_c, rq.fast_a, rq.fast_r, rq.fast_sh, layer.y_zp),
                     requant.requant_int(acc_c, rq.mant, rq.shift, layer.y_zp, wide=rq.wide))
    else:
        q = requant.requant_float(acc_c, rq.multiplier, layer.y_zp)
    return np.ascontiguousarray(np.moveaxis(q, -1, 1))


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
