"""Fusion pass on the IR (after verify, before memory): rewrites runs of layers into one fused op
unit when its `matches` says the pattern is there. Fused ops keep the ONNX names of their last
node and tensor; their parts keep all of their own numbers.

    conv -> table -> 2x2/2 depthwise conv -> table   =>   ConvSubsample   (ops/conv_subsample.py)
"""
from __future__ import annotations

from dataclasses import replace

from lenet_edge.compiler import ir
from lenet_edge.compiler.ops.conv_subsample import ConvSubsample

FUSIONS = (ConvSubsample,)      # each: .matches(*parts) and .of(*parts) over 4 consecutive layers
WIDTH = 4


def fuse(graph: ir.Graph) -> ir.Graph:
    layers = list(graph.layers)
    out: list[ir.Layer] = []
    i = 0
    while i < len(layers):
        window = layers[i:i + WIDTH]
        fused = next((f.of(*window) for f in FUSIONS if len(window) == WIDTH and f.matches(*window)), None)
        if fused is not None:
            out.append(fused)
            i += WIDTH
        else:
            out.append(layers[i])
            i += 1
    return replace(graph, layers=tuple(out))
