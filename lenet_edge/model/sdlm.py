"""Stochastic diagonal Levenberg-Marquardt (LeCun et al. 1998, Appendix C) for the paper model.

Each parameter w_k gets its own step  eps_k = eta / (mu + h_kk),  where h_kk is a Gauss-Newton
estimate of the diagonal second derivative of the loss, re-estimated before every pass from 500
training patterns and held fixed for the pass.

Curvature recipe (docs: lenet5-paper.md section 8):
  * at the F6 states: d2E/dx2 = 2 (the Hessian of the correct-class term y_D);
  * through a squashing unit: d2E/da2 = f'(a)^2 * d2E/dx2;
  * through a weighted sum a_i = sum_j w_ij x_j:  d2E/dx_j2 = sum_i w_ij^2 d2E/da_i2, and a
    connection's curvature is x_j^2 * d2E/da_i2; a shared weight sums over its connections;
  * a subsampling coefficient's connection input is the 2x2 sum; a bias's input is 1.
The backward pass of curvatures is linear, so it is done with autograd on the same layer functions
with squared weights (for h_x) or squared inputs (for h_w).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from lenet_edge.model.lenet5 import SQUASH_A, SQUASH_S, LeNet5Paper, squash

# Global rate eta by pass (1-based), section 8: passes 1-2, 3-5, 6-8, 9-12, 13+.
ETA_SCHEDULE = ((2, 5e-4), (5, 2e-4), (8, 1e-4), (12, 5e-5), (None, 1e-5))
MU = 0.02
CURVATURE_PATTERNS = 500


def eta_for_pass(epoch: int) -> float:
    """Global learning rate for 1-based pass `epoch`."""
    for last, eta in ETA_SCHEDULE:
        if last is None or epoch <= last:
            return eta
    raise AssertionError("unreachable")


def _dsquash2(a: torch.Tensor) -> torch.Tensor:
    """f'(a)^2 where f'(a) = A S (1 - tanh^2(S a))."""
    t = torch.tanh(SQUASH_S * a)
    return (SQUASH_A * SQUASH_S * (1 - t * t)) ** 2


def _linear_curvature(fn, x, weight, h_out):
    """For a layer out = fn(x, W) (no bias), given d2E/dout2 `h_out` (per pattern), return
    (h_w = sum h_out * x^2 over connections, h_x = backprop of h_out through W^2)."""
    w_var = weight.detach().clone().requires_grad_(True)
    (h_w,) = torch.autograd.grad((fn(x.detach() ** 2, w_var) * h_out).sum(), w_var)
    z = torch.zeros_like(x, requires_grad=True)
    (h_x,) = torch.autograd.grad((fn(z, weight.detach() ** 2) * h_out).sum(), z)
    return h_w, h_x


@torch.no_grad()
def _forward_record(model: LeNet5Paper, x: torch.Tensor):
    """Forward pass keeping each layer's input and pre-activation."""
    rec = {}
    for name in ("c1", "s2", "c3", "s4", "c5", "f6"):
        layer = getattr(model, name)
        if name == "f6":
            x = x.flatten(1)
        a = layer(x)
        rec[name] = (x, a)
        x = squash(a)
    return rec


def estimate_curvature(model: LeNet5Paper, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean diagonal Gauss-Newton curvature h_kk over `images` [P,1,32,32], keyed by parameter name."""
    rec = _forward_record(model, images)
    n = images.shape[0]
    h: dict[str, torch.Tensor] = {}
    h_x = torch.full_like(rec["f6"][1], 2.0)  # d2E/dx2 at the F6 states
    for name in ("f6", "c5", "s4", "c3", "s2", "c1"):
        layer = getattr(model, name)
        x, a = rec[name]
        h_a = _dsquash2(a) * h_x.reshape(a.shape)
        bias_dims = [d for d in range(h_a.dim()) if d != 1]
        h[f"{name}.bias"] = h_a.sum(dim=bias_dims) / n
        if name == "f6":
            h_w, h_x = _linear_curvature(F.linear, x, layer.weight, h_a)
            h[f"{name}.weight"] = h_w / n
        elif name in ("s2", "s4"):
            # coefficient: connection input is the 2x2 sum; inputs get coef^2 times the curvature.
            window_sum = F.avg_pool2d(x, 2) * 4
            h[f"{name}.coef"] = (h_a * window_sum ** 2).sum(dim=(0, 2, 3)) / n
            h_x = torch.repeat_interleave(torch.repeat_interleave(h_a, 2, 2), 2, 3) * (layer.coef.detach() ** 2).view(1, -1, 1, 1)
        else:
            weight = layer.masked_weight() if name == "c3" else layer.weight
            h_w, h_x = _linear_curvature(F.conv2d, x, weight, h_a)
            if name == "c3":
                h_w = h_w * layer.mask
            h[f"{name}.weight"] = h_w / n
    return h


class SDLM(torch.optim.Optimizer):
    """w_k <- w_k - eps_k * dE/dw_k with eps_k = eta / (mu + h_kk); call `set_curvature` before each pass."""

    def __init__(self, named_params, mu: float = MU):
        named = [(n, p) for n, p in named_params if p.requires_grad]
        self.names = {id(p): n for n, p in named}
        super().__init__([p for _, p in named], {"lr": eta_for_pass(1), "mu": mu})
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["step_size"] = torch.full_like(p, group["lr"] / mu)

    def set_curvature(self, h: dict[str, torch.Tensor], eta: float) -> dict[str, tuple[float, float, float]]:
        """Install eps_k for the coming pass; returns per-parameter (min, median, max) eps for logging."""
        stats = {}
        for group in self.param_groups:
            group["lr"] = eta
            for p in group["params"]:
                name = self.names[id(p)]
                eps = eta / (group["mu"] + h[name].detach().clamp_min(0))
                self.state[p]["step_size"] = eps
                stats[name] = (eps.min().item(), eps.median().item(), eps.max().item())
        return stats

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.sub_(self.state[p]["step_size"] * p.grad)
