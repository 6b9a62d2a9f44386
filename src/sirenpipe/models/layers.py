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

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = t * self.freqs  # (N, 1) * (L,) -> (N, L)
        pairs = torch.stack((torch.sin(angles), torch.cos(angles)), dim=-1)
        return torch.cat((t, pairs.flatten(-2)), dim=-1)


def siren_uniform_(weight: torch.Tensor, bound: float) -> None:
    with torch.no_grad():
        weight.uniform_(-bound, bound)


class _SineAffine(torch.autograd.Function):
    """sin(omega * (x W^T + b)) with a hand-written backward.

    The forward is one addmm (omega folded into alpha/beta) and one sin. The backward applies
    omega to the small matrices (W, dW, db) instead of to N-row tensors, and computes the
    gradient of the pre-activation in the buffer of cos(pre): autograd's own backward of the
    same expression makes about two more full passes over each N x width activation.
    Works under autocast (the backward runs in the activations' dtype) and under vmap.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(x, weight, bias, omega):
        pre = torch.addmm(bias, x, weight.t(), beta=omega, alpha=omega)
        return torch.sin(pre), pre

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, _, ctx.omega = inputs
        ctx.mark_non_differentiable(output[1])
        ctx.save_for_backward(x, weight, output[1])

    @staticmethod
    def backward(ctx, grad, _):
        x, weight, pre = ctx.saved_tensors
        g = torch.cos(pre).mul_(grad)  # d loss / d pre, without the factor omega
        grad_x = g.mm(weight.to(g.dtype) * ctx.omega) if ctx.needs_input_grad[0] else None
        grad_w = g.t().mm(x.to(g.dtype)).mul_(ctx.omega)
        grad_b = g.sum(0).mul_(ctx.omega)
        return grad_x, grad_w, grad_b, None


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
        return _SineAffine.apply(x, self.linear.weight, self.linear.bias, self.omega)[0]


def output_layer(in_features: int, omega: float) -> nn.Linear:
    """Linear output layer; weight init U(+-sqrt(6/in)/omega) as in the SIREN reference code."""
    layer = nn.Linear(in_features, 1)
    siren_uniform_(layer.weight, math.sqrt(6.0 / in_features) / omega)
    return layer
