"""The op units: one module per op kind, each holding everything about the op (ONNX recognition,
IR node and checks, constant packing, MAC accounting, numpy reference, the C call it emits; its
kernels are kernels/ref/<name>.c and kernels/opt/<name>.c). Adding an op: a new module here, listed
in OPS, plus its kernel in both sets and its tests (docs/compiler.md)."""
from __future__ import annotations

from lenet_edge.compiler.ops.arg import Arg
from lenet_edge.compiler.ops.conv import Conv
from lenet_edge.compiler.ops.conv_subsample import ConvMaxPool, ConvSubsample, ImageConvSubsample
from lenet_edge.compiler.ops.dense import Dense
from lenet_edge.compiler.ops.flatten import Flatten
from lenet_edge.compiler.ops.maxpool import MaxPool
from lenet_edge.compiler.ops.pad import Pad
from lenet_edge.compiler.ops.rbf import Rbf
from lenet_edge.compiler.ops.table import InputTable, Table

OPS = (InputTable, Table, Pad, Conv, MaxPool, Flatten, Rbf, Dense, Arg,
       ConvSubsample, ConvMaxPool, ImageConvSubsample)   # the last three: made by fuse.py
REGISTRY = {op.kind: op for op in OPS}


def recognisers(onnx_op: str) -> list:
    """The ops whose pattern may start at an ONNX node of this type, in registry order."""
    return [op for op in OPS if onnx_op in op.onnx_ops]
