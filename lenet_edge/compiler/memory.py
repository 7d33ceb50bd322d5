"""Memory layout: what each layer stores in flash (rodata) and where its activations live in RAM.

Rodata: per layer, the C arrays its op packs (`pack`, ops/), already in the layout the kernel walks.
Arena: one static int8 buffer. Layers that change size write to the end of the arena opposite to
their input (a two-ended ping-pong), so the arena needs max over layers of in + out bytes (each
rounded up to 4 for alignment), never more than two separate ping-pong buffers; elementwise layers
(tables, flatten) work in place. A layer reading the caller's uint8 image only needs its output.
The uint8 image and the int32 scores are the caller's buffers.
"""
from __future__ import annotations

from dataclasses import dataclass

from lenet_edge.compiler import ir

# Stack of lenet5_predict (see `stack_estimate`): call depth 2, predict -> one le_* kernel (le_requant is
# a static inline leaf); no variable-size arrays on the stack (the one fixed array, the opt
# le_conv_subsample_u8's 120 B of weight pairs on the M4, counts in its frame). Per frame on
# Cortex-M: at most r4-r11 + lr pushed (36 B, 40 with 8-byte alignment) plus spilled scalars
# (measured at -O2: conv kernel 120-144 B, predict 80-88 B); tests/test_codegen.py measures the
# frames with arm-none-eabi-gcc -fstack-usage and checks they fit this budget.
STACK_FRAME_BUDGET = 192
STACK_DEPTH = 2


@dataclass(frozen=True, eq=False)
class LayerPlan:
    layer: ir.Layer
    packed: ir.Packed
    in_offset: int | None       # arena offset of the input (None: the caller's image)
    out_offset: int | None      # arena offset of the output (None: the caller's scores / return value)
    scratch_offset: int | None = None   # arena offset of the layer's scratch_bytes (None: none)

    @property
    def arrays(self) -> tuple[ir.CArray, ...]:
        return self.packed.arrays

    @property
    def taps(self) -> int:
        """Multiply-accumulates per image actually executed."""
        return self.packed.macs

    @property
    def form(self) -> str:
        return self.packed.form

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


def _int8_out(layer: ir.Layer) -> bool:
    return layer.out_dtype == "int8"


def plan(graph: ir.Graph) -> Plan:
    arena = 0
    for layer in graph.layers:
        if not _int8_out(layer) or layer.in_place:
            continue
        reads_arena = layer.in_dtype == "int8"
        arena = max(arena, (_round4(layer.in_size) if reads_arena else 0) + _round4(layer.out_size)
                    + _round4(layer.scratch_bytes))
    plans: list[LayerPlan] = []
    cur: int | None = None       # offset of the current activation (None: the caller's image)
    low = False                  # is it at the low end? (the first output goes to the low end)
    for layer in graph.layers:
        if layer.in_place:
            out = cur
        elif _int8_out(layer):
            low = not low
            out = 0 if low else arena - _round4(layer.out_size)
        else:
            out = None
        scratch = _scratch_offset(layer, cur, out, arena) if layer.scratch_bytes else None
        plans.append(LayerPlan(layer, layer.pack(), cur, out, scratch))
        if out is not None:
            cur = out
    return Plan(tuple(plans), arena)


def _scratch_offset(layer: ir.Layer, cur: int | None, out: int, arena: int) -> int:
    """Scratch goes into the gap the two ends leave: after the low block, before the high one."""
    blocks = [(out, _round4(layer.out_size))]
    if cur is not None:
        blocks.append((cur, _round4(layer.in_size)))
    low_end = max((o + n for o, n in blocks if o == 0), default=0)
    high_start = min((o for o, n in blocks if o != 0), default=arena)
    need = _round4(layer.scratch_bytes)
    assert high_start - low_end >= need, "arena plan: no room for the scratch"
    return high_start - need


def stack_estimate() -> int:
    return STACK_DEPTH * STACK_FRAME_BUDGET
