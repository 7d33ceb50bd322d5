"""`lenet-edge summary`: the paper's per-layer table, every figure computed from the model itself.

Counting rules (the paper's): a connection is one input link of one output unit, bias links
included; shared weights count once as parameters but once per use as connections; C3's masked
kernels are neither parameters nor connections. MACs are the multiplies per image (a subsampling
unit multiplies its 2x2 sum once; an RBF unit does one product per F6 component).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import click
import torch
from torch import nn

from lenet_edge.model.lenet5 import RBF, SparseConv2d, Subsampling, build_model

LAYERS = ("c1", "s2", "c3", "s4", "c5", "f6", "out")


@dataclass(frozen=True)
class LayerCount:
    name: str
    kind: str
    output_shape: tuple[int, ...]  # per image, without the batch dimension
    parameters: int                # trainable
    fixed: int                     # fixed (non-trainable) values, e.g. the RBF centres
    connections: int
    macs: int


def _links_per_output_channel(module: nn.Module) -> torch.Tensor:
    """[C_out] weight links feeding one output unit of each channel (bias excluded)."""
    if isinstance(module, SparseConv2d):
        kh, kw = module.kernel_size
        return module.mask.view(module.out_channels, -1).sum(1).long() * kh * kw
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return torch.full((module.out_channels,), module.in_channels // module.groups * kh * kw)
    if isinstance(module, nn.Linear):
        return torch.full((module.out_features,), module.in_features)
    raise TypeError(type(module))


def _count(name: str, module: nn.Module, out_shape: tuple[int, ...]) -> LayerCount:
    channels, spatial = out_shape[0], 1
    for d in out_shape[1:]:
        spatial *= d
    outputs = channels * spatial
    if isinstance(module, Subsampling):   # coefficient x (2x2 sum) + bias
        return LayerCount(name, "subsampling 2x2", out_shape, 2 * module.channels, 0, outputs * 5, outputs)
    if isinstance(module, nn.MaxPool2d):
        k = module.kernel_size * module.kernel_size
        return LayerCount(name, "max-pool 2x2", out_shape, 0, 0, outputs * k, 0)
    if isinstance(module, RBF):
        n_class, dim = module.centres.shape
        return LayerCount(name, "Euclidean RBF", out_shape, 0, n_class * dim, n_class * dim, n_class * dim)
    links = _links_per_output_channel(module)
    params = int(links.sum()) + channels                 # weights actually used + one bias each
    connections = int((links + 1).sum()) * spatial
    kind = "sparse conv 5x5" if isinstance(module, SparseConv2d) else (
        f"conv {module.kernel_size[0]}x{module.kernel_size[1]}" if isinstance(module, nn.Conv2d) else "full")
    return LayerCount(name, kind, out_shape, params, 0, connections, int(links.sum()) * spatial)


def layer_counts(arch: str) -> list[LayerCount]:
    model = build_model(arch)
    shapes: dict[str, tuple[int, ...]] = {}
    x = torch.zeros(1, 1, 32, 32)
    with torch.no_grad():
        for n in LAYERS:  # each layer in turn, only to read its output shape
            x = getattr(model, n)(x.flatten(1) if n == "f6" else x)
            shapes[n] = tuple(x.shape[1:])
    return [_count(n, getattr(model, n), shapes[n]) for n in LAYERS]


def summary_cmd(arch: str, as_json: bool) -> None:
    rows = layer_counts(arch)
    total = {k: sum(getattr(r, k) for r in rows) for k in ("parameters", "fixed", "connections", "macs")}
    if as_json:
        click.echo(json.dumps({"arch": arch, "layers": [asdict(r) for r in rows], "total": total}, indent=2))
        return
    click.echo(f"LeNet-5 --arch {arch}")
    head = f"{'layer':<7}{'kind':<17}{'output':>12}{'parameters':>20}{'connections':>13}{'MACs':>10}"
    click.echo(head)
    click.echo("-" * len(head))
    for r in rows:
        shape = "x".join(map(str, r.output_shape))
        params = f"{r.parameters:,}" + (f" ({r.fixed:,} fixed)" if r.fixed else "")
        click.echo(f"{r.name:<7}{r.kind:<17}{shape:>12}{params:>20}{r.connections:>13,}{r.macs:>10,}")
    click.echo("-" * len(head))
    click.echo(f"{'total':<36}{total['parameters']:>20,}{total['connections']:>13,}{total['macs']:>10,}")
