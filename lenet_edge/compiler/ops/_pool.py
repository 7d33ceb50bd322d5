"""Shared geometry of the pooling units (le_pool_shape_t)."""
from __future__ import annotations

from lenet_edge.compiler.ir import layout_strides


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
