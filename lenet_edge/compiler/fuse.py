"""Fusion pass on the IR (after verify, before memory): rewrites runs of layers into one fused op
unit when its `matches` says the pattern is there. Fused ops keep the ONNX names of their last
node and tensor; their parts keep all of their own numbers.

    conv -> table -> 2x2/2 depthwise conv -> table   =>   ConvSubsample        (ops/conv_subsample.py)
    conv -> 2x2/2 MaxPool                            =>   ConvMaxPool          (the same module)
    input table -> [pad] -> ConvSubsample (1 channel) =>   ImageConvSubsample   (the same module)
"""
from __future__ import annotations

from dataclasses import replace

from lenet_edge.compiler import ir
from lenet_edge.compiler.ops.conv_subsample import ConvMaxPool, ConvSubsample, ImageConvSubsample

# (op, window widths) in order: each op's .matches(*parts) / .of(*parts) over consecutive layers;
# later passes see the results of earlier ones
FUSIONS = ((ConvSubsample, (4,)), (ConvMaxPool, (2,)), (ImageConvSubsample, (3, 2)))


def fuse(graph: ir.Graph) -> ir.Graph:
    layers = list(graph.ops)
    for op, widths in FUSIONS:
        out: list[ir.Layer] = []
        i = 0
        while i < len(layers):
            for width in widths:
                window = layers[i:i + width]
                if len(window) == width and op.matches(*window):
                    out.append(replace(op.of(*window), source=window[0].source))
                    i += width
                    break
            else:
                out.append(layers[i])
                i += 1
        layers = out
    return replace(graph, ops=tuple(layers))
