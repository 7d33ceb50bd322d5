"""QLinearConv (ai.onnx, or ORT's com.microsoft NHWC variant with channels_last=1): any group count,
pads, strides, dilations; per-tensor or per-channel weights (docs/ort-int8-ops.md section 3)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lenet_edge.compiler import ortmath as om
from lenet_edge.compiler.ir import SUFFIX, GraphOp, Packed, bits_array, const, layout_strides


@dataclass
class QConv(GraphOp):
    x_scale: np.float32 = np.float32(1)
    x_zp: int = 0
    weight: np.ndarray = field(default=None, repr=False)     # [M, C/group, KH, KW] int8
    w_scale: np.ndarray = field(default=None, repr=False)    # [M] or scalar
    w_zp: np.ndarray = field(default=None, repr=False)
    y_scale: np.float32 = np.float32(1)
    y_zp: int = 0
    bias: np.ndarray = field(default=None, repr=False)
    dtype: str = "int8"
    onnx_ops = ("QLinearConv",)
    kernel = "le_qconv_generic_x8"

    @property
    def channels_last(self) -> bool:
        return bool(self.attrs.get("channels_last", 0))

    @property
    def pads(self):
        return tuple(self.attrs.get("pads", (0, 0, 0, 0)))

    def _geometry(self):
        a = self.attrs
        return (tuple(a.get("strides", (1, 1))), self.pads, tuple(a.get("dilations", (1, 1))), int(a.get("group", 1)))

    def evaluate(self, xs, int_requant=False):
        x = xs[0]
        cl = self.channels_last
        x = x.transpose(0, 3, 1, 2) if cl else x
        strides, pads, dil, group = self._geometry()
        y = om.qlinear_conv(x, self.x_scale, self.x_zp, self.weight, self.w_scale, self.w_zp, self.y_scale,
                            self.y_zp, self.bias, strides, pads, dil, group, dtype=self.dtype)
        return [np.ascontiguousarray(y.transpose(0, 2, 3, 1)) if cl else y]

    def _per_channel(self):
        m = self.weight.shape[0]
        mult = np.broadcast_to(om.output_multiplier(self.x_scale, self.w_scale, self.y_scale).reshape(-1), (m,))
        zw = np.broadcast_to(np.asarray(self.w_zp, np.int32).reshape(-1), (m,))
        bias = np.zeros(m, np.int32) if self.bias is None else np.asarray(self.bias, np.int32)
        return mult, zw, bias

    def pack(self) -> Packed:
        mult, zw, bias = self._per_channel()
        return Packed((const("w", "int8_t", self.weight.reshape(-1), f"weights {list(self.weight.shape)} OIHW"),
                const("zw", "int32_t", np.ascontiguousarray(zw), "weight zero point per output channel"),
                const("bias", "int32_t", bias, "int32 bias per output channel"),
                const("mult", "uint32_t", bits_array(mult), "float32 bits of fl(fl(sx*sw[m])/sy)"),))

    def macs(self, shape):
        y = shape[self.outputs[0]]
        m, cg, kh, kw = self.weight.shape
        return int(np.prod(y[1:])) * cg * kh * kw

    def call(self, packed, ctx):
        x, y = self.inputs[0], self.outputs[0]
        cl = self.channels_last
        (xc, xy, xx), (c, h, w) = layout_strides(ctx.shape[x], cl)
        (yc, yy, yx), (m, oh, ow) = layout_strides(ctx.shape[y], cl)
        strides, pads, dil, group = self._geometry()
        kh, kw = self.weight.shape[2:]
        geom = (f"{{{c}, {h}, {w}, {m}, {group}, {kh}, {kw}, {strides[0]}, {strides[1]}, {dil[0]}, {dil[1]}, "
                f"{pads[0]}, {pads[1]}, {oh}, {ow}, {xc}, {xy}, {xx}, {yc}, {yy}, {yx}}}")
        return (f"{{ static const le_conv_shape_t s = {geom};\n"
                f"      le_qconv_generic_{SUFFIX[self.dtype]}({ctx.buf[x]}, {self.x_zp}, {ctx.sym('w')}, "
                f"{ctx.sym('zw')}, {ctx.sym('bias')}, {ctx.sym('mult')}, {self.y_zp}, &s, {ctx.buf[y]}); }}")
