"""The op units of both commands: one module per op kind, each holding everything about the op
(ONNX recognition, IR node and checks, constant packing, MAC accounting, numpy reference, the C
call it emits; its kernels are kernels/{ref,opt}/<name>.c, or kernels/byo/{ref,opt}/<name>.c for
the ops of ORT's optimized graph). All implement ir.Op. Adding an op: a new module here, listed
in OPS, plus its kernel in both sets and its tests (docs/compiler.md, "Adding an op").

    Layers (export --target c): the ops of the lenet-edge ONNX contract, recognised by their
        `recognise` in frontend.load_graph; the fused ones are made by fuse.py.
    GraphOps (compile): the ops of the graph ONNX Runtime runs after its optimizations
        (docs/ort-int8-ops.md table 1), built by frontend.parse.
"""
from __future__ import annotations

from lenet_edge.compiler.ir import Layer
from lenet_edge.compiler.ops.arg import Arg
from lenet_edge.compiler.ops.avgpool_f32 import AvgPoolF32
from lenet_edge.compiler.ops.conv import Conv
from lenet_edge.compiler.ops.conv_subsample import ConvMaxPool, ConvSubsample, ImageConvSubsample
from lenet_edge.compiler.ops.dense import Dense
from lenet_edge.compiler.ops.flatten import Flatten
from lenet_edge.compiler.ops.layout import Reshape, Transpose
from lenet_edge.compiler.ops.maxpool import MaxPool
from lenet_edge.compiler.ops.maxpool_x8 import MaxPoolX8
from lenet_edge.compiler.ops.pad import Pad
from lenet_edge.compiler.ops.pad_x8 import PadX8
from lenet_edge.compiler.ops.qadd import QAdd
from lenet_edge.compiler.ops.qavgpool import QAvgPool
from lenet_edge.compiler.ops.qconcat import QConcat
from lenet_edge.compiler.ops.qconv import QConv
from lenet_edge.compiler.ops.qgavgpool import QGlobalAvgPool
from lenet_edge.compiler.ops.qgemm import QGemm
from lenet_edge.compiler.ops.qmul import QMul
from lenet_edge.compiler.ops.qsoftmax import QSoftmax
from lenet_edge.compiler.ops.quantize import Quantize
from lenet_edge.compiler.ops.rbf import Rbf
from lenet_edge.compiler.ops.table import InputTable, Table
from lenet_edge.compiler.ops.table_x8 import FTable, TableX8

OPS = (InputTable, Table, Pad, Conv, MaxPool, Flatten, Rbf, Dense, Arg,
       ConvSubsample, ConvMaxPool, ImageConvSubsample,     # made by fuse.py
       Quantize, TableX8, FTable, QConv, QGemm, MaxPoolX8, QAvgPool, QGlobalAvgPool, AvgPoolF32, QAdd, QMul,
       QConcat, QSoftmax, Transpose, Reshape, PadX8)
REGISTRY = {op.kind: op for op in OPS}
assert len(REGISTRY) == len(OPS), "two ops share a kind"


def recognisers(onnx_op: str) -> list:
    """The Layers whose pattern may start at an ONNX node of this type, in registry order."""
    return [op for op in OPS if onnx_op in op.onnx_ops and issubclass(op, Layer)]
