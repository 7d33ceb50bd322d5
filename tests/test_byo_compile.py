"""`lenet-edge compile` + `lenet-edge verify --onnx --c`: models made the way users make them
(torch.onnx.export -> quantize_static, tests/byo_models.py) compile to C that gives ONNX Runtime's
outputs bit for bit, for QDQ and QOperator, s8 and u8 activations, per-tensor and per-channel
weights; on digits, calibration-like data and noise far outside the calibration range. Float models,
float ops ORT leaves unfused, and tampered C are refused or caught, in one line."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner
from onnx import helper

from byo_models import ModelCache, all_configs, calibration, export_float
from conftest import require_tool
from lenet_edge.check import byo
from lenet_edge.check import ort as ort_oracle
from lenet_edge.check.quantize import quantize
from lenet_edge.cli import main
from lenet_edge.compiler import reference
from lenet_edge.compiler import c_name, frontend
from lenet_edge.check import tables

IDS = [f"{n}-{f}-{a}-{'pc' if p else 'pt'}" for n, f, a, p in all_configs()]


@pytest.fixture(scope="session")
def byo_models(tmp_path_factory):
    return ModelCache(tmp_path_factory.mktemp("byo_models_c"))


def _cli(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    return r.exit_code, r.output


def _inputs(name, shape, count, seed):
    rng = np.random.default_rng(seed)
    third = count // 3
    calib = calibration(name, third, seed=seed)
    if name == "cnn":
        from lenet_edge.data.embedded import load_mnist_5k
        digits, _ = load_mnist_5k()
        second = (digits[rng.choice(len(digits), third, replace=False), 6:22, 6:22] / np.float32(255))
        second = second.astype(np.float32).reshape(-1, *shape[1:])
    else:
        second = calibration(name, third, seed=seed + 1)
    noise = (rng.standard_normal((count - 2 * third, *shape[1:])) * 3).astype(np.float32)
    return np.concatenate([calib, second, noise])


@pytest.mark.parametrize("name,fmt,act,per_channel", all_configs(), ids=IDS)
def test_compiled_c_is_bit_exact(byo_models, tmp_path, name, fmt, act, per_channel):
    require_tool("cc")
    built = byo_models.get(name, fmt, act, per_channel)
    out = tmp_path / "c"
    code, text = _cli("compile", built.path, "--out", out, "--kernels", "opt")
    assert code == 0, text
    code, text = _cli("compile", built.path, "--out", tmp_path / "ref", "--kernels", "ref")
    assert code == 0, text
    m = json.loads((out / "manifest.json").read_text())
    stem = c_name(built.path.stem)
    assert m["name"] == stem and sorted(m["files"]) == sorted(p.name for p in out.iterdir())
    header = (out / f"{stem}.h").read_text()
    assert f"int {stem}_run(const float input[{stem.upper()}_INPUT_SIZE], float output[{stem.upper()}_OUTPUT_SIZE]);" in header
    x = _inputs(name, m["input"]["shape"], 2000, seed=len(built.tag))
    np.save(tmp_path / "x.npy", x)
    for folder in (out, tmp_path / "ref"):       # both kernel sets, so they also agree with each other
        code, text = _cli("verify", "--onnx", built.path, "--c", folder, "--inputs", tmp_path / "x.npy")
        assert code == 0, text
        assert "2000/2000 inputs bit-exact" in text
    # the integer-only requantization of FPU-less cores (le_byo.h LE_INT_REQUANT), built on the host
    report = byo.verify_cmd(built.path, out, inputs=tmp_path / "x.npy", flags=["-DLE_INT_REQUANT"],
                            echo=lambda *a: None)
    assert report["identical"] == report["inputs"] == 2000
    # the same C through the other two input families of verify: random, incl. far outside the range
    report = byo.verify_cmd(built.path, out, random=300, echo=lambda *a: None)
    assert report["identical"] == report["inputs"] == 300
    # the outputs are not trivial: ORT's answers vary over the inputs
    sess = ort_oracle.reference_session(built.path, lenet_contract=False)
    y = ort_oracle.run_batches(sess, "x", x)["y"]
    assert len(np.unique(y.round(6), axis=0)) > 100


def test_compiler_reference_equals_ort_on_the_optimized_graph(byo_models):
    """The units' numpy references (what the compiler prints C for) reproduce ORT's output too."""
    built = byo_models.get("acts", "qdq", "u8", True)
    prep = byo.prepare(built.path)
    parsed = frontend.parse(prep.optimized, built.path.name, tables.chain_table)
    x = _inputs("acts", parsed.input_shape, 600, seed=3)
    ours = reference.run_graph(parsed, x)["y"]
    (theirs,) = ort_oracle.run_in_memory(prep.model, {"x": x})
    assert np.array_equal(ours, theirs)
    assert {u.op for u in parsed.ops} >= {"FTable", "AveragePool", "Table", "QLinearConv", "QGemm", "QLinearMul"}


@pytest.mark.parametrize("flags", [["-O0"], ["-O3", "-march=native", "-ffp-contract=fast"], ["-Os"],
                                   ["-DLE_INT_REQUANT", "-O3"]],
                         ids=["O0", "O3-native-fma", "Os", "int-requant"])
def test_build_flags_do_not_change_the_answer(byo_models, tmp_path, flags):
    """FMA-capable host code with contraction on, and other optimisation levels: still bit-exact
    (the kernels round explicitly where ORT rounds)."""
    require_tool("cc")
    built = byo_models.get("blocks", "qoperator", "s8", False)
    assert _cli("compile", built.path, "--out", tmp_path / "c")[0] == 0
    report = byo.verify_cmd(built.path, tmp_path / "c", random=500, flags=flags, echo=lambda *a: None)
    assert report["identical"] == 500


def test_clang_build(byo_models, tmp_path, monkeypatch):
    require_tool("clang")
    monkeypatch.setenv("CC", "clang")
    built = byo_models.get("acts", "qoperator", "s8", True)
    assert _cli("compile", built.path, "--out", tmp_path / "c")[0] == 0
    assert byo.verify_cmd(built.path, tmp_path / "c", random=300, echo=lambda *a: None)["identical"] == 300


def test_tampered_c_names_the_first_diverging_node(byo_models, tmp_path):
    require_tool("cc")
    built = byo_models.get("cnn", "qdq", "s8", True)
    out = tmp_path / "c"
    assert _cli("compile", built.path, "--out", out, "--name", "net")[0] == 0
    m = json.loads((out / "manifest.json").read_text())
    conv = next(u for u in m["units"] if u["op"] == "QLinearConv" and u["index"] > 3)
    weights = (out / "net_weights.h").read_text()
    sym = f"net_u{conv['index']}_bias["
    head, rest = weights.split(sym, 1)
    body_start = rest.index("{") + 1
    nums = rest[body_start:].split(",", 1)
    tampered = head + sym + rest[:body_start] + f"\n    {int(nums[0]) + 4000}," + nums[1]
    (out / "net_weights.h").write_text(tampered)
    code, text = _cli("verify", "--onnx", built.path, "--c", out, "--random", "200")
    assert code == 1
    line = text.strip().splitlines()
    assert len(line) == 1 and "first diverging node" in line[0]
    assert f'ONNX node "{conv["node"]}"' in line[0], line[0]


def _assert_sent_to_quantize(src, out):
    code, text = _cli("compile", src, "--out", out)
    assert code == 1
    line = text.strip()
    assert "\n" not in line and "Traceback" not in line, line
    assert line.startswith(f"lenet-edge: error: {src}: a float model"), line
    want = f"lenet-edge quantize {src} --calib DATA.npy --out {src.with_name(src.stem + '_int8.onnx')}"
    assert line.endswith(want), line
    assert not out.exists()                      # nothing written


def test_float_model_is_sent_to_quantize(tmp_path):
    _assert_sent_to_quantize(export_float("cnn", tmp_path / "cnn_float.onnx"), tmp_path / "c")


def test_lenet5_float_onnx_is_a_float_model(tmp_path):
    """lenet-edge's own lenet5_float.onnx (uint8 input, Cast to float, float Conv/Gemm/Tanh): it
    used to be refused for its unfused float Conv with a --cut-at hint; it is a float model."""
    from lenet_edge.model.lenet5 import build_model
    from lenet_edge.model.onnx_graph import float_graph

    torch.manual_seed(0)
    model = float_graph(build_model("paper").eval(), {"arch": "paper"})
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    src = tmp_path / "lenet5_float.onnx"
    src.write_bytes(model.SerializeToString())
    _assert_sent_to_quantize(src, tmp_path / "c")


def test_float_model_rule():
    """Float = no quantized op at all (QDQ, QLinear*, integer products, com.microsoft Q ops) and some
    float arithmetic; one quantized op anywhere, or no float at all, is not float."""
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])
    xi = helper.make_tensor_value_info("x", onnx.TensorProto.INT8, [1, 4])
    yi = helper.make_tensor_value_info("y", onnx.TensorProto.INT8, [1, 4])

    def model(nodes, inp=x, out=y):
        return helper.make_model(helper.make_graph(nodes, "g", [inp], [out]))

    assert byo.is_float_model(model([helper.make_node("Relu", ["x"], ["y"])]))
    assert not byo.is_float_model(model([helper.make_node("Relu", ["x"], ["y"])], xi, yi))   # int8 only
    for op, domain in [("QuantizeLinear", ""), ("DequantizeLinear", ""), ("QLinearConv", ""),
                       ("MatMulInteger", ""), ("ConvInteger", ""), ("QGemm", "com.microsoft"),
                       ("QLinearSigmoid", "com.microsoft"), ("QAttention", "com.microsoft")]:
        nodes = [helper.make_node(op, ["x"], ["t"], domain=domain), helper.make_node("Relu", ["t"], ["y"])]
        assert not byo.is_float_model(model(nodes)), op
    assert not byo.is_float_model(model([helper.make_node("Relu", ["x"], ["t"]), helper.make_node("Identity", ["t"], ["y"])]
                                        + [helper.make_node("QuantizeLinear", ["t"], ["u"])]))


def test_qdq_model_is_not_called_float(byo_models, tmp_path):
    code, text = _cli("compile", byo_models.get("cnn", "qdq", "s8", False).path, "--out", tmp_path / "c")
    assert code == 0 and "float model" not in text


class _SoftmaxNet(torch.nn.Module):
    input_shape = (1, 1, 8, 8)

    def __init__(self):
        super().__init__()
        self.c = torch.nn.Conv2d(1, 4, 3)
        self.fc = torch.nn.Linear(4 * 6 * 6, 5)

    def forward(self, x):
        return torch.softmax(self.fc(torch.flatten(torch.relu(self.c(x)), 1)), dim=1)


def _softmax_model(tmp_path, exclude=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    net = _SoftmaxNet().eval()
    f = tmp_path / "sm_float.onnx"
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(1, 1, 8, 8),), str(f), input_names=["x"], output_names=["y"],
                          opset_version=17, dynamo=False)
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).random((16, 1, 8, 8), dtype=np.float32))
    q = tmp_path / "sm_int8.onnx"
    if exclude:
        from onnxruntime.quantization import CalibrationDataReader, quantize_static

        data = np.load(calib)

        class R(CalibrationDataReader):
            def __init__(self):
                self.it = iter([{"x": data[i:i + 1]} for i in range(len(data))])

            def get_next(self):
                return next(self.it, None)

        names = [n.name for n in onnx.load(str(f)).graph.node if n.op_type == exclude]
        quantize_static(str(f), str(q), R(), nodes_to_exclude=names)
    else:
        quantize(f, calib, q)
    return q


def test_softmax_quantized_compiles_float_softmax_is_refused_and_cut_at_compiles_before_it(tmp_path):
    require_tool("cc")
    q = _softmax_model(tmp_path, exclude="Softmax")          # Softmax left in float, as users often do
    code, text = _cli("compile", q, "--out", tmp_path / "c")
    assert code == 1
    line = text.strip()
    assert "(Softmax)" in line and "float kernel" in line and "--cut-at" in line and "\n" not in line
    for fmt in ("qdq", "qoperator"):                          # quantized: ORT runs QLinearSoftmax
        for act in ("s8", "u8"):
            d = tmp_path / f"{fmt}-{act}"
            _softmax_model(d)
            qs = d / "sm_q.onnx"
            quantize(d / "sm_float.onnx", d / "calib.npy", qs, fmt=fmt, activations=act)
            code, text = _cli("compile", qs, "--out", d / "c")
            assert code == 0, text
            assert "QLinearSoftmax" in {u["op"] for u in json.loads((d / "c" / "manifest.json").read_text())["units"]}
            code, text = _cli("verify", "--onnx", qs, "--c", d / "c", "--random", "1500")
            assert code == 0 and "1500/1500 inputs bit-exact" in text, text
    gemm = next(n.name for n in onnx.load(str(q)).graph.node if n.op_type == "QuantizeLinear"
                and "Gemm" in n.input[0])
    out = tmp_path / "cut"
    code, text = _cli("compile", q, "--out", out, "--cut-at", gemm)
    assert code == 0, text
    assert json.loads((out / "manifest.json").read_text())["files"] == sorted(p.name for p in out.iterdir())
    code, text = _cli("verify", "--onnx", out / "cut_model.onnx", "--c", out, "--random", "300")
    assert code == 0 and "300/300 inputs bit-exact" in text, text


def test_unfused_float_conv_is_refused_by_name(tmp_path):
    q = _softmax_model(tmp_path, exclude="Conv")
    code, text = _cli("compile", q, "--out", tmp_path / "c")
    assert code == 1
    line = text.strip()
    assert "(Conv)" in line and "float convolution" in line and "\n" not in line
    assert "float model" not in line and "--cut-at" in line      # a QDQ model is never called float


def test_compile_errors_are_one_line(tmp_path, byo_models):
    built = byo_models.get("cnn", "qdq", "s8", False)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"nope")
    cases = [(("compile", tmp_path / "none.onnx", "--out", tmp_path / "c"), "no such model file"),
             (("compile", junk, "--out", tmp_path / "c"), "not a valid ONNX model"),
             (("compile", built.path, "--out", tmp_path / "c", "--name", "1bad"), "not a valid C identifier"),
             (("compile", built.path, "--out", tmp_path / "c", "--cut-at", "nope"), "no node of that name"),
             (("verify", "--onnx", built.path), "--onnx and --c go together"),
             (("verify", "--onnx", built.path, "--c", tmp_path / "empty"), "no readable manifest.json")]
    for args, expected in cases:
        code, text = _cli(*args)
        assert code == 1, (args, text)
        assert len(text.strip().splitlines()) == 1 and expected in text, (expected, text)
        assert "Traceback" not in text


def test_verify_refuses_c_from_another_model(byo_models, tmp_path):
    a = byo_models.get("cnn", "qdq", "s8", False)
    b = byo_models.get("cnn", "qdq", "s8", True)
    assert _cli("compile", a.path, "--out", tmp_path / "c")[0] == 0
    code, text = _cli("verify", "--onnx", b.path, "--c", tmp_path / "c", "--random", "10")
    assert code == 1 and "generated from a different model" in text


def test_compile_is_deterministic(byo_models, tmp_path):
    built = byo_models.get("blocks", "qdq", "u8", True)
    for d in ("a", "b"):
        assert _cli("compile", built.path, "--out", tmp_path / d, "--name", "net")[0] == 0
    for f in (tmp_path / "a").iterdir():
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes(), f.name


def test_manifest_accounts_flash_ram_and_kernel_sets(byo_models, tmp_path):
    built = byo_models.get("cnn", "qoperator", "u8", True)
    for k in ("ref", "opt"):
        assert _cli("compile", built.path, "--out", tmp_path / k, "--kernels", k, "--name", "net")[0] == 0
    m = json.loads((tmp_path / "ref" / "manifest.json").read_text())
    mo = json.loads((tmp_path / "opt" / "manifest.json").read_text())
    assert m["kernels"]["set"] == "ref" and mo["kernels"]["set"] == "opt"
    # the opt set takes the optimized conv and the reference kernels where no optimized one exists
    assert set(m["kernels"]["files"].values()) == {"ref"}
    assert mo["kernels"]["files"]["le_qconv_generic_x8"] == "opt" and "ref" in mo["kernels"]["files"].values()
    assert "kernels/byo/opt/le_qconv_generic_x8.c" in (tmp_path / "opt" / "net.c").read_text()
    assert m["flash_bytes"]["constants"] == sum(u["flash_bytes"] for u in m["units"]) > 0
    convs = [u for u in m["units"] if u["op"] == "QLinearConv"]
    # conv 1: 8 output channels x 9 taps x 1 input channel per output pixel (16x16)
    assert convs[0]["macs"] == 16 * 16 * 8 * 9
    assert m["ram_bytes"]["arena"] > 0
    arena = m["ram_bytes"]["arena"]
    for u in m["units"]:
        for o in u["outputs"]:
            if o["arena_offset"] is not None:
                size = int(np.prod(o["shape"])) * (4 if o["dtype"] == "float32" else 1)
                assert o["arena_offset"] + size <= arena


QEMU_CASES = [("cnn", "qdq", "s8", True, "mps2-an386"), ("blocks", "qoperator", "u8", False, "lm3s6965evb"),
              ("blocks", "qdq", "s8", True, "mps2-an386"), ("acts", "qdq", "u8", True, "netduinoplus2"),
              ("acts", "qoperator", "s8", False, "lm3s6965evb"), ("mobile", "qdq", "u8", True, "mps2-an386")]


@pytest.mark.parametrize("name,fmt,act,per_channel,board", QEMU_CASES,
                         ids=[f"{n}-{f}-{a}-{'pc' if p else 'pt'}-{b}" for n, f, a, p, b in QEMU_CASES])
def test_compiled_model_runs_bit_exact_on_cortex_m_in_qemu(byo_models, tmp_path, name, fmt, act, per_channel, board):
    """The same generated C, cross-compiled for Cortex-M4F (hard float; VFMA for QLinearAdd's fused
    multiply-adds) and Cortex-M3 (soft float; the round-to-odd software FMA), in QEMU: every output
    bit-exact with ORT."""
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    built = byo_models.get(name, fmt, act, per_channel)
    out = tmp_path / "c"
    assert _cli("compile", built.path, "--out", out)[0] == 0
    x = _inputs(name, json.loads((out / "manifest.json").read_text())["input"]["shape"], 60, seed=7)
    np.save(tmp_path / "x.npy", x)
    code, text = _cli("run", "--c", out, "--onnx", built.path, "--inputs", tmp_path / "x.npy", "--profile", "1",
                      "--board", board)
    assert code == 0, text
    assert "60/60 inputs bit-exact" in text and "instructions per inference" in text


def test_compiler_imports_neither_torch_nor_onnxruntime():
    import subprocess
    import sys

    code = ("import sys; import lenet_edge.compiler, lenet_edge.compiler.frontend, "
            "lenet_edge.compiler.emit, lenet_edge.compiler.ops, lenet_edge.compiler.ortmath; "
            "bad = [m for m in ('torch', 'onnxruntime') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


class _TwoHeads(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.a = torch.nn.Linear(4 * 6 * 6, 3)
        self.b = torch.nn.Linear(4 * 6 * 6, 2)

    def forward(self, x):
        f = torch.flatten(torch.relu(self.c(x)), 1)
        return self.a(f), torch.sigmoid(self.b(f))


def test_two_outputs_one_pointer_each_in_graph_order(tmp_path):
    require_tool("cc")
    import warnings
    torch.manual_seed(1)
    f = tmp_path / "two_float.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_TwoHeads().eval(), (torch.zeros(1, 1, 6, 6),), str(f), input_names=["x"],
                          output_names=["logits", "probs"], dynamic_axes={"x": {0: "N"}}, opset_version=17,
                          dynamo=False)
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).random((16, 1, 6, 6), dtype=np.float32))
    q = tmp_path / "two_int8.onnx"
    quantize(f, tmp_path / "calib.npy", q, fmt="qoperator", activations="u8")
    out = tmp_path / "c"
    assert _cli("compile", q, "--out", out, "--name", "two")[0] == 0
    header = (out / "two.h").read_text()
    assert ("int two_run(const float input[TWO_INPUT_SIZE], float output0[TWO_OUTPUT0_SIZE], "
            "float output1[TWO_OUTPUT1_SIZE]);") in header
    assert header.index("output0 logits") < header.index("output1 probs")
    code, text = _cli("verify", "--onnx", q, "--c", out, "--random", "1000")
    assert code == 0 and "1000/1000 inputs bit-exact" in text, text


def test_export_firmware_project_for_a_compiled_model(byo_models, tmp_path):
    """export --target firmware --c: a flat project that builds with plain `make` (what a user
    flashes); the same sources `run --c` boots."""
    require_tool("arm-none-eabi-gcc")
    require_tool("make")
    built = byo_models.get("acts", "qoperator", "u8", True)
    out = tmp_path / "c"
    assert _cli("compile", built.path, "--out", out, "--name", "acts")[0] == 0
    np.save(tmp_path / "x.npy", calibration("acts", 3))
    code, text = _cli("export", "--target", "firmware", "--c", out, "--board", "netduinoplus2",
                      "--inputs", tmp_path / "x.npy")
    assert code == 0, text
    project = out / "firmware" / "netduinoplus2"
    for f in ("Makefile", "board.mk", "model.mk", "main_byo.c", "acts.c", "acts_weights.h", "byo_inputs.h",
              "firmware.elf", "firmware.bin", "firmware.hex"):
        assert (project / f).is_file(), f
    assert "3 input(s) in flash" in text
    assert "LE_BYO_COUNT 3u" in (project / "byo_inputs.h").read_text()
    code, text = _cli("export", "--target", "c", "--c", out)
    assert code == 1 and "--c goes with --target firmware" in text


class _Padded(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c = torch.nn.Conv2d(1, 4, 3)
        self.fc = torch.nn.Linear(4 * 8 * 9, 3)

    def forward(self, x):
        return self.fc(torch.flatten(torch.nn.functional.pad(torch.relu(self.c(x)), (1, 2, 0, 1)), 1))


def test_pad(tmp_path):
    """QOperator: ORT pads the int8 codes with the zero point. QDQ: ORT pads the dequantized floats
    with 0.0, which is the zero point's value, so the C pads the codes. Both bit-exact."""
    require_tool("cc")
    import warnings
    torch.manual_seed(2)
    f = tmp_path / "pad_float.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Padded().eval(), (torch.zeros(1, 1, 9, 8),), str(f), input_names=["x"], output_names=["y"],
                          opset_version=17, dynamo=False)
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).random((16, 1, 9, 8), dtype=np.float32))
    for fmt, act in (("qoperator", "s8"), ("qoperator", "u8"), ("qdq", "s8"), ("qdq", "u8")):
        q = tmp_path / f"pad_{fmt}_{act}.onnx"
        quantize(f, tmp_path / "calib.npy", q, fmt=fmt, activations=act)
        assert _cli("compile", q, "--out", tmp_path / f"c_{fmt}_{act}")[0] == 0
        code, text = _cli("verify", "--onnx", q, "--c", tmp_path / f"c_{fmt}_{act}", "--random", "1000")
        assert code == 0 and "1000/1000 inputs bit-exact" in text, text


class _TanhFlatten(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c = torch.nn.Conv2d(2, 3, 3)
        self.fc = torch.nn.Linear(3 * 4 * 4, 4)

    def forward(self, x):
        return self.fc(torch.flatten(torch.tanh(self.c(x)), 1))


def test_layout_op_inside_a_float_chain(tmp_path):
    """Tanh is not quantized, so in QDQ form ORT flattens Tanh's float output before quantizing it:
    a layout op inside a per-code float chain (compiled as the move of the codes)."""
    require_tool("cc")
    import warnings
    torch.manual_seed(3)
    f = tmp_path / "tf_float.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_TanhFlatten().eval(), (torch.zeros(1, 2, 6, 6),), str(f), input_names=["x"],
                          output_names=["y"], opset_version=17, dynamo=False, dynamic_axes={"x": {0: "N"}})
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).standard_normal((16, 2, 6, 6)).astype(np.float32))
    for fmt in ("qdq", "qoperator"):
        q = tmp_path / f"tf_{fmt}.onnx"
        quantize(f, tmp_path / "calib.npy", q, fmt=fmt)
        assert _cli("compile", q, "--out", tmp_path / fmt)[0] == 0
        code, text = _cli("verify", "--onnx", q, "--c", tmp_path / fmt, "--random", "1000")
        assert code == 0 and "1000/1000 inputs bit-exact" in text, text
    ops = [u["op"] for u in json.loads((tmp_path / "qdq" / "manifest.json").read_text())["units"]]
    assert "Flatten" in ops and "Table" in ops, ops
