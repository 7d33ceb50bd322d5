"""Shared parts of the pooling units: the quantized pools' fields (QPool), the geometry
(le_pool_shape_t) and the attribute checks."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler.ir import GraphOp, layout_strides


@dataclass
class QPool(GraphOp):
    """A com.microsoft QLinear*AveragePool, NCHW or NHWC (channels_last=1)."""
    x_scale: np.float32 = np.float32(1)
    x_zp: int = 0
    y_scale: np.float32 = np.float32(1)
    y_zp: int = 0
    dtype: str = "int8"
    kernel = "le_pool_generic_x8"

    @property
    def channels_last(self):
        return bool(self.attrs.get("channels_last", 0))


def pool_geometry(attrs, in_shape, out_shape, channels_last) -> str:
    (xc, xy, xx), (c, h, w) = layout_strides(in_shape, channels_last)
    (yc, yy, yx), (_, oh, ow) = layout_strides(out_shape, channels_last)
    kh, kw = attrs["kernel_shape"]
    sh, sw = attrs.get("strides", (1, 1))
    pads = attrs.get("pads", (0, 0, 0, 0))
    cip = int(attrs.get("count_include_pad", 0))
    return (f"{{{c}, {h}, {w}, {kh}, {kw}, {sh}, {sw}, {pads[0]}, {pads[1]}, {oh}, {ow}, {cip}, "
            f"{xc}, {xy}, {xx}, {yc}, {yy}, {yx}}}")


def check_pool_attrs(unit) -> None:
    a = unit.attrs
    if len(a.get("kernel_shape", ())) != 2:
        raise unit.fail("only 2-D pooling is supported")
    if a.get("ceil_mode", 0):
        raise unit.fail("ceil_mode=1 is not supported")
    if any(d != 1 for d in a.get("dilations", (1, 1))):
        raise unit.fail("dilated pooling is not supported")
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        raise unit.fail(f"auto_pad={a['auto_pad']!r} is not supported")
