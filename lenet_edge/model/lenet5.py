"""LeNet-5 as published (LeCun et al. 1998, `--arch paper`) and the common modern variant.

Both take a float input [N, 1, 32, 32] made by `preprocess` from raw MNIST bytes, and both expose
the same layer names (c1, s2, c3, s4, c5, f6, out) so summary, quantization and export treat them
alike. Shapes per layer (N images):

    c1 [N,6,28,28] -> s2 [N,6,14,14] -> c3 [N,16,10,10] -> s4 [N,16,5,5]
       -> c5 [N,120,1,1] -> f6 [N,84] -> out [N,10]
"""
from __future__ import annotations

from importlib import resources

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lenet_edge.errors import LenetEdgeError

ARCHS = ("paper", "modern")

# Squashing function f(a) = A tanh(S a), Appendix A.
SQUASH_A = 1.7159
SQUASH_S = 2.0 / 3.0

# Input scaling: raw byte 0 (background) -> -0.1, 255 (ink) -> 1.175; padding uses byte 0.
PIXEL_LO, PIXEL_HI = -0.1, 1.175
PAD = 2  # 28x28 -> 32x32

# Table I: the S2 maps each C3 map reads.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

DEFAULT_MAP_J = 0.1  # the "rubbish class" penalty j of eq. 9 (not given in the paper)


def c3_mask() -> torch.Tensor:
    """[16, 6] 0/1 connection mask of Table I (row = C3 map, column = S2 map)."""
    mask = torch.zeros(16, 6)
    for k, inputs in enumerate(C3_TABLE):
        mask[k, list(inputs)] = 1.0
    return mask


def rbf_glyphs() -> np.ndarray:
    """[10, 84] float32 of +-1: the fixed RBF centres, row-major 12 rows of 7 columns."""
    text = resources.files("lenet_edge.model").joinpath("rbf_glyphs.txt").read_text()
    rows = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith(";")]
    glyphs = np.zeros((10, 84), dtype=np.float32)
    i = 0
    for digit in range(10):
        if rows[i] != str(digit):
            raise LenetEdgeError(f"rbf_glyphs.txt: expected digit header {digit!r}, got {rows[i]!r}")
        bitmap = rows[i + 1 : i + 13]
        if len(bitmap) != 12 or any(len(r) != 7 or set(r) - {"#", "."} for r in bitmap):
            raise LenetEdgeError(f"rbf_glyphs.txt: digit {digit} is not a 12x7 bitmap of '#' and '.'")
        glyphs[digit] = [1.0 if ch == "#" else -1.0 for r in bitmap for ch in r]
        i += 13
    return glyphs


def preprocess(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Raw bytes [N, 28, 28] (or [N,1,28,28]) uint8 -> scaled, padded float [N, 1, 32, 32]."""
    x = torch.as_tensor(np.asarray(images)).reshape(-1, 1, 28, 28)
    x = F.pad(x.to(torch.float32), (PAD, PAD, PAD, PAD), value=0.0)
    return PIXEL_LO + (PIXEL_HI - PIXEL_LO) * x / 255.0


def squash(a: torch.Tensor) -> torch.Tensor:
    """f(a) = 1.7159 tanh(2a/3): f(+-1) ~ +-1, |f| < 1.7159."""
    return SQUASH_A * torch.tanh(SQUASH_S * a)


class Subsampling(nn.Module):
    """S2/S4: per map, (sum of a 2x2 block) * coefficient + bias. No squashing here.

    Computed as a depthwise 2x2 stride-2 convolution whose four weights are the coefficient, which is
    exactly how the ONNX export writes it.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.coef = nn.Parameter(torch.empty(channels))
        self.bias = nn.Parameter(torch.empty(channels))

    def kernel(self) -> torch.Tensor:
        """[C, 1, 2, 2]: the coefficient repeated over the 2x2 window."""
        return self.coef.view(-1, 1, 1, 1).expand(-1, 1, 2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel(), self.bias, stride=2, groups=self.channels)


class SparseConv2d(nn.Conv2d):
    """A Conv2d whose weight is multiplied by a fixed 0/1 [out, in] mask: masked kernels are exact
    zeros and get no gradient."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, mask: torch.Tensor):
        super().__init__(in_ch, out_ch, kernel_size)
        self.register_buffer("mask", mask.view(out_ch, in_ch, 1, 1).clone())

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.masked_weight(), self.bias)


class RBF(nn.Module):
    """Euclidean RBF output: y_c = sum_j (x_j - P_cj)^2 with fixed +-1 centres P [10, 84]."""

    def __init__(self):
        super().__init__()
        self.register_buffer("centres", torch.from_numpy(rbf_glyphs()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Summed in float64 and rounded once: y reaches ~200, where float32 summation order alone
        # would move it by several ulps; the ONNX export does the same, so both agree to the ulp.
        d = x.double().unsqueeze(1) - self.centres.double()
        return (d * d).sum(dim=-1).float()


def _uniform_fan_in_(weight: torch.Tensor, bias: torch.Tensor, fan_in: torch.Tensor | float) -> None:
    """U(+-2.4/F_i) for the weights and the bias of each unit; fan_in is per output unit or scalar."""
    bound = 2.4 / torch.as_tensor(fan_in, dtype=torch.float32)
    with torch.no_grad():
        b_w = bound.view(-1, *([1] * (weight.dim() - 1))) if bound.dim() else bound
        weight.uniform_(-1.0, 1.0).mul_(b_w)
        bias.uniform_(-1.0, 1.0).mul_(bound)


class LeNet5Paper(nn.Module):
    """The 1998 network: tanh-like squashing everywhere, trainable subsampling, sparse C3, RBF out."""

    arch = "paper"

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.s2 = Subsampling(6)
        self.c3 = SparseConv2d(6, 16, 5, c3_mask())
        self.s4 = Subsampling(16)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.out = RBF()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_fan_in_(self.c1.weight, self.c1.bias, 25)
        _uniform_fan_in_(self.s2.coef, self.s2.bias, 4)
        _uniform_fan_in_(self.c3.weight, self.c3.bias, 25 * self.c3.mask.view(16, 6).sum(1))
        with torch.no_grad():
            self.c3.weight.mul_(self.c3.mask)  # masked weights are stored as exact zeros
        _uniform_fan_in_(self.s4.coef, self.s4.bias, 4)
        _uniform_fan_in_(self.c5.weight, self.c5.bias, 400)
        _uniform_fan_in_(self.f6.weight, self.f6.bias, 120)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[N,1,32,32] float32 -> F6 state [N,84] float64."""
        x = squash(self.c1(x))
        x = squash(self.s2(x))
        x = squash(self.c3(x))
        x = squash(self.s4(x))
        # C5, F6 and the RBF after them run in float64 (the ONNX float export does the same): these
        # are the long sums (400 and 120 terms) whose float32 rounding the RBF would amplify into
        # the scores, so torch and ONNX Runtime then agree to within 1e-4 on every score.
        x = F.conv2d(x.double(), self.c5.weight.double(), self.c5.bias.double())
        x = squash(x).flatten(1)
        x = squash(F.linear(x, self.f6.weight.double(), self.f6.bias.double()))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N,1,32,32] -> RBF penalties y [N,10] (lower = better)."""
        return self.out(self.features(x))

    @staticmethod
    def predict(scores: torch.Tensor) -> torch.Tensor:
        return scores.argmin(dim=1)  # first index on ties, like ONNX ArgMin and the C code


class LeNet5Modern(nn.Module):
    """What most people train today: dense C3, ReLU, 2x2 max-pool, linear classifier + softmax."""

    arch = "modern"

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.s2 = nn.MaxPool2d(2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.s4 = nn.MaxPool2d(2)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.out = nn.Linear(84, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.s2(F.relu(self.c1(x)))
        x = self.s4(F.relu(self.c3(x)))
        x = F.relu(self.c5(x)).flatten(1)
        return F.relu(self.f6(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N,1,32,32] -> logits [N,10] (higher = better)."""
        return self.out(self.features(x))

    @staticmethod
    def predict(scores: torch.Tensor) -> torch.Tensor:
        return scores.argmax(dim=1)


def build_model(arch: str) -> nn.Module:
    if arch == "paper":
        return LeNet5Paper()
    if arch == "modern":
        return LeNet5Modern()
    raise LenetEdgeError(f"unknown architecture {arch!r} (choose from {', '.join(ARCHS)})")


def map_loss(y: torch.Tensor, target: torch.Tensor, j: float = DEFAULT_MAP_J) -> torch.Tensor:
    """Eq. 9: mean over patterns of y_D + log(e^-j + sum_i e^-y_i), i.e. the cross-entropy over the
    11 logits [-y_0..-y_9, -j] with the true class as target. Never negative."""
    rubbish = torch.full_like(y[:, :1], -j)
    return F.cross_entropy(torch.cat([-y, rubbish], dim=1), target)


def loss_fn(model: nn.Module, scores: torch.Tensor, target: torch.Tensor, j: float = DEFAULT_MAP_J):
    if model.arch == "paper":
        return map_loss(scores, target, j)
    return F.cross_entropy(scores, target)
