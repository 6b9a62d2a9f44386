"""The latent-grid model (configuration and contexts: latent_config.py): latent grids, their
quantization while training, the float ARM that estimates their rate, and the synthesis network.

Quantizers (Cool-chic `component/core/quantizer.py`, C3 `model/latents.py`):
- "noise": y + uniform noise in [-1/2, 1/2);
- "softround": softround(softround(y, T) + Kumaraswamy noise - 1/2, T), the noise's shape set
  by `kumaraswamy` (1: uniform);
- "ste": round(y) forward, the soft-round gradient at a small T backward;
- "hard": round(y), no gradient (the stream's latents).
Every mode clamps to [LATENT_MIN, LATENT_MAX] as the stream does.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .latent_config import LATENT_GAIN, LATENT_MAX, LATENT_MIN, LatentGridConfig, context_indices

RATE_FLOOR = 2.0**-12  # every latent's probability is at least this (the coding table's floor)
LOG_SCALE_MIN, LOG_SCALE_MAX = -5.0, 5.0  # the ARM's log Laplace scale, in units of the latent step


def softround(x: torch.Tensor, temperature: float) -> torch.Tensor:
    """A differentiable round: r + tanh((x - r - 1/2) / T) / (2 tanh(1 / (2T))) + 1/2, r = floor(x)."""
    r = torch.floor(x)
    return r + torch.tanh((x - r - 0.5) / temperature) / (2 * math.tanh(1 / (2 * temperature))) + 0.5


def kumaraswamy_noise(shape, a: float, generator: torch.Generator | None, device) -> torch.Tensor:
    """Noise in [-1/2, 1/2) from a Kumaraswamy(a, b) whose mode stays at 1/2 (C3's
    kumaraswamy_b_fn); a = 1 is uniform."""
    b = (2**a * (a - 1) + 1) / a if a > 1 else 1.0
    u = torch.rand(shape, generator=generator, device=device).clamp(1e-6, 1 - 1e-6)
    return (1 - (1 - u) ** (1 / b)) ** (1 / a) - 0.5


def quantize(y: torch.Tensor, mode: str, temperature: float = 0.3, kumaraswamy: float = 1.0,
             generator: torch.Generator | None = None) -> torch.Tensor:
    if mode == "hard":
        q = torch.round(y.detach())
    elif mode == "ste":
        soft = softround(y, 1e-4)
        q = soft + (torch.round(y) - soft).detach()
    elif mode == "noise":
        q = y + torch.rand(y.shape, generator=generator, device=y.device) - 0.5
    elif mode == "softround":
        q = softround(softround(y, temperature) + kumaraswamy_noise(y.shape, kumaraswamy, generator, y.device), temperature)
    else:
        raise ValueError(f"unknown quantizer mode {mode!r}")
    return q.clamp(LATENT_MIN, LATENT_MAX)


class Arm(nn.Module):
    """The autoregressive entropy model: a context of already-decoded latents to the (mu, log b)
    of a Laplace for the next one. Residual ReLU layers, then a linear output over [hidden,
    context] plus a per-grid bias. codec.latent_coding.IntegerArm is its fixed-point twin."""

    def __init__(self, config: LatentGridConfig):
        super().__init__()
        c = config.arm_inputs
        self.hidden = nn.ModuleList(nn.Linear(c, c) for _ in range(config.arm_hidden))
        self.out = nn.Linear(2 * c, 2)
        self.grid_bias = nn.Parameter(torch.zeros(config.num_grids, 2))
        for layer in self.hidden:
            nn.init.normal_(layer.weight, std=0.1 / math.sqrt(c))
            nn.init.zeros_(layer.bias)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, context: torch.Tensor, grid: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, log b) for contexts (M, C)."""
        h = context
        for layer in self.hidden:
            h = F.relu(h + layer(h))
        out = self.out(torch.cat([h, context], dim=-1)) + self.grid_bias[grid]
        return out[:, 0], out[:, 1].clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)


class Synthesis(nn.Module):
    """The L upsampled latent channels at each sample to one output per head: a shared ReLU trunk,
    per head a ReLU MLP and a linear output, plus a linear path from the latents, then a residual
    FIR filter per head (zero at first)."""

    def __init__(self, config: LatentGridConfig):
        super().__init__()
        self.taps = config.head_taps
        width, layers = config.num_grids, []
        for w in config.trunk:
            layers.append(nn.Linear(width, w))
            width = w
        self.trunk = nn.ModuleList(layers)
        self.linear = nn.Linear(config.num_grids, config.num_heads)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.heads = nn.ModuleList(_Head(width, config.head_widths, config.head_taps) for _ in range(config.num_heads))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L) -> (N, heads); without gradients the per-sample layers run in chunks (bounded memory)."""
        chunk = len(x) if torch.is_grad_enabled() else 1 << 16
        outputs = torch.cat([self._per_sample(x[i : i + chunk]) for i in range(0, len(x), chunk)])
        return torch.stack([head.filtered(outputs[:, i]) for i, head in enumerate(self.heads)], dim=1)

    def _per_sample(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for layer in self.trunk:
            h = F.relu(layer(h))
        direct = self.linear(x)
        return torch.stack([head(h) + direct[:, i] for i, head in enumerate(self.heads)], dim=1)


class _Head(nn.Module):
    def __init__(self, width: int, widths: tuple[int, ...], taps: int):
        super().__init__()
        layers = []
        for j, w in enumerate(widths):
            layers.append(nn.Linear(width, w))
            width = w
        for j, layer in enumerate(layers):
            self.add_module(str(j), layer)
        self.layers = layers
        self.out = nn.Linear(width, 1, bias=False)
        nn.init.normal_(self.out.weight, std=1e-3)
        self.filter = nn.Parameter(torch.zeros(taps)) if taps > 1 else None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            h = F.relu(layer(h))
        return self.out(h)[:, 0]

    def filtered(self, y: torch.Tensor) -> torch.Tensor:
        if self.filter is None:
            return y
        pad = len(self.filter) // 2
        padded = F.pad(y[None, None], (pad, pad), mode="replicate")
        return y + F.conv1d(padded, self.filter[None, None])[0, 0]


class LatentGridModel(nn.Module):
    """Latent grids for one clip of num_samples, the ARM and the synthesis network."""

    def __init__(self, config: LatentGridConfig, num_samples: int):
        super().__init__()
        self.config, self.num_samples = config, int(num_samples)
        lengths = config.grid_lengths(self.num_samples)
        self.latents = nn.ParameterList(nn.Parameter(torch.zeros(n)) for n in lengths)
        self.arm = Arm(config)
        self.synthesis = Synthesis(config)
        self._contexts: dict[int, torch.Tensor] = {}  # built on first use: a decoder never needs them

    def network_state(self) -> dict[str, torch.Tensor]:
        """The ARM's and the synthesis network's parameters (config.parameter_shapes' names)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("latents.")}

    def num_parameters(self) -> int:
        return self.config.num_parameters()

    def quantized_latents(self, mode: str = "hard", **kwargs) -> list[torch.Tensor]:
        """The decoder's integer latents (float tensors), or their training surrogate."""
        return [quantize(LATENT_GAIN * y, mode, **kwargs) for y in self.latents]

    def set_latents(self, latents: list) -> None:
        """Load integer latents (per grid) as the model's (hard-quantized) latents."""
        with torch.no_grad():
            for param, values in zip(self.latents, latents):
                param.copy_(torch.as_tensor(np.asarray(values), dtype=param.dtype) / LATENT_GAIN)

    def upsample(self, latents: list[torch.Tensor]) -> torch.Tensor:
        """(N, L): each grid linearly interpolated to every sample (latent j of stride s sits on sample j*s)."""
        channels = []
        for q, stride in zip(latents, self.config.strides()):
            full = F.interpolate(q[None, None], size=(len(q) - 1) * stride + 1, mode="linear", align_corners=True)
            channels.append(full[0, 0, : self.num_samples])
        return torch.stack(channels, dim=1)

    def synthesize(self, latents: list[torch.Tensor]) -> torch.Tensor:
        """(N, heads) from the latents."""
        return self.synthesis(self.upsample(latents))

    def forward(self, mode: str = "hard", **kwargs) -> torch.Tensor:
        return self.synthesize(self.quantized_latents(mode, **kwargs))

    def contexts(self, latents: list[torch.Tensor], grid: int) -> torch.Tensor:
        """(n_grid, C) context of every latent of a grid."""
        own = F.pad(latents[grid], (1, 0))
        parent = F.pad(latents[grid + 1], (1, 0)) if grid + 1 < len(latents) else own.new_zeros(1)
        if grid not in self._contexts:  # +1: position 0 of the padded grids is the zero context
            lengths = [len(q) for q in latents]
            index = context_indices(lengths[grid], lengths[grid + 1] if grid + 1 < len(lengths) else None,
                                    self.config.arm_context)
            self._contexts[grid] = torch.as_tensor(index + 1, device=latents[grid].device)
        index = self._contexts[grid]
        c = self.config.arm_context
        return torch.cat([own[index[:, :c]], parent[index[:, c:]]], dim=1)

    def rate_bits(self, latents: list[torch.Tensor]) -> torch.Tensor:
        """Estimated coded bits of the latents under the float ARM (differentiable)."""
        total = latents[0].new_zeros(())
        for grid, q in enumerate(latents):
            mu, log_scale = self.arm(self.contexts(latents, grid), grid)
            total = total + laplace_bits(q, mu, log_scale.exp()).sum()
        return total


def laplace_bits(x: torch.Tensor, mu: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """-log2 of the probability of integers x under Laplace(mu, scale) integrated over [x - 1/2,
    x + 1/2], plus RATE_FLOOR; stable in both tails (C3 `model/laplace.py`)."""
    upper, lower = (x + 0.5 - mu) / scale, (x - 0.5 - mu) / scale
    # below the mode: 0.5 (e^u - e^l); above: 0.5 (e^-l - e^-u); the larger exponent is <= 0 either way
    below = 0.5 * (torch.exp(upper.clamp(max=0)) - torch.exp(lower.clamp(max=0)))
    above = 0.5 * (torch.exp(-lower.clamp(min=0)) - torch.exp(-upper.clamp(min=0)))
    middle = 1 - 0.5 * torch.exp(-upper.clamp(min=0)) - 0.5 * torch.exp(lower.clamp(max=0))
    p = torch.where(upper <= 0, below, torch.where(lower >= 0, above, middle))
    return -torch.log2(p + RATE_FLOOR)
