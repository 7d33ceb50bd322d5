"""Memory layout: what each layer stores in flash (rodata) and where its activations live in RAM.

Rodata: per layer, the C arrays the kernels read, already in the layout the kernel walks
(all-zero conv kernels dropped, dense weights transposed, input-zero-point folded into the bias).
Arena: one static int8 buffer. Layers that change size write to the end of the arena opposite to
their input (a two-ended ping-pong), so the arena needs max over layers of in + out bytes (each
rounded up to 4 for alignment), never more than two separate ping-pong buffers; elementwise layers
(tables, flatten) work in place. For LeNet-5 the largest pair is S2 (4704 in + 1176 out). The uint8 image and the int32 scores are the caller's buffers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler import ir, requant
from lenet_edge.errors import LenetEdgeError

CTYPE_BYTES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4,
               "le_rq_t": 16}  # le_rq_t: integer path {int64 r, int32 a, int32 sh} (float path: uint32 bits)

# Stack of lenet5_predict (see `stack_estimate`): call depth 2, predict -> one le_* kernel (le_requant is
# a static inline leaf); no arrays on the stack. Per frame on Cortex-M: at most r4-r11 + lr pushed
# (36 B, 40 with 8-byte alignment) plus spilled scalars (measured at -O2: conv kernel
# 120-144 B, predict 80-88 B); tests/test_codegen.py measures the frames with
# arm-none-eabi-gcc -fstack-usage and checks they fit this budget.
STACK_FRAME_BUDGET = 192
STACK_DEPTH = 2


@dataclass(frozen=True, eq=False)
class CArray:
    """One const array in lenet5_weights.c."""
    suffix: str                 # symbol = lenet5_<layer id>_<suffix>
    ctype: str
    values: np.ndarray          # flat
    kind: str                   # weights | bias | requant | index | table
    comment: str                # shape and layout
    variant: str = ""           # "" (always) | "float" | "int" (requant path)

    @property
    def nbytes(self) -> int:
        return CTYPE_BYTES[self.ctype] * self.count

    @property
    def count(self) -> int:
        """C array length (le_rq_t values are [n, 3] rows of {r, a, sh})."""
        return int(self.values.shape[0])


@dataclass(frozen=True, eq=False)
class LayerPlan:
    layer: ir.Layer
    arrays: tuple[CArray, ...]
    in_offset: int | None       # arena offset of the input (None: the caller's image)
    out_offset: int | None      # arena offset of the output (None: the caller's scores / return value)
    rq: requant.Requant | None = None
    taps: int = 0               # multiply-accumulates per image actually executed
    form: str = ""              # conv storage: "dense" | "sparse" (see conv_arrays)

    def flash(self, path: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.arrays:
            if a.variant in ("", path):
                out[a.kind] = out.get(a.kind, 0) + a.nbytes
        return out


@dataclass(frozen=True, eq=False)
class Plan:
    layers: tuple[LayerPlan, ...]
    arena_bytes: int

    def flash_total(self, path: str) -> int:
        return sum(sum(lp.flash(path).values()) for lp in self.layers)


def _round4(n: int) -> int:
    return (n + 3) & ~3


def conv_arrays(layer: ir.Conv, rq: requant.Requant) -> tuple[tuple[CArray, ...], int, str]:
    """Pack a conv -> (arrays, MACs per image, form).

    "sparse": only non-zero (out, in) kernels are stored; kstart[o]..kstart[o+1] index them and
              in_off gives the input map each reads (masked C3 kernels, depthwise layers).
    "dense":  the full OIHW weight, no index arrays (group 1, chosen when it takes fewer bytes than
              the sparse form: a 1x1 layer pays 2 index bytes per 1-byte kernel)."""
    c_out, _, k, _ = layer.weight.shape
    c_in, h, w = layer.in_shape
    kernels, offsets, kstart = [], [], [0]
    for o in range(c_out):
        for local, ic in enumerate(layer.input_channels(o)):
            kern = layer.weight[o, local]
            if np.any(kern != 0):
                kernels.append(kern.reshape(-1))
                offsets.append(ic * h * w)
        kstart.append(len(kernels))
    n = len(kernels)
    out_px = layer.out_shape[1] * layer.out_shape[2]
    common = (
        CArray("bias", "int32_t", rq.bias_folded, "bias",
               f"[{c_out}] int32: B - x_zp*sum(w) (x_zp={layer.x_zp} folded in; no padding)"),
        CArray("rq", "uint32_t", rq.bits, "requant",
               f"[{c_out}] float32 bit patterns of M = fl(fl(x_scale*w_scale)/y_scale)", "float"),
        CArray("rq", "le_rq_t", np.stack([np.where(rq.fast_a != 0, rq.fast_r, rq.mant.astype(np.int64)),
                                          rq.fast_a, np.where(rq.fast_a != 0, rq.fast_sh, rq.shift)], axis=1),
               "requant", f"[{c_out}] {{r, a, sh}}: fast constants, or {{m, 0, e}} with M = m * 2^e exactly",
               "int"),
    )
    sparse_bytes = n * (k * k + 2) + 2 * (c_out + 1)
    if layer.group == 1 and sparse_bytes >= layer.weight.size:
        w_arr = CArray("w", "int8_t", layer.weight.reshape(-1).astype(np.int8), "weights",
                       f"[{c_out}][{c_in}][{k}][{k}] int8, OIHW as in the ONNX weight")
        return (w_arr, *common), c_out * c_in * k * k * out_px, "dense"
    if max(offsets, default=0) > 0xFFFF or n > 0xFFFF:
        raise LenetEdgeError(f'ONNX node "{layer.node}": input map too large for 16-bit offsets')
    wts = np.concatenate(kernels) if kernels else np.zeros(0, np.int8)
    arrays = (
        CArray("w", "int8_t", wts.astype(np.int8), "weights",
               f"[{n} stored kernels][{k}*{k}] int8; all-zero kernels of the ONNX weight are left out"),
        CArray("kstart", "uint16_t", np.array(kstart, np.uint16), "index",
               f"[{c_out}+1]: output channel o uses stored kernels kstart[o] .. kstart[o+1]-1"),
        CArray("in_off", "uint16_t", np.array(offsets, np.uint16), "index",
               f"[{n}]: byte offset (in_channel*{h}*{w}) of the input map each stored kernel reads"),
        *common,
    )
    return arrays, n * k * k * out_px, "sparse"


def layer_arrays(layer: ir.Layer, rq) -> tuple[tuple[CArray, ...], int, str]:
    """-> (rodata arrays, MACs per image, kernel form)."""
    if isinstance(layer, (ir.InputTable, ir.Table)):
        return (CArray("table", "int8_t", layer.table, "table",
                       "[256] int8, indexed by the raw byte of the input code"),), 0, ""
    if isinstance(layer, ir.Conv):
        return conv_arrays(layer, rq)
    if isinstance(layer, ir.Rbf):
        c, kk = layer.centres.shape
        return (CArray("centres", "int16_t", layer.centres.astype(np.int16).reshape(-1), "weights",
                       f"[{c}][{kk}] RBF centres (codes at the input scale)"),), c * kk, ""
    if isinstance(layer, ir.Dense):
        kk, c = layer.weight.shape
        w = layer.weight.astype(np.int64)
        folded = layer.bias.astype(np.int64) - layer.a_zp * w.sum(axis=0)
        return (CArray("w", "int8_t", layer.weight.T.reshape(-1).astype(np.int8), "weights",
                       f"[{c}][{kk}] int8, the ONNX [{kk}][{c}] weight transposed"),
                CArray("bias", "int32_t", folded.astype(np.int32), "bias",
                       f"[{c}] int32: bias - a_zp*sum(w) (a_zp={layer.a_zp} folded in)")), c * kk, ""
    return (), 0, ""


def plan(graph: ir.Graph) -> Plan:
    arena = 0
    for layer in graph.layers:
        if isinstance(layer, ir.InputTable):
            arena = max(arena, _round4(layer.out_size))
        elif layer.out_dtype == "int8" and not layer.in_place:
            arena = max(arena, _round4(layer.in_size) + _round4(layer.out_size))
    plans: list[LayerPlan] = []
    cur: int | None = None       # offset of the current activation
    low = True                   # is it at the low end?
    for layer in graph.layers:
        rq = requant.conv_requant(layer) if isinstance(layer, ir.Conv) else None
        arrays, taps, form = layer_arrays(layer, rq)
        if isinstance(layer, ir.InputTable):
            out, low = 0, True
        elif layer.in_place:
            out = cur
        elif layer.out_dtype == "int8":
            low = not low
            out = 0 if low else arena - _round4(layer.out_size)
        else:
            out = None
        plans.append(LayerPlan(layer, arrays, cur, out, rq, taps, form))
        if out is not None:
            cur = out
    return Plan(tuple(plans), arena)


def stack_estimate() -> int:
    return STACK_DEPTH * STACK_FRAME_BUDGET
