"""The INR network: optional positional encoding, a shared sine trunk and one or more heads.

SIREN and PE-SIREN are the one-head case (all hidden layers in the trunk, the head is the
linear output layer). Siamese SIREN has two heads, each a stack of sine layers followed by a
linear output; the trunk is computed once per forward pass and feeds both heads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .layers import PositionalEncoding, SineLayer, output_layer


@dataclass(frozen=True)
class INRConfig:
    """Architecture of an INR; everything needed to rebuild it from a bitstream."""

    arch: str
    shared: tuple[int, ...]
    head_widths: tuple[int, ...] = ()
    num_heads: int = 1
    pe_frequencies: int = 0
    pe_sigma: float = 2.0
    omega_0: float = 30.0
    omega: float = 30.0

    def __post_init__(self):
        object.__setattr__(self, "shared", tuple(int(w) for w in self.shared))
        object.__setattr__(self, "head_widths", tuple(int(w) for w in self.head_widths))
        if not isinstance(self.num_heads, int) or isinstance(self.num_heads, bool):
            raise ValueError(f"num_heads must be an integer, got {self.num_heads!r}")
        if self.num_heads < 1 or self.num_heads > 8:
            raise ValueError(f"num_heads must be 1..8, got {self.num_heads}")
        widths = self.shared + self.head_widths
        if not widths:
            raise ValueError("an INR needs at least one hidden layer")
        if any(w < 1 or w > 8192 for w in widths):
            raise ValueError(f"layer widths must be 1..8192, got {widths}")
        if len(widths) > 32:
            raise ValueError("at most 32 hidden layers")
        for name, (low, high) in {"pe_sigma": (1e-3, 16.0), "omega_0": (1e-3, 1e5), "omega": (1e-3, 1e5)}.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")
        if not isinstance(self.pe_frequencies, int) or not 0 <= self.pe_frequencies <= 32:
            raise ValueError(f"pe_frequencies must be 0..32, got {self.pe_frequencies}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["shared"] = list(self.shared)
        d["head_widths"] = list(self.head_widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "INRConfig":
        return cls(**d)


class INR(nn.Module):
    """Maps time t in [-1, 1] (shape (N, 1)) to num_heads amplitude estimates (shape (N, H))."""

    def __init__(self, config: INRConfig):
        super().__init__()
        self.config = config
        c = config
        self.encoding = PositionalEncoding(c.pe_frequencies, c.pe_sigma) if c.pe_frequencies else None
        in_features = self.encoding.out_features if self.encoding else 1
        self.trunk, width = self._sine_stack(in_features, c.shared, first_layer=True)
        self.heads = nn.ModuleList()
        for _ in range(c.num_heads):
            layers, head_width = self._sine_stack(width, c.head_widths, first_layer=not c.shared)
            layers.append(output_layer(head_width, c.omega))
            self.heads.append(layers)

    def _sine_stack(self, in_features: int, widths, first_layer: bool):
        layers = nn.Sequential()
        for i, out in enumerate(widths):
            is_first = first_layer and i == 0
            omega = self.config.omega_0 if is_first else self.config.omega
            # Without PE the first layer sees raw t and gets SIREN's U(+-1/in) init.
            layers.append(SineLayer(in_features, out, omega, first_raw=is_first and self.encoding is None))
            in_features = out
        return layers, in_features

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

    def paper_style_parameters(self) -> int:
        """The paper's '#Params' column: the trunk counted six times, each head once.

        Reverse-engineered from every row of the paper's Tables 1-3 (e.g. Siamese SIREN
        513,026 = 6 x 74,496 + 66,050). A one-head model counts as all trunk (843,270 for a
        3x256 PE-SIREN). For comparison with the paper only; the true count is num_parameters().
        """
        total = self.num_parameters()
        if self.config.num_heads == 1:
            return 6 * total
        trunk = self.trunk_parameters()
        return 6 * trunk + (total - trunk)
