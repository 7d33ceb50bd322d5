"""One compiler serves both commands (issue 11): `export --target c` (the LeNet-5 API) and
`compile` (the NAME_run API) go through the same IR, op registry, arena planner, reference and
emitter; no second frontend, planner or emitter exists. Plus the planner's own properties."""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import lenet_edge.compiler as compiler
from byo_models import ModelCache
from lenet_edge.check import byo
from lenet_edge.compiler import emit, frontend, fuse, ir, memory, ops, reference
from test_compiler_v2 import GOLDEN

COMPILER = Path(compiler.__file__).parent
MODULES = {"__init__", "cmake", "emit", "frontend", "fuse", "ir", "memory", "ops", "ortmath", "reference",
           "requant", "verify"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            out |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom) and n.module:
            out.add(n.module)
    return out


def test_the_compiler_is_one_set_of_modules():
    """No second frontend / emitter / planner / op folder (the former compiler/byo/ is gone)."""
    found = {p.stem if p.is_file() else p.name for p in COMPILER.iterdir()
             if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))}
    assert found == MODULES
    # the one module that reads ONNX protos, besides the Layers' recognisers in ops/
    readers = {p.relative_to(COMPILER).as_posix() for p in COMPILER.rglob("*.py")
               if any(m == "onnx" or m.startswith("onnx.") for m in _imports(p))}
    assert {r for r in readers if not r.startswith("ops/")} == {"frontend.py"}
    # the one module that prints C through jinja2 templates
    printers = {p.name for p in COMPILER.rglob("*.py") if "jinja2" in _imports(p)}
    assert printers == {"emit.py"}


def test_one_op_interface_and_registry():
    """Every op module in ops/ is registered, every registered op implements ir.Op, and both kinds
    (the lenet-edge contract's Layers and ORT's GraphOps) are in the one registry."""
    registered = set(ops.OPS)
    for info in pkgutil.iter_modules(ops.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"lenet_edge.compiler.ops.{info.name}")
        classes = {v for v in vars(mod).values()
                   if isinstance(v, type) and issubclass(v, ir.Op) and v.__module__ == mod.__name__}
        assert classes and classes <= registered, info.name
    assert all(issubclass(op, ir.Op) for op in ops.OPS)
    assert any(issubclass(op, ir.Layer) for op in ops.OPS) and any(issubclass(op, ir.GraphOp) for op in ops.OPS)
    assert len({op.kind for op in ops.OPS}) == len(ops.OPS)


@pytest.fixture(scope="module")
def byo_model(tmp_path_factory):
    return ModelCache(tmp_path_factory.mktemp("one_compiler")).get("blocks", "qdq", "s8", True)


def test_both_commands_use_the_same_passes(monkeypatch, tmp_path, byo_model):
    """export --target c and compile both build an ir.Graph, run reference.trace, memory.plan and
    emit's template environment; each prints its own API template."""
    seen: dict[str, list] = {"trace": [], "plan": [], "templates": []}
    real_trace, real_plan, real_env = reference.trace, memory.plan, emit.template_env

    def trace(graph):
        assert isinstance(graph, ir.Graph)
        seen["trace"].append(graph.source_name)
        return real_trace(graph)

    def plan(graph, nbytes, rule):
        seen["plan"].append((graph.source_name, rule))
        return real_plan(graph, nbytes, rule)

    class Env:
        def __init__(self):
            self.env = real_env()

        def get_template(self, name):
            seen["templates"].append(name)
            return self.env.get_template(name)

    monkeypatch.setattr(reference, "trace", trace)
    monkeypatch.setattr(memory, "plan", plan)
    monkeypatch.setattr(emit, "template_env", Env)

    lenet = compiler.generate(GOLDEN / "tiny_int8.onnx", selftest=1)
    byo.compile_cmd(byo_model.path, tmp_path / "c", echo=lambda *a: None)
    assert seen["trace"] == ["tiny_int8.onnx", byo_model.path.name]
    assert seen["plan"] == [("tiny_int8.onnx", "two-ended"), (byo_model.path.name, "first-fit")]
    assert {"lenet5.h.j2", "lenet5.c.j2", "NAME.h.j2", "NAME.c.j2", "NAME_weights.h.j2",
            "CMakeLists.txt.j2"} <= set(seen["templates"])
    assert "lenet5_predict" in lenet["lenet5.h"]
    stem = compiler.c_name(byo_model.path.stem)
    assert f"int {stem}_run(" in (tmp_path / "c" / f"{stem}.h").read_text()


# ---- the planner ------------------------------------------------------------------------------------
class _Op(ir.GraphOp):
    pass


class _InPlace(ir.GraphOp):
    in_place = True


class _Scratch(ir.GraphOp):
    scratch_bytes = 10


def _graph(*ops_, outputs=("y",)):
    return ir.Graph(ops=tuple(ops_), inputs=(("x", "int8", (1, 8)),), outputs=tuple((o, "int8") for o in outputs),
                    source_name="t")


def _op(cls, name, ins, outs):
    return cls(node=name, op=name, inputs=tuple(ins), outputs=tuple(outs))


def test_two_ended_chain_is_max_of_in_plus_out_plus_scratch():
    g = _graph(_op(_Op, "a", ["x"], ["t1"]), _op(_InPlace, "b", ["t1"], ["t2"]), _op(_Scratch, "c", ["t2"], ["t3"]),
               _op(_Op, "d", ["t3"], ["t4"]), _op(_Op, "e", ["t4"], ["y"]))
    sizes = {"t1": 100, "t2": 100, "t3": 30, "t4": 7}
    p = memory.plan(g, sizes, "two-ended")
    assert p.arena_bytes == max(100, 100 + 32 + 12, 32 + 8)     # rounded up to 4
    assert p.offsets["t1"] == p.offsets["t2"] == 0              # in place: one block, the low end
    assert p.offsets["t3"] == p.arena_bytes - 32                # the high end
    assert p.offsets["t4"] == 0                                 # back to the low end
    c = p.ops[2]
    assert c.scratch_offset is not None and 100 <= c.scratch_offset <= p.offsets["t3"] - 12
    assert p.ops[-1].out_offset is None and p.ops[0].in_offset is None   # the caller's buffers


def test_first_fit_dag_reuses_dead_blocks_and_never_overlaps_live_ones():
    # x -> a -> t1 -> b -> t2 ; t1 and t2 -> c (add) -> t3 -> d -> y ; t1 is dead after c
    g = _graph(_op(_Op, "a", ["x"], ["t1"]), _op(_Op, "b", ["t1"], ["t2"]), _op(_Op, "c", ["t1", "t2"], ["t3"]),
               _op(_Op, "d", ["t3"], ["y"]))
    p = memory.plan(g, {"t1": 64, "t2": 64, "t3": 64}, "first-fit")
    assert p.offsets["t1"] == 0 and p.offsets["t2"] == 64      # both live at c
    assert p.offsets["t3"] == 128                               # t1, t2 still read by c
    assert p.arena_bytes == 192
    with pytest.raises(ValueError):
        memory.plan(g, {"t1": 64, "t2": 64, "t3": 64}, "two-ended")   # not a chain


def test_plans_of_real_models_are_as_documented(byo_model):
    graph = fuse.fuse(frontend.load_graph(GOLDEN / "tiny_int8.onnx"))
    p = memory.plan(graph, memory.tensor_bytes(*reference.trace(graph)), "two-ended")
    bound = max((-(-lp.op.in_size // 4) * 4 if lp.in_offset is not None else 0)
                + (-(-lp.op.out_size // 4) * 4) + (-(-lp.op.scratch_bytes // 4) * 4)
                for lp in p.ops if lp.op.out_dtype == "int8" and not lp.op.in_place)
    assert p.arena_bytes == bound
    prep = byo.prepare(byo_model.path)
    from lenet_edge.check import tables
    g = frontend.parse(prep.optimized, byo_model.path.name, tables.chain_table)
    shapes, dtypes = reference.trace(g)
    q = memory.plan(g, memory.tensor_bytes(shapes, dtypes), "first-fit")
    nbytes = memory.tensor_bytes(shapes, dtypes)
    assert set(q.offsets) == {t for op in g.ops for t in op.outputs if t and t not in g.output_names}
    assert q.arena_bytes == max(o + -(-nbytes[t] // 4) * 4 for t, o in q.offsets.items())
    # the sum of all tensors would be far more: dead tensors' bytes are reused
    assert q.arena_bytes < sum(-(-nbytes[t] // 4) * 4 for t in q.offsets)
