"""Memory layout, for both commands: what each op stores in flash (rodata) and where its tensors
live in RAM.

Rodata: per op, the C arrays it packs (`pack`, ops/), already in the layout the kernel walks.
Arena: one static buffer holding every tensor an op writes, except the graph's outputs; the graph's
inputs and outputs are the caller's buffers. Liveness over the DAG: a tensor lives from the op that
writes it to the last op that reads it. An in-place op (tables, flatten) writes over its input, so
input and output are one block. An op's scratch (`scratch_bytes`, a fused kernel's row buffer)
lives only while the op runs. Every block is rounded up to 4 bytes (alignment).

Two placement rules; the caller picks one (RULES):
  two-ended - for a chain (every op reads the output of the op before it; the LeNet-5 API, whose
              lenet5.c and manifest describe this plan). The arena is the lower bound, max over ops
              of the bytes live while it runs; an op's output goes to the end opposite its input
              (the first output to the low end), its scratch to the top of the gap between the two
              ends: max over layers of in + out + scratch.
  first-fit - for any DAG (the NAME_run API): each block at the lowest offset free over its whole
              live range. (two-ended also fits some of the byo test models in less, acts 2,648 ->
              2,008 B and mobile 8,192 -> 6,152 B, but its high offsets cost Thumb-2 code: +56 B of
              .text and +0.02% instructions on acts-qdq, benchmarks/byo.py.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.compiler import ir

# Stack of lenet5_predict (see `stack_estimate`): call depth 2, predict -> one le_* kernel (le_requant is
# a static inline leaf); no variable-size arrays on the stack (the one fixed array, the opt
# le_conv_subsample_u8's 120 B of weight pairs on the M4, counts in its frame). Per frame on
# Cortex-M: at most r4-r11 + lr pushed (36 B, 40 with 8-byte alignment) plus spilled scalars
# (measured at -O2: conv kernel 120-144 B, predict 80-88 B); tests/test_codegen.py measures the
# frames with arm-none-eabi-gcc -fstack-usage and checks they fit this budget.
STACK_FRAME_BUDGET = 192
STACK_DEPTH = 2
ALIGN = 4
RULES = ("two-ended", "first-fit")


@dataclass(frozen=True, eq=False)
class OpPlan:
    op: ir.Op
    packed: ir.Packed
    in_offset: int | None       # arena offset of the first input (None: a caller's buffer)
    out_offset: int | None      # arena offset of the first output (None: a caller's buffer)
    scratch_offset: int | None = None   # arena offset of the op's scratch_bytes (None: none)

    @property
    def arrays(self) -> tuple[ir.CArray, ...]:
        return self.packed.arrays

    @property
    def taps(self) -> int:
        """Multiply-accumulates per image actually executed (Layers: counted by pack)."""
        return self.packed.macs

    @property
    def form(self) -> str:
        return self.packed.form

    def replaced_bytes(self, a: ir.CArray) -> int:
        """The bytes of `a` that a linked build holds instead of the array it replaces
        (CArray.instead_of), not on top of it: 0 for an array that replaces none."""
        other = next((b.nbytes for b in self.arrays if b.suffix == a.instead_of), 0) if a.instead_of else 0
        return min(a.nbytes, other)

    def flash(self, path: str) -> dict[str, int]:
        """Bytes of const arrays by kind, for one requant path ("float" | "int")."""
        out: dict[str, int] = {}
        for a in self.arrays:
            if a.variant in ("", path):
                out[a.kind] = out.get(a.kind, 0) + a.nbytes - self.replaced_bytes(a)
        return out


@dataclass(frozen=True, eq=False)
class Plan:
    ops: tuple[OpPlan, ...]
    offsets: dict               # arena tensor -> offset
    arena_bytes: int
    rule: str                   # "two-ended" | "first-fit"

    def flash_total(self, path: str) -> int:
        return sum(sum(lp.flash(path).values()) for lp in self.ops)

    def flash_alternatives(self) -> int:
        """Bytes of the arrays flash_total leaves out because a build keeps them instead of another
        (CArray.instead_of): what an unlinked lenet5_weights.o holds beyond flash_total."""
        return sum(lp.replaced_bytes(a) for lp in self.ops for a in lp.arrays)


@dataclass
class _Block:
    """Arena storage of one tensor, or of an in-place chain of tensors."""
    size: int
    start: int                  # index of the op that writes it
    end: int                    # index of the last op that reads it
    writer: ir.Op


def _round4(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def tensor_bytes(shapes: dict, dtypes: dict) -> dict[str, int]:
    return {t: int(np.prod(shapes[t])) * ir.NBYTES[dtypes[t]] for t in shapes}


def plan(graph: ir.Graph, nbytes: dict[str, int], rule: str) -> Plan:
    """Place every tensor an op of `graph` writes (except graph outputs; sizes in `nbytes`) and
    every op's scratch in one arena, by `rule` (RULES)."""
    outputs = set(graph.output_names)
    block_of: dict[str, _Block] = {}
    blocks: list[_Block] = []
    for i, op in enumerate(graph.ops):
        for t in op.inputs:
            if t in block_of:
                block_of[t].end = max(block_of[t].end, i)
        for t in op.outputs:
            if not t or t in outputs:
                continue
            if op.in_place and op.inputs[0] in block_of:
                block_of[t] = block_of[op.inputs[0]]
                continue
            block_of[t] = _Block(_round4(nbytes[t]), i, i, op)
            blocks.append(block_of[t])
    scratch = {i: _round4(op.scratch_bytes) for i, op in enumerate(graph.ops) if op.scratch_bytes}
    if rule == "two-ended":
        if not is_chain(graph):
            raise ValueError("the two-ended arena plan is for chains")
        where, scratch_at, arena = _two_ended(graph, blocks, block_of, scratch)
    elif rule == "first-fit":
        where, scratch_at, arena = _first_fit(blocks, scratch)
    else:
        raise ValueError(f"unknown arena rule {rule!r}")
    _check(graph, blocks, where, scratch, scratch_at, arena)
    offsets = {t: where[id(b)] for t, b in block_of.items()}
    plans = []
    for i, op in enumerate(graph.ops):
        ins = [t for t in op.inputs if t]
        outs = [t for t in op.outputs if t]
        plans.append(OpPlan(op, op.pack(), offsets.get(ins[0]) if ins else None,
                            offsets.get(outs[0]) if outs else None, scratch_at.get(i)))
    return Plan(tuple(plans), offsets, arena, rule)


def is_chain(graph: ir.Graph) -> bool:
    """Every op reads exactly one tensor, the graph input or the previous op's first output."""
    prev = graph.input_name
    for op in graph.ops:
        if tuple(t for t in op.inputs if t) != (prev,):
            return False
        prev = op.outputs[0]
    return True


def _check(graph, blocks, where, scratch, scratch_at, arena) -> None:
    """While each op runs, its live blocks and its scratch lie in the arena and never overlap."""
    for i in range(len(graph.ops)):
        spans = sorted([(where[id(b)], where[id(b)] + b.size) for b in _live(blocks, i)]
                       + ([(scratch_at[i], scratch_at[i] + scratch[i])] if i in scratch else []))
        for (lo, hi), (lo2, _) in zip(spans, spans[1:]):
            assert hi <= lo2, f"arena plan: overlap at op {i} ({graph.ops[i].node})"
        assert all(0 <= lo and hi <= arena for lo, hi in spans), "arena plan: outside the arena"


def _live(blocks: list[_Block], i: int) -> list[_Block]:
    return [b for b in blocks if b.start <= i <= b.end]


def _two_ended(graph, blocks, block_of, scratch):
    """Outputs at the end opposite the op's input, in an arena of the lower bound (a chain always
    fits; _check proves it)."""
    arena = max((sum(b.size for b in _live(blocks, i)) + scratch.get(i, 0) for i in range(len(graph.ops))),
                default=0)
    where: dict[int, int] = {}
    low_end: dict[int, bool] = {}
    scratch_at = {}
    for i, op in enumerate(graph.ops):
        live = [b for b in _live(blocks, i) if id(b) in where]
        new = [b for b in blocks if b.start == i]
        for b in new:
            src = next((block_of[t] for t in op.inputs if t in block_of), None)
            low = True if src is None else not low_end[id(src)]
            busy = sorted((where[id(x)], where[id(x)] + x.size) for x in live if x.end >= i)
            off = _fit_low(busy, b.size) if low else _fit_high(busy, b.size, arena)
            assert off is not None and off + b.size <= arena, "two-ended arena plan: no room"
            where[id(b)], low_end[id(b)] = off, low
            live.append(b)
        if i in scratch:
            busy = sorted((where[id(x)], where[id(x)] + x.size) for x in live)
            off = _fit_high(busy, scratch[i], arena)
            assert off is not None, "two-ended arena plan: no room for the scratch"
            scratch_at[i] = off
    return where, scratch_at, arena


def _first_fit(blocks, scratch):
    where: dict[int, int] = {}
    scratch_at = {}
    top = 0
    for i in sorted({b.start for b in blocks} | set(scratch)):
        for b in (b for b in blocks if b.start == i):
            busy = sorted((where[id(x)], where[id(x)] + x.size) for x in blocks
                          if id(x) in where and not (x.end < i or x.start > b.end))
            where[id(b)] = _fit_low(busy, b.size)
            top = max(top, where[id(b)] + b.size)
        if i in scratch:
            busy = sorted((where[id(x)], where[id(x)] + x.size) for x in _live(blocks, i) if id(x) in where)
            scratch_at[i] = _fit_low(busy, scratch[i])
            top = max(top, scratch_at[i] + scratch[i])
    return where, scratch_at, top


def _fit_low(busy: list[tuple[int, int]], size: int) -> int:
    """The lowest offset where `size` bytes overlap none of the busy [lo, hi) ranges."""
    off = 0
    for lo, hi in busy:
        if off + size <= lo:
            break
        off = max(off, hi)
    return off


def _fit_high(busy: list[tuple[int, int]], size: int, arena: int) -> int | None:
    """The highest offset below `arena` where `size` bytes overlap none of the busy ranges."""
    top = arena
    for lo, hi in sorted(busy, key=lambda r: -r[1]):
        if hi <= top - size:
            break
        top = min(top, lo)
    return top - size if top - size >= 0 else None


def stack_estimate() -> int:
    return STACK_DEPTH * STACK_FRAME_BUDGET
