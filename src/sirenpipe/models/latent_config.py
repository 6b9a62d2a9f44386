"""The latent-grid family's configuration and the ARM's causal contexts (no torch: the workflow
and rate control read configs at parse time, and the decoder builds contexts in numpy).

A latent-grid model (Cool-chic / C3 in one dimension, docs/design/latent-grid.md) stores L integer
latent grids over time, grid l with one latent every 2**(min_stride_log2 + l) samples. Each grid is
linearly interpolated to the sample rate; a small synthesis network maps the L channels at each
sample to one output per head. An autoregressive MLP, the ARM, gives every latent a Laplace
distribution from already-decoded latents (its context), and the latents are range-coded with it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .config import register_architecture, register_preset

LATENT_GAIN = 16.0  # the decoder sees round(LATENT_GAIN * y) for a latent parameter y (Cool-chic's encoder_gain)
LATENT_MIN, LATENT_MAX = -64, 63  # every latent is clamped to this range, in training and in the stream
PARENTS = 3  # context latents from the next coarser grid
MAX_SEGMENTS = 256  # a grid is cut into at most this many segments that decode in lockstep
MIN_SEGMENT = 16  # and its segments are at least this long (where the grid is long enough)
MAX_GRIDS = 16  # latent grids in a model (a stream's header naming more is refused)
MAX_STRIDE_LOG2 = 16  # the coarsest grid has a latent at most every 2**MAX_STRIDE_LOG2 samples


@dataclass(frozen=True)
class LatentGridConfig:
    """Architecture of a latent-grid model; with the clip's length, everything needed to rebuild
    it from a bitstream."""

    arch: str = "latent_grid"
    min_stride_log2: int = 1  # the finest grid has a latent every 2**min_stride_log2 samples
    num_grids: int = 9
    trunk: tuple[int, ...] = (16, 16)  # widths of the synthesis network's shared per-sample layers
    head_widths: tuple[int, ...] = (8,)  # each head's hidden layers, before its linear output
    num_heads: int = 2
    head_taps: int = 9  # each head ends with a residual FIR filter of this many taps (odd; 1: none)
    arm_context: int = 8  # latents of the same grid before the coded one in the ARM's context
    arm_hidden: int = 2  # residual hidden layers of the ARM (width: its context size)

    family = "latent_grid"

    def __post_init__(self):
        for name in ("trunk", "head_widths"):
            widths = getattr(self, name)
            if not isinstance(widths, (list, tuple)) or any(isinstance(w, bool) or not isinstance(w, int) for w in widths):
                raise ValueError(f"{name} must be a list of integer widths, got {widths!r}")
            object.__setattr__(self, name, tuple(widths))
        ints = {"min_stride_log2": (0, 6), "num_grids": (1, MAX_GRIDS), "num_heads": (1, 2), "head_taps": (1, 31),
                "arm_context": (1, 24), "arm_hidden": (0, 4)}
        for name, (low, high) in ints.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
        if self.arch != "latent_grid":
            raise ValueError(f"a latent-grid config has arch 'latent_grid', got {self.arch!r}")
        if self.head_taps % 2 == 0:
            raise ValueError(f"head_taps must be odd, got {self.head_taps}")
        if len(self.trunk) + len(self.head_widths) > 8 or any(not 1 <= w <= 64 for w in self.trunk + self.head_widths):
            raise ValueError(f"at most 8 synthesis layers of width 1..64, got {self.trunk} and {self.head_widths}")
        if self.min_stride_log2 + self.num_grids - 1 > MAX_STRIDE_LOG2:
            raise ValueError(f"the coarsest grid's stride must be at most 2**{MAX_STRIDE_LOG2} samples")

    # --- geometry -------------------------------------------------------------------------
    def strides(self) -> tuple[int, ...]:
        """Samples between latents, finest grid first."""
        return tuple(2 ** (self.min_stride_log2 + level) for level in range(self.num_grids))

    def grid_lengths(self, num_samples: int) -> tuple[int, ...]:
        """Latents per grid for a clip of num_samples: grid l's last latent sits at or after the
        last sample, so that linear interpolation covers every sample."""
        return tuple((num_samples - 1 + s - 1) // s + 1 for s in self.strides())

    def latents_per_sample(self) -> float:
        return sum(1 / s for s in self.strides())

    @property
    def arm_inputs(self) -> int:
        return self.arm_context + PARENTS

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every network parameter's shape by its state_dict name, in its order (the latents are
        apart: grid_lengths). The one statement of the networks' geometry (models.latent builds it)."""
        shapes: dict[str, tuple[int, ...]] = {}
        c = self.arm_inputs
        for i in range(self.arm_hidden):
            shapes[f"arm.hidden.{i}.weight"], shapes[f"arm.hidden.{i}.bias"] = (c, c), (c,)
        shapes["arm.out.weight"], shapes["arm.out.bias"] = (2, 2 * c), (2,)  # reads [hidden, context]
        shapes["arm.grid_bias"] = (self.num_grids, 2)
        width = self.num_grids
        for i, w in enumerate(self.trunk):
            shapes[f"synthesis.trunk.{i}.weight"], shapes[f"synthesis.trunk.{i}.bias"] = (w, width), (w,)
            width = w
        shapes["synthesis.linear.weight"], shapes["synthesis.linear.bias"] = (self.num_heads, self.num_grids), (self.num_heads,)
        for h in range(self.num_heads):
            inner = width
            for j, w in enumerate(self.head_widths):
                shapes[f"synthesis.heads.{h}.{j}.weight"], shapes[f"synthesis.heads.{h}.{j}.bias"] = (w, inner), (w,)
                inner = w
            shapes[f"synthesis.heads.{h}.out.weight"] = (1, inner)
            if self.head_taps > 1:
                shapes[f"synthesis.heads.{h}.filter"] = (self.head_taps,)
        return shapes

    def module_shapes(self, module: str) -> dict[str, tuple[int, ...]]:
        """parameter_shapes of one module, "arm" or "synthesis"."""
        return {k: v for k, v in self.parameter_shapes().items() if k.split(".")[0] == module}

    def num_parameters(self) -> int:
        """Network parameters (the latents are counted by grid_lengths)."""
        return sum(math.prod(shape) for shape in self.parameter_shapes().values())

    def macs_per_sample(self) -> dict[str, float]:
        """Multiply-accumulates of decoding, per output sample: the ARM (per latent, times latents
        per sample), the linear upsampling (2 per grid) and the synthesis, and their total."""
        c = self.arm_inputs
        arm = (self.arm_hidden * c * c + 2 * 2 * c) * self.latents_per_sample()
        upsampling = 2.0 * self.num_grids
        synthesis, width = 0, self.num_grids
        for w in self.trunk:
            synthesis, width = synthesis + w * width, w
        synthesis += self.num_heads * self.num_grids  # the linear path
        for _ in range(self.num_heads):
            inner = width
            for w in self.head_widths:
                synthesis, inner = synthesis + w * inner, w
            synthesis += inner + (self.head_taps if self.head_taps > 1 else 0)
        return {"arm": arm, "upsampling": upsampling, "synthesis": float(synthesis),
                "total": arm + upsampling + synthesis}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["trunk"], d["head_widths"] = list(self.trunk), list(self.head_widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "LatentGridConfig":
        return cls(**d)


@register_architecture("latent_grid", LatentGridConfig)
def latent_grid(**overrides) -> LatentGridConfig:
    """Latent grids with an autoregressive entropy model."""
    return LatentGridConfig(**overrides)


# The presets (docs/design/latent-grid.md): grids every 4..256 / 2..512 / 2..1024 samples
register_preset("lg-xs", "latent_grid", min_stride_log2=2, num_grids=7, trunk=(12, 12), head_widths=(), arm_context=5,
                arm_hidden=1)
register_preset("lg-s", "latent_grid")
register_preset("lg-m", "latent_grid", num_grids=10, trunk=(32, 32), head_widths=(16,), arm_context=12)


# --- the ARM's causal contexts -------------------------------------------------------------
def segment_length(n: int) -> int:
    """Latents per segment of a grid of n: segments decode in lockstep, and the context within a
    grid does not cross a segment's start (in training too, so the estimated rate is the coded one)."""
    segments = max(1, min(MAX_SEGMENTS, n // MIN_SEGMENT))
    return -(-n // segments)


def context_indices(n: int, n_parent: int | None, arm_context: int) -> np.ndarray:
    """(n, arm_context + PARENTS) int64: for every latent of a grid of n, the positions of its
    context, -1 where the context is zero. Columns: the arm_context previous latents of its own
    segment, nearest first (indices into the grid), then three latents of the next coarser grid
    (n_parent latents, None for the coarsest grid): j = i // 2, j + 1 and j - 1 (indices into the
    parent grid). The coarser grid is decoded
    first, so its latents may lie ahead in time."""
    i = np.arange(n, dtype=np.int64)
    start = (i // segment_length(n)) * segment_length(n)
    own = i[:, None] - np.arange(1, arm_context + 1)[None, :]
    own = np.where(own >= start[:, None], own, -1)
    if n_parent is None:
        parents = np.full((n, PARENTS), -1, dtype=np.int64)
    else:
        j = i // 2  # grid l's latent i sits at parent position i / 2
        parents = np.stack([j, j + 1, j - 1], axis=1)
        parents = np.where((parents >= 0) & (parents < n_parent), parents, -1)
    return np.concatenate([own, parents], axis=1)


def decode_order(n: int) -> np.ndarray:
    """(steps, segments) positions of a grid of n in the order they are coded: step k codes the
    k-th latent of every segment (-1 past a short last segment). The encoder writes the same order."""
    length = segment_length(n)
    segments = -(-n // length)
    order = np.arange(segments)[None, :] * length + np.arange(length)[:, None]
    return np.where(order < n, order, -1)
