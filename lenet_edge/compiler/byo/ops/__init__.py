"""The op units of `lenet-edge compile`, one module per op kind of the graph ORT runs after its
optimizations (docs/ort-int8-ops.md table 1). REGISTRY maps an ONNX op type to its unit class."""
from __future__ import annotations

from lenet_edge.compiler.byo.ops.avgpool_f32 import AvgPoolF32
from lenet_edge.compiler.byo.ops.concat import QConcat
from lenet_edge.compiler.byo.ops.layout import Reshape, Transpose
from lenet_edge.compiler.byo.ops.maxpool import MaxPool
from lenet_edge.compiler.byo.ops.pad import Pad
from lenet_edge.compiler.byo.ops.qadd import QAdd
from lenet_edge.compiler.byo.ops.qavgpool import QAvgPool
from lenet_edge.compiler.byo.ops.qconv import QConv
from lenet_edge.compiler.byo.ops.qgavgpool import QGlobalAvgPool
from lenet_edge.compiler.byo.ops.qgemm import QGemm
from lenet_edge.compiler.byo.ops.qmul import QMul
from lenet_edge.compiler.byo.ops.qsoftmax import QSoftmax
from lenet_edge.compiler.byo.ops.quantize import Quantize
from lenet_edge.compiler.byo.ops.table import FTable, Table

UNITS = (Quantize, Table, FTable, QConv, QGemm, MaxPool, QAvgPool, QGlobalAvgPool, AvgPoolF32, QAdd, QMul,
         QConcat, QSoftmax, Transpose, Reshape, Pad)
REGISTRY = {op: u for u in UNITS for op in getattr(u, "onnx_ops", ())}
