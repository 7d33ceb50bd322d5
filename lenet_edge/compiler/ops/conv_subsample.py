"""Fused op (made by fuse.py, never read from ONNX directly): conv -> table -> subsampling -> table,
where the subsampling is the paper's trainable 2x2 stride-2 depthwise conv (one coefficient set per
channel). The kernel computes the four conv outputs under each subsampled output in registers and
writes only the subsampled map, so the conv's full output (C1: 6x28x28, C3: 16x10x10) never
exists and the two table passes disappear. Arithmetic is unchanged: every stage is the same exact
integer sum and the same requant of its own op (docs/int8-arithmetic.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lenet_edge.compiler.ir import IO, CArray, Call, Layer, Packed
from lenet_edge.compiler.ops.conv import Conv
from lenet_edge.compiler.ops.table import Table


@dataclass(frozen=True, eq=False)
class ConvSubsample(Layer):
    conv: Conv = field(default=None, repr=False)          # k x k, stride 1
    table: Table = field(default=None, repr=False)        # after the conv
    sub: Conv = field(default=None, repr=False)           # depthwise 2x2 stride 2, C_out == C_in
    stable: Table = field(default=None, repr=False)       # after the subsampling
    kind = "conv_subsample"

    @staticmethod
    def matches(conv, table, sub, stable) -> bool:
        """The pattern fuse.py replaces (all four are consecutive layers)."""
        return (isinstance(conv, Conv) and type(table) is Table and isinstance(sub, Conv)
                and type(stable) is Table and conv.stride == 1
                and sub.kernel == 2 and sub.stride == 2 and sub.group == sub.in_shape[0] == sub.out_shape[0])

    @classmethod
    def of(cls, conv, table, sub, stable) -> "ConvSubsample":
        return cls(node=stable.node, tensor=stable.tensor, in_shape=conv.in_shape, out_shape=stable.out_shape,
                   conv=conv, table=table, sub=sub, stable=stable)

    def check(self) -> None:
        for part in (self.conv, self.table, self.sub, self.stable):
            part.check()

    def pack(self) -> Packed:
        conv = self.conv.pack(force_sparse=True)
        c, oh, ow = self.out_shape
        n_kernels = conv.arrays[0].count // (self.conv.kernel ** 2)
        sub_arrays = tuple(CArray("s" + a.suffix, a.ctype, a.values, a.kind, f"subsampling {self.sub.node}: "
                                  + (f"[{c}][2][2] int8, one 2x2 kernel per channel" if a.suffix == "w" else a.comment),
                                  a.variant)
                           for a in self.sub.pack(force_sparse=True).arrays
                           if a.suffix not in ("kstart", "in_off"))
        arrays = (*conv.arrays,
                  CArray("table", "int8_t", self.table.table, "table",
                         f"[256] int8 after {self.conv.node}, indexed by the raw byte of its code"),
                  *sub_arrays,
                  CArray("stable", "int8_t", self.stable.table, "table",
                         f"[256] int8 after {self.sub.node}, indexed by the raw byte of its code"))
        k = self.conv.kernel
        macs = n_kernels * k * k * (2 * oh) * (2 * ow) + 4 * c * oh * ow
        stages = [{"node": part.node, "acc_bound": part.rq.acc_bound, "requant_wide": part.rq.wide}
                  for part in (self.conv, self.sub)]
        manifest = {"fused": [p.node for p in (self.conv, self.table, self.sub, self.stable)],
                    "fused_tensors": [p.tensor for p in (self.conv, self.table, self.sub)],   # never stored
                    "acc_bound": max(s["acc_bound"] for s in stages),
                    "requant_wide": any(s["requant_wide"] for s in stages), "stages": stages}
        return Packed(arrays, macs, "sparse", manifest)

    def reference(self, x, int_requant):
        for part in (self.conv, self.table, self.sub, self.stable):
            x = part.reference(x, int_requant)
        return x

    def call(self, packed: Packed, io: IO) -> Call:
        c, oh, ow = self.out_shape
        wide = lambda conv: "1" if conv.rq.wide else "0"     # noqa: E731
        return Call("le_conv_subsample_s8", (
            io.src, str(self.in_shape[2]), str(self.conv.kernel), io.sym("w"), io.sym("kstart"), io.sym("in_off"),
            io.sym("bias"), io.sym("rq"), str(self.conv.y_zp), wide(self.conv), io.sym("table"),
            io.sym("sw"), io.sym("sbias"), io.sym("srq"), str(self.sub.y_zp), wide(self.sub), io.sym("stable"),
            io.dst, str(c), str(oh), str(ow)))
