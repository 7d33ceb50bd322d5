"""Bad input to `lenet-edge export --target c`: every case is one LenetEdgeError line naming the file
or the ONNX node, and nothing is written to the output folder."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from lenet_edge.cli import main
from lenet_edge.compiler import export_c_cmd
from lenet_edge.errors import LenetEdgeError
from onnx_builders import GraphBuilder, modern_builder, paper_builder


def with_init(model: onnx.ModelProto, name: str, array) -> onnx.ModelProto:
    for init in model.graph.initializer:
        if init.name == name:
            init.CopyFrom(numpy_helper.from_array(np.asarray(array), name))
            return model
    raise KeyError(name)


def with_attr(model: onnx.ModelProto, node: str, **attrs) -> onnx.ModelProto:
    n = next(n for n in model.graph.node if n.name == node)
    for k, v in attrs.items():
        for a in list(n.attribute):
            if a.name == k:
                n.attribute.remove(a)
        n.attribute.append(helper.make_attribute(k, v))
    return model


def float_model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 28, 28])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 28, 28])
    g = helper.make_graph([helper.make_node("Relu", ["image"], ["y"], name="relu")], "float", [x], [y])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def branching_model() -> onnx.ModelProto:
    m = modern_builder(0).model()
    m.graph.node.append(helper.make_node("Identity", ["c1_q"], ["extra"], name="side_branch"))
    return m


def averagepool_model() -> onnx.ModelProto:
    m = modern_builder(0).model()
    n = next(n for n in m.graph.node if n.name == "s2")
    n.op_type = "AveragePool"
    return m


def cases() -> dict:
    p, mo = paper_builder, modern_builder
    return {
        "float_model": (float_model, "is float32, expected uint8"),
        "unsupported_op": (averagepool_model, 'ONNX node "s2" (AveragePool): op AveragePool is not supported'),
        "conv_pads": (lambda: with_attr(p(0).model(), "c1", pads=[1, 1, 1, 1]),
                      'ONNX node "c1" (QLinearConv): attribute pads=[1, 1, 1, 1] is not supported'),
        "conv_dilation": (lambda: with_attr(p(0).model(), "c3", dilations=[2, 2]),
                          'ONNX node "c3" (QLinearConv): attribute dilations=[2, 2] is not supported'),
        "conv_group": (lambda: with_attr(mo(0).model(), "c3", group=2),
                       'ONNX node "c3" (QLinearConv): group=2'),
        "weight_zero_point": (lambda: with_init(p(0).model(), "c5_w_zp", np.ones(120, np.int8)),
                              'ONNX node "c5" (QLinearConv): nonzero weight zero point'),
        "per_tensor_weight_zero_point": (lambda: with_init(p(0).model(), "c1_w_zp", np.array(3, np.int8)),
                                         'ONNX node "c1" (QLinearConv): nonzero weight zero point'),
        "zero_point_dtype": (lambda: with_init(p(0).model(), "c1_x_zp", np.array(3, np.uint8)),
                             'ONNX node "c1" (QLinearConv): x_zero_point'),
        "pad_mode": (lambda: with_attr(p(0).model(), "pad", mode="reflect"),
                     'ONNX node "pad" (Pad): attribute mode=reflect is not supported'),
        "maxpool_ceil": (lambda: with_attr(mo(0).model(), "s4", ceil_mode=1),
                         'ONNX node "s4" (MaxPool): attribute ceil_mode=1'),
        "argmax_last_index": (lambda: with_attr(mo(0).model(), "label", select_last_index=1),
                              'ONNX node "label" (ArgMax): attribute select_last_index=1'),
        "branch": (branching_model, "feeds 2 nodes"),
        "accumulator_bound": (lambda: with_init(p(0).model(), "c5_b", np.full(120, 2**31 - 2**16, np.int32)),
                              'ONNX node "c5": accumulator bound'),
        "dense_b_zero_point": (lambda: with_init(mo(0).model(), "out_b_zp", np.array(1, np.int8)),
                               'ONNX node "out" (MatMulInteger): nonzero b_zero_point'),
    }


@pytest.mark.parametrize("case", sorted(cases()))
def test_bad_model_is_one_line_error(case, tmp_path):
    make, expected = cases()[case]
    path = tmp_path / "lenet5_int8.onnx"
    path.write_bytes(make().SerializeToString())
    out = tmp_path / "c"
    with pytest.raises(LenetEdgeError) as e:
        export_c_cmd(path, out)
    msg = str(e.value)
    assert expected in msg and "\n" not in msg
    assert not out.exists()


def test_corrupt_files(tmp_path):
    good = paper_builder(0).bytes()
    for name, data in (("truncated", good[: len(good) // 2]), ("garbage", bytes(range(256)) * 40),
                       ("empty", b"")):
        path = tmp_path / f"{name}.onnx"
        path.write_bytes(data)
        with pytest.raises(LenetEdgeError, match=rf"{name}\.onnx: not a valid ONNX model"):
            export_c_cmd(path, tmp_path / "c")
    with pytest.raises(LenetEdgeError, match="no such model file"):
        export_c_cmd(tmp_path / "missing.onnx", tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_unwritable_out_dir(tmp_path):
    path = tmp_path / "lenet5_int8.onnx"
    path.write_bytes(paper_builder(0).bytes())
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(LenetEdgeError, match="cannot create folder"):
        export_c_cmd(path, blocker / "c")


def test_cli_prints_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "lenet5_int8.onnx").write_bytes(float_model().SerializeToString())
    res = CliRunner().invoke(main, ["export", "--target", "c", "--run", str(run)])
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lenet-edge: error: lenet5_int8.onnx: graph input")
    assert "Traceback" not in res.output and not (run / "c").exists()


def test_cli_writes_the_files(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "lenet5_int8.onnx").write_bytes(GraphBuilder(3).input_table().flatten().dense_head().bytes())
    res = CliRunner().invoke(main, ["export", "--target", "c", "--run", str(run)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (run / "c").iterdir()) == sorted(
        ["lenet5.h", "lenet5.c", "lenet5_weights.h", "lenet5_weights.c", "lenet5_selftest.c", "manifest.json",
         "CMakeLists.txt", "arm-none-eabi.cmake"])


@pytest.mark.parametrize("arch", ["paper", "modern"])
def test_float_model_is_refused_with_a_clear_error(arch, tmp_path):
    """lenet5_float.onnx also takes uint8 bytes; the compiler must say it got the float model."""
    from lenet_edge.model.lenet5 import build_model
    from lenet_edge.model.onnx_graph import float_graph

    path = tmp_path / "lenet5_float.onnx"
    path.write_bytes(float_graph(build_model(arch), {}).SerializeToString())
    with pytest.raises(LenetEdgeError, match="'c1' \\(Conv\\) is float arithmetic: this is a float model.*lenet5_int8.onnx"):
        export_c_cmd(path, tmp_path / "c")
    assert not (tmp_path / "c").exists()
