"""Building blocks of SIREN-style INRs: positional encoding and sine layers."""

from __future__ import annotations

import math

import torch
from torch import nn


class PositionalEncoding(nn.Module):
    """gamma(t) = [t, sin(sigma^k pi t), cos(sigma^k pi t)] for k = 0..L-1 (interleaved).

    With L = 16 and sigma = 2 this is the paper's 33-dimensional embedding. Frequencies are
    relative to the clip (t spans [-1, 1]), so in Hz they scale with the clip length.
    """

    def __init__(self, num_frequencies: int, sigma: float):
        super().__init__()
        self.num_frequencies = num_frequencies
        freqs = math.pi * sigma ** torch.arange(num_frequencies, dtype=torch.float64)
        self.register_buffer("freqs", freqs.float(), persistent=False)

    @property
    def out_features(self) -> int:
        return 1 + 2 * self.num_frequencies

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = t * self.freqs  # (N, 1) * (L,) -> (N, L)
        pairs = torch.stack((torch.sin(angles), torch.cos(angles)), dim=-1)
        return torch.cat((t, pairs.flatten(-2)), dim=-1)


def siren_uniform_(weight: torch.Tensor, bound: float) -> None:
    with torch.no_grad():
        weight.uniform_(-bound, bound)


class SineLayer(nn.Module):
    """y = sin(omega * (W x + b)), with omega folded into one addmm call.

    Weight init U(+-sqrt(6/in)/omega) (hidden init), or U(+-1/in) for the very first layer
    of a SIREN without positional encoding; the bias keeps PyTorch's default Linear init.
    """

    def __init__(self, in_features: int, out_features: int, omega: float, first_raw: bool = False):
        super().__init__()
        self.omega = float(omega)
        self.linear = nn.Linear(in_features, out_features)
        bound = 1.0 / in_features if first_raw else math.sqrt(6.0 / in_features) / self.omega
        siren_uniform_(self.linear.weight, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = torch.addmm(self.linear.bias, x, self.linear.weight.t(), beta=self.omega, alpha=self.omega)
        return torch.sin(pre)


def output_layer(in_features: int, omega: float) -> nn.Linear:
    """Linear output layer; weight init U(+-sqrt(6/in)/omega) as in the SIREN reference code."""
    layer = nn.Linear(in_features, 1)
    siren_uniform_(layer.weight, math.sqrt(6.0 / in_features) / omega)
    return layer
