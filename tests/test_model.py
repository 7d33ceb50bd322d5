"""The paper model's structure: counts, C3 table, squashing, input scaling, MAP loss, RBF."""
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from lenet_edge.cli import main
from lenet_edge.model.lenet5 import (
    C3_TABLE, LeNet5Paper, build_model, c3_mask, map_loss, preprocess, rbf_glyphs, squash,
)
from lenet_edge.model.summary import layer_counts

PAPER = {  # layer: (parameters, connections), LeCun et al. 1998 section II-B
    "c1": (156, 122_304), "s2": (12, 5_880), "c3": (1_516, 151_600), "s4": (32, 2_000),
    "c5": (48_120, 48_120), "f6": (10_164, 10_164), "out": (0, 840),
}


def test_per_layer_counts_match_the_paper():
    rows = {r.name: r for r in layer_counts("paper")}
    assert {n: (r.parameters, r.connections) for n, r in rows.items()} == PAPER
    assert sum(r.parameters for r in rows.values()) == 60_000
    assert sum(r.connections for r in rows.values()) == 340_908
    assert rows["out"].fixed == 840
    assert rows["c3"].macs == 150_000 and rows["c1"].macs == 117_600


def test_summary_json_cli():
    res = CliRunner().invoke(main, ["summary", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["total"]["parameters"] == 60_000 and data["total"]["connections"] == 340_908
    assert [tuple(layer["output_shape"]) for layer in data["layers"]][:3] == [(6, 28, 28), (6, 14, 14), (16, 10, 10)]


def test_trainable_parameters_exclude_the_masked_kernels():
    model = LeNet5Paper()
    dense = sum(p.numel() for p in model.parameters())
    assert dense - 36 * 25 == 60_000  # 36 masked 5x5 kernels are stored but never trained


def test_c3_table():
    mask = c3_mask()
    assert mask.shape == (16, 6)
    assert mask.sum(1).tolist() == [3] * 6 + [4] * 9 + [6]   # in-degree of each C3 map
    assert mask.sum(0).tolist() == [10] * 6                  # every S2 map feeds 10 C3 maps
    assert int(mask.sum()) == 60
    assert C3_TABLE[4] == (4, 5, 0) and C3_TABLE[14] == (0, 2, 3, 5)


def test_masked_c3_weights_are_zero_and_get_no_gradient():
    torch.manual_seed(0)
    model = LeNet5Paper()
    masked = model.c3.mask.expand_as(model.c3.weight) == 0
    assert torch.all(model.c3.weight[masked] == 0)
    model(preprocess(np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8))).sum().backward()
    assert torch.all(model.c3.weight.grad[masked] == 0)
    assert model.c3.weight.grad[~masked].abs().sum() > 0


def test_squashing_function():
    f = squash(torch.tensor([1.0, -1.0, 0.0, 100.0], dtype=torch.float64))
    assert f[0].item() == pytest.approx(1.0, abs=1e-5) and f[1].item() == pytest.approx(-1.0, abs=1e-5)
    assert f[2].item() == 0.0 and f[3].item() == pytest.approx(1.7159)
    a = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    squash(a).backward()
    assert a.grad.item() == pytest.approx(1.7159 * 2 / 3)


def test_input_scaling_and_padding():
    img = np.zeros((1, 28, 28), np.uint8)
    img[0, 0, 0] = 255
    x = preprocess(img)
    assert x.shape == (1, 1, 32, 32)
    assert x[0, 0, 2, 2].item() == pytest.approx(1.175)
    assert x[0, 0, 2, 3].item() == pytest.approx(-0.1)
    border = torch.cat([x[0, 0, :2].flatten(), x[0, 0, -2:].flatten(), x[0, 0, :, :2].flatten(), x[0, 0, :, -2:].flatten()])
    assert torch.allclose(border, torch.tensor(-0.1))


def test_map_loss_is_cross_entropy_over_eleven_logits_and_nonnegative():
    torch.manual_seed(1)
    y = torch.rand(64, 10, dtype=torch.float64) * 50
    t = torch.randint(0, 10, (64,))
    j = 0.1
    loss = map_loss(y, t, j)
    direct = (y[torch.arange(64), t] + torch.log(torch.exp(torch.tensor(-j, dtype=torch.float64)) + torch.exp(-y).sum(1))).mean()
    assert loss.item() == pytest.approx(direct.item(), rel=1e-12)
    assert (map_loss(y, t, j) >= 0).all()
    # j -> +inf: plain cross-entropy over -y; j -> -inf: loss -> y_D + (-j) (the MLE penalty plus a constant)
    ce = torch.nn.functional.cross_entropy(-y, t)
    assert map_loss(y, t, 1e4).item() == pytest.approx(ce.item(), rel=1e-9)
    assert map_loss(y, t, -1e3).item() == pytest.approx((y[torch.arange(64), t] + 1e3).mean().item(), rel=1e-9)


def test_rbf_identity_and_argmin_rule():
    model = LeNet5Paper()
    x = torch.rand(32, 84, dtype=torch.float64) * 3.4 - 1.7
    P = model.out.centres.double()
    y = model.out(x)
    assert y.dtype == torch.float32  # summed in float64, rounded once
    assert torch.allclose(y.double(), (x ** 2).sum(1, keepdim=True) - 2 * x @ P.T + 84, rtol=1e-7, atol=0)
    tie = torch.tensor([[5.0, 3.0, 3.0, 9.0] + [10.0] * 6])
    assert LeNet5Paper.predict(tie).item() == 1  # first index wins a tie


def test_glyphs_are_pm1_and_at_least_10_pixels_apart(tmp_path):
    g = rbf_glyphs()
    assert g.shape == (10, 84) and set(np.unique(g)) == {-1.0, 1.0}
    hamming = (g[:, None, :] != g[None, :, :]).sum(-1)
    assert hamming[~np.eye(10, dtype=bool)].min() >= 10
    from lenet_edge.plots import plot_glyphs
    import matplotlib.image

    plot_glyphs(g, tmp_path / "glyphs.png")
    png = matplotlib.image.imread(tmp_path / "glyphs.png")
    assert png.shape[0] > 50 and png.shape[1] > 300 and png[..., :3].min() < 0.2  # dark ink drawn


def test_init_bounds():
    torch.manual_seed(3)
    m = LeNet5Paper()
    assert m.c1.weight.abs().max() <= 2.4 / 25 and m.c5.weight.abs().max() <= 2.4 / 400
    assert m.f6.weight.abs().max() <= 2.4 / 120 and m.s2.coef.abs().max() <= 0.6
    assert m.c3.weight[15].abs().max() <= 2.4 / 150 + 1e-9


def test_unknown_arch_is_one_line_error():
    res = CliRunner().invoke(main, ["summary", "--arch", "resnet"])
    assert res.exit_code != 0
    assert "unknown architecture 'resnet'" in res.output and "Traceback" not in res.output
    with pytest.raises(Exception):
        build_model("resnet")
