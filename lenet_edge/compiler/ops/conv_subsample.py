"""Fused op (made by fuse.py, never read from ONNX directly): conv -> table -> subsampling -> table,
where the subsampling is the paper's trainable 2x2 stride-2 depthwise conv (one coefficient set per
channel). The kernel computes the four conv outputs under each subsampled output in registers and
writes only the subsampled map, so the conv's full output (C1: 6x28x28, C3: 16x10x10) never
exists and the two table passes disappear. Arithmetic is unchanged: every stage is the same exact
integer sum and the same requant of its own op (docs/int8-arithmetic.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from lenet_edge.compiler.ir import CArray, Call, Ctx, Layer, Packed
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

    @property
    def scratch_bytes(self) -> int:
        """k = 5: the opt kernel's prepared input windows, per input map the larger of the ARMv7E-M
        split ([6 rows][4] int32, 96 B) and the Cortex-M3 X words ([5 rows][5] int32, 100 B), plus 3
        bytes to align the start in the int8 arena (kernels/opt/le_conv_subsample_row.h).
        C3: 6 x 100 + 3 = 603 B. Other k, or more than 256 input maps (LE_CS_MAX_IN in
        kernels/opt/le_conv_subsample_s8.c; the kernel then takes its map-by-map path): none."""
        return self.in_shape[0] * 100 + 3 if self.conv.kernel == 5 and self.in_shape[0] <= 256 else 0

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
        kstep = self._kstep(conv)
        if kstep is not None:
            arrays = (*arrays, kstep)
        macs = n_kernels * k * k * (2 * oh) * (2 * ow) + 4 * c * oh * ow
        stages = [{"node": part.node, "acc_bound": part.rq.acc_bound, "requant_wide": part.rq.wide}
                  for part in (self.conv, self.sub)]
        manifest = {"fused": [p.node for p in (self.conv, self.table, self.sub, self.stable)],
                    "fused_tensors": [p.tensor for p in (self.conv, self.table, self.sub)],   # never stored
                    "acc_bound": max(s["acc_bound"] for s in stages),
                    "requant_wide": any(s["requant_wide"] for s in stages), "stages": stages,
                    **({"scratch_bytes": self.scratch_bytes} if self.scratch_bytes else {})}
        return Packed(arrays, macs, "sparse", manifest)

    # One input map's split window in the opt kernel's scratch (le_cs_split6 in
    # kernels/opt/le_conv_subsample_row.h): [6 rows][4] int32 = 96 B, LE_CS_SPLIT words.
    SPLIT_BYTES = 96

    def _kstep(self, conv: Packed) -> CArray | None:
        """k = 5 (the window path): per stored kernel, in kernel order, the move of the Cortex-M4
        kernel loop's split-window pointer (le_cs_kernels5s): it starts each window at the scratch's
        start, and each kernel's 6 LDMs leave it SPLIT_BYTES after that kernel's map, so kernel j
        reading map c_j moves it by 96 c_j - (96 c_{j-1} + 96) (j > 0; kernel 0: 96 c_0), a
        multiple of 4 in [-24,672, 24,480]. Bit 0 is set on the last kernel of each output map:
        the loop ends there (ASRS puts it in the carry). None when an output map has no kernel
        (the loop does at least one; the kernel then takes its map-by-map path) or the layer has
        no window path (k != 5, more than 256 input maps)."""
        if not self.scratch_bytes:      # no window path
            return None
        plane = self.in_shape[1] * self.in_shape[2]
        kstart = next(a for a in conv.arrays if a.suffix == "kstart").values.astype(int)
        in_off = next(a for a in conv.arrays if a.suffix == "in_off").values.astype(int)
        if np.any(np.diff(kstart) == 0):
            return None
        pos = self.SPLIT_BYTES * (in_off // plane)                  # each kernel's map in the scratch
        prev_end = np.concatenate(([0], pos[:-1] + self.SPLIT_BYTES))
        steps = pos - prev_end
        steps[kstart[1:] - 1] |= 1                                  # last kernel of each output map
        return CArray("kstep", "int16_t", steps.astype(np.int16), "index",
                      f"[{len(steps)}] int16: per stored kernel, the opt kernel's split-window pointer "
                      "move (bytes, a multiple of 4) to that kernel's input map; bit 0: last kernel "
                      "of its output map", instead_of="in_off")   # M4/M7 read kstep, other cores in_off

    def reference(self, x, int_requant):
        for part in (self.conv, self.table, self.sub, self.stable):
            x = part.reference(x, int_requant)
        return x

    def call(self, packed: Packed, io: Ctx) -> Call:
        c, oh, ow = self.out_shape
        wide = lambda conv: "1" if conv.rq.wide else "0"     # noqa: E731
        return Call("le_conv_subsample_s8", (
            io.src, str(self.in_shape[0]), str(self.in_shape[1]), str(self.in_shape[2]), str(self.conv.kernel), io.sym("w"), io.sym("kstart"), io.sym("in_off"),
            io.symbols.get("kstep", "0"),
            io.sym("bias"), io.sym("rq"), str(self.conv.y_zp), wide(self.conv), io.sym("table"),
            io.sym("sw"), io.sym("sbias"), io.sym("srq"), str(self.sub.y_zp), wide(self.sub), io.sym("stable"),
            io.scratch, io.dst, str(c), str(oh), str(ow)))


def _by_signed_code(table: CArray) -> CArray:
    """A [256] table indexed by the raw byte of its int8 code, re-stored in the order of the code
    itself: entry code + 128 (code -128 first). le_conv_subsample_u8 then indexes it with the
    requant result as it comes out of the clamp, without the zero-extension to a byte (one
    instruction per conv output on Arm). Same bytes, reordered."""
    return replace(table, values=np.roll(table.values, 128),
                   comment=table.comment.replace("indexed by the raw byte of its code", "indexed by its code + 128"))


@dataclass(frozen=True, eq=False)
class ImageConvSubsample(Layer):
    """Fused op (fuse.py): input table -> [constant Pad] -> ConvSubsample with one input channel,
    reading the caller's uint8 image. The quantized and the padded image are never stored: the
    kernel applies the table and the border as it reads (the opt kernel keeps k + 1 padded rows in
    a scratch area of the arena)."""
    itable: Layer = field(default=None, repr=False)       # InputTable
    pad: Layer | None = field(default=None, repr=False)   # Pad, or None
    cs: ConvSubsample = field(default=None, repr=False)
    kind = "image_conv_subsample"
    in_dtype = "uint8"

    @staticmethod
    def matches(*parts) -> bool:
        if len(parts) == 3:
            itable, pad, cs = parts
            if type(pad).__name__ != "Pad":
                return False
        elif len(parts) == 2:
            itable, cs = parts
        else:
            return False
        return (type(itable).__name__ == "InputTable" and isinstance(cs, ConvSubsample)
                and cs.in_shape[0] == 1)

    @classmethod
    def of(cls, *parts) -> "ImageConvSubsample":
        itable, pad, cs = parts if len(parts) == 3 else (parts[0], None, parts[1])
        return cls(node=cs.node, tensor=cs.tensor, in_shape=itable.in_shape, out_shape=cs.out_shape,
                   itable=itable, pad=pad, cs=cs)

    @property
    def pads(self) -> tuple[int, int, int, int]:
        return self.pad.pads if self.pad is not None else (0, 0, 0, 0)

    @property
    def scratch_bytes(self) -> int:
        """The opt kernel's k + 1 padded input rows as int16, in blocks of 4 columns
        ([ceil(in_w / 4)][k + 1][4]), plus 3 bytes to align the start in the int8 arena (the top
        of kernels/opt/le_conv_subsample_u8.c); for k = 5 also the weights in the form the kernel
        reads, after the rows: the Cortex-M4F row block's 20 int16-pair words per channel (80 B x
        out_c, made once per call) or the Cortex-M3 path's [5][6] int32 column-pair weights of one
        channel (120 B, kept out of the stack frame), whichever is larger. C1: 8 x 6 x 4 x 2 +
        80 x 6 + 3 = 867 B."""
        in_w, k = self.cs.in_shape[2], self.cs.conv.kernel
        weights = 4 * max(30, 20 * self.out_shape[0]) if k == 5 else 0
        return 2 * ((in_w + 3) // 4) * 4 * (k + 1) + weights + 3

    def check(self) -> None:
        self.itable.check()
        self.cs.check()

    def pack(self) -> Packed:
        inner = self.cs.pack()
        itable = CArray("itable", "int8_t", self.itable.table, "table",
                        "[256] int8 input quantization, indexed by the raw pixel byte")
        parts = [self.itable.node] + ([self.pad.node] if self.pad is not None else [])
        fused_tensors = [self.itable.tensor] + ([self.pad.tensor] if self.pad is not None else [])
        manifest = {**inner.manifest, "fused": parts + inner.manifest["fused"],
                    "fused_tensors": fused_tensors + inner.manifest["fused_tensors"],
                    "scratch_bytes": self.scratch_bytes}
        # one input channel: every kernel reads input offset 0, so the kernel takes no in_off list
        # (nor C3's kstep, the window path's pointer moves)
        arrays = tuple(_by_signed_code(a) if a.suffix in ("table", "stable") else a
                       for a in inner.arrays if a.suffix not in ("in_off", "kstep"))
        return Packed((itable, *arrays), inner.macs, inner.form, manifest)

    def reference(self, x, int_requant):
        for part in (self.itable, self.pad, self.cs):
            if part is not None:
                x = part.reference(x, int_requant)
        return x

    def call(self, packed: Packed, io: Ctx) -> Call:
        cs, conv = self.cs, self.cs.conv
        _, img_h, img_w = self.in_shape
        top, left, _, _ = self.pads
        value = self.pad.value if self.pad is not None else 0
        c, oh, ow = self.out_shape
        wide = lambda conv: "1" if conv.rq.wide else "0"     # noqa: E731
        return Call("le_conv_subsample_u8", (
            "image", str(img_h), str(img_w), io.sym("itable"), str(top), str(left), str(value), io.scratch,
            str(cs.in_shape[2]), str(conv.kernel), io.sym("w"), io.sym("kstart"),
            io.sym("bias"), io.sym("rq"), str(conv.y_zp), wide(conv), io.sym("table"),
            io.sym("sw"), io.sym("sbias"), io.sym("srq"), str(cs.sub.y_zp), wide(cs.sub), io.sym("stable"),
            io.dst, str(c), str(oh), str(ow)))


@dataclass(frozen=True, eq=False)
class ConvMaxPool(Layer):
    """Fused op (fuse.py): conv (stride 1) -> MaxPool 2x2 stride 2, the modern LeNet-5's C1/S2 and
    C3/S4 (the ReLU is the conv's requant clamp). The conv's full output never exists."""
    conv: Conv = field(default=None, repr=False)
    pool: Layer = field(default=None, repr=False)          # MaxPool
    kind = "conv_maxpool"

    @staticmethod
    def matches(conv, pool) -> bool:
        return (isinstance(conv, Conv) and type(pool).__name__ == "MaxPool" and conv.stride == 1
                and pool.kernel == 2 and pool.stride == 2)

    @classmethod
    def of(cls, conv, pool) -> "ConvMaxPool":
        return cls(node=pool.node, tensor=pool.tensor, in_shape=conv.in_shape, out_shape=pool.out_shape,
                   conv=conv, pool=pool)

    def check(self) -> None:
        self.conv.check()

    def pack(self) -> Packed:
        conv = self.conv.pack(force_sparse=True)
        c, oh, ow = self.out_shape
        n_kernels = conv.arrays[0].count // (self.conv.kernel ** 2)
        manifest = {"fused": [self.conv.node, self.pool.node], "fused_tensors": [self.conv.tensor],
                    "acc_bound": self.conv.rq.acc_bound, "requant_wide": self.conv.rq.wide,
                    "stages": [{"node": self.conv.node, "acc_bound": self.conv.rq.acc_bound,
                                "requant_wide": self.conv.rq.wide}]}
        return Packed(conv.arrays, n_kernels * self.conv.kernel ** 2 * (2 * oh) * (2 * ow), "sparse", manifest)

    def reference(self, x, int_requant):
        return self.pool.reference(self.conv.reference(x, int_requant), int_requant)

    def call(self, packed: Packed, io: Ctx) -> Call:
        c, oh, ow = self.out_shape
        conv = self.conv
        return Call("le_conv_maxpool_s8", (
            io.src, str(self.in_shape[2]), str(conv.kernel), io.sym("w"), io.sym("kstart"), io.sym("in_off"),
            io.sym("bias"), io.sym("rq"), str(conv.y_zp), "1" if conv.rq.wide else "0", io.dst,
            str(c), str(oh), str(ow)))
