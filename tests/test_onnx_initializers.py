"""Both exported graphs hold no initializer that no node reads: ONNX Runtime would print
"Removing initializer ... not used" on every load of the model."""
from __future__ import annotations

import functools

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from lenet_edge.check import ort as ort_oracle
from lenet_edge.errors import LenetEdgeError
from lenet_edge.model import lenet5, quantize
from lenet_edge.model.onnx_graph import Graph, float_graph, int8_graph, unused_initializers


@functools.lru_cache(maxsize=None)
def _graphs(arch: str) -> dict[str, bytes]:
    torch.manual_seed(0)
    model = lenet5.build_model(arch).eval()
    images = np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    q = quantize.quantize_model(model, images, ort_oracle.run_in_memory)
    return {"int8": int8_graph(q, {"arch": arch}).SerializeToString(),
            "float": float_graph(model, {"arch": arch}).SerializeToString()}


@pytest.mark.parametrize("arch", ["paper", "modern"])
@pytest.mark.parametrize("which", ["int8", "float"])
def test_every_initializer_is_read_by_a_node(arch, which):
    model = onnx.load_from_string(_graphs(arch)[which])
    assert len(model.graph.initializer) > 10
    assert unused_initializers(model.graph) == []


@pytest.mark.parametrize("arch", ["paper", "modern"])
def test_onnx_runtime_loads_the_int8_graph_without_warnings(arch, capfd):
    """A user's default session at warning level: nothing about initializers on stderr."""
    so = onnxruntime.SessionOptions()
    so.log_severity_level = 1  # info and up, so a warning cannot hide
    capfd.readouterr()
    onnxruntime.InferenceSession(_graphs(arch)["int8"], so, providers=["CPUExecutionProvider"])
    err = capfd.readouterr().err
    assert "Removing initializer" not in err and "not used" not in err, err


def test_an_unused_initializer_is_caught_when_the_graph_is_built():
    g = Graph()
    g.node("Identity", ["image"], "id", "scores")
    g.const("stray", [1.0], np.float32)
    out = [onnx.helper.make_tensor_value_info("scores", onnx.TensorProto.UINT8, ["N", 1, 28, 28])]
    assert unused_initializers(onnx.helper.make_graph(g.nodes, "g", [], out, initializer=g.inits)) == ["stray"]
    with pytest.raises(LenetEdgeError, match="initializers no node reads: stray"):
        g.model(out, "doc", {})
