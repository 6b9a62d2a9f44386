"""The INR network: optional positional encoding, a shared sine trunk and one or more heads.

SIREN and PE-SIREN are the one-head case (all hidden layers in the trunk, the head is the
linear output layer). Siamese SIREN has two heads, each a stack of sine layers followed by a
linear output; the trunk is computed once per forward pass and feeds both heads.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import INRConfig, model_config
from .layers import PositionalEncoding, SineLayer, output_layer


class INR(nn.Module):
    """Maps time t in [-1, 1] (shape (N, 1)) to num_heads amplitude estimates (shape (N, H))."""

    def __init__(self, config: INRConfig):
        super().__init__()
        self.config = config
        c = config
        self.encoding = PositionalEncoding(c.pe_frequencies, c.pe_sigma) if c.pe_frequencies else None
        shapes = c.weight_shapes()  # the layers' (out, in), by state_dict name: the one geometry
        self.trunk = self._sine_stack([shapes[f"trunk.{i}.linear.weight"] for i in range(len(c.shared))],
                                      first_layer=True)
        self.heads = nn.ModuleList()
        for h in range(c.num_heads):
            hidden = [shapes[f"heads.{h}.{j}.linear.weight"] for j in range(len(c.head_widths))]
            layers = self._sine_stack(hidden, first_layer=not c.shared)
            _, last_width = shapes[f"heads.{h}.{len(c.head_widths)}.weight"]
            layers.append(output_layer(last_width, c.omega))
            self.heads.append(layers)

    def _sine_stack(self, shapes: list[tuple[int, int]], first_layer: bool) -> nn.Sequential:
        layers = nn.Sequential()
        for i, (out, in_features) in enumerate(shapes):
            is_first = first_layer and i == 0
            omega = self.config.omega_0 if is_first else self.config.omega
            # Without PE the first layer sees raw t and gets SIREN's U(+-1/in) init.
            layers.append(SineLayer(in_features, out, omega, first_raw=is_first and self.encoding is None))
        return layers

    def encode(self, t: torch.Tensor) -> torch.Tensor:
        """The network input for times t (N, 1): PE features, or t itself."""
        return self.encoding(t) if self.encoding is not None else t

    def forward_encoded(self, x: torch.Tensor) -> torch.Tensor:
        shared = self.trunk(x)
        return torch.cat([head(shared) for head in self.heads], dim=-1)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.forward_encoded(self.encode(t))

    # --- sizes -----------------------------------------------------------------------------
    def trunk_parameters(self) -> int:
        return sum(p.numel() for p in self.trunk.parameters())

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def build_model(config: INRConfig | str) -> INR:
    """A fresh INR of a config or a preset name (initialized from torch's current seed)."""
    if isinstance(config, str):
        config = model_config(config)
    return INR(config)
