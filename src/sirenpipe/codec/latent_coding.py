"""Coding a latent-grid model (bitstream version 4): its networks' integers, and its latents
range-coded under the ARM, both computed in integers so that every machine decodes the same
latents.

How the probabilities are made identical on every machine:
- Network parameters are stored as integers k with a power-of-two step, w = k * 2**-shift, one
  weight shift and one bias shift per module (NetworkShifts).
- The ARM runs in int64 fixed point with FRAC_BITS fractional bits (IntegerArm): products are
  exact, every rescale is a floor shift, and an overflow bound is checked before every layer.
- Its (mu, log b) are rounded in integers to 1/16 and 1/8 (laplace_table.quantize_parameters),
  and the symbol masses come from laplace_table's integer table (built with `decimal`, no libm).
- The masses, integers below 2**53, go to constriction's Categorical(perfect=False) range coder
  as floats; its quantization of them uses IEEE + * / and floor only.

Latents are coded grid by grid, coarsest first; within a grid, segment by segment in lockstep
(models.latent_config.decode_order), so decoding takes one ARM call per step, not per latent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BitstreamError
from ..models.latent_config import LATENT_MAX, LATENT_MIN, PARENTS, LatentGridConfig, decode_order, segment_length
from . import laplace_table

FRAC_BITS = 16
MAX_SHIFT = 24
MAX_CODE = 2**20  # |network integer|
OVERFLOW_LIMIT = 2**61  # products; with the residual and the bias, sums stay below 2**63
LATENTS_PER_BYTE = 512  # a stream spends at least one byte of range-coder words per this many latents
MODULES = ("arm", "synthesis")

@dataclass(frozen=True)
class NetworkShifts:
    """Power-of-two steps of one module's parameters: weights k * 2**-weight, biases k * 2**-bias."""

    weight: int
    bias: int

    def __post_init__(self):
        if not (0 <= self.weight <= MAX_SHIFT and 0 <= self.bias <= MAX_SHIFT):
            raise ValueError(f"network shifts must be in [0, {MAX_SHIFT}], got {self.weight} and {self.bias}")


def is_bias(name: str) -> bool:
    return name.endswith("bias")


def quantize_module(state: dict, config: LatentGridConfig, module: str, shifts: NetworkShifts) -> dict[str, np.ndarray]:
    """Integer codes (int64) of one module's parameters (float arrays by state_dict name)."""
    codes = {}
    for name in config.module_shapes(module):
        shift = shifts.bias if is_bias(name) else shifts.weight
        value = np.asarray(state[name], dtype=np.float64)
        k = np.round(value * 2.0**shift).astype(np.int64)
        if np.abs(k).max(initial=0) > MAX_CODE:
            raise ValueError(f"{name} needs integers beyond {MAX_CODE} at shift {shift}")
        codes[name] = k
    return codes


def dequantize_module(codes: dict[str, np.ndarray], shifts: NetworkShifts) -> dict[str, np.ndarray]:
    return {name: (k * 2.0 ** -(shifts.bias if is_bias(name) else shifts.weight)).astype(np.float32)
            for name, k in codes.items()}


class IntegerArm:
    """The ARM (models.latent.Arm) in int64 fixed point, from its integer codes."""

    def __init__(self, codes: dict[str, np.ndarray], shifts: NetworkShifts, config: LatentGridConfig):
        self.config, self.shifts = config, shifts
        if shifts.bias > FRAC_BITS or shifts.weight > FRAC_BITS:
            raise ValueError(f"ARM shifts must be at most {FRAC_BITS}")
        lift = FRAC_BITS - shifts.bias  # biases to FRAC_BITS fractional bits
        self.hidden = [(codes[f"arm.hidden.{i}.weight"].T.copy(), codes[f"arm.hidden.{i}.bias"] << lift)
                       for i in range(config.arm_hidden)]
        self.out_weight = codes["arm.out.weight"].T.copy()
        self.out_bias = (codes["arm.out.bias"][None, :] + codes["arm.grid_bias"]) << lift  # (grids, 2)

    def parameters(self, context: np.ndarray, grid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(m, f, s) of laplace_table for integer contexts (M, C)."""
        x = context.astype(np.int64) << FRAC_BITS
        h = x
        for weight, bias in self.hidden:
            h = np.maximum(h + (self._product(h, weight) >> self.shifts.weight) + bias, 0)
        out = (self._product(np.concatenate([h, x], axis=1), self.out_weight) >> self.shifts.weight) + self.out_bias[grid]
        bound = 5 << FRAC_BITS
        return laplace_table.quantize_parameters(out[:, 0], np.clip(out[:, 1], -bound, bound), FRAC_BITS)

    @staticmethod
    def _product(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        largest = int(np.abs(x).max(initial=0)) * int(np.abs(weight).sum(axis=0).max(initial=0))
        if largest >= OVERFLOW_LIMIT:
            raise OverflowError("the ARM's fixed-point products would overflow int64")
        return x @ weight


def alphabet(values: np.ndarray) -> tuple[int, int]:
    """(lo, hi) of a grid's alphabet: its range, at least two symbols."""
    lo, hi = int(values.min()), int(values.max())
    if lo == hi:
        lo, hi = (lo, lo + 1) if lo < LATENT_MAX else (lo - 1, lo)
    return lo, hi


def grid_contexts(own: np.ndarray, parent: np.ndarray | None, positions: np.ndarray, arm_context: int) -> np.ndarray:
    """Contexts (len(positions), C) of latents at `positions` of a grid, from the values decoded so
    far (own; the parent grid complete). Same layout as models.latent_config.context_indices."""
    n = len(own)
    start = (positions // segment_length(n)) * segment_length(n)
    back = positions[:, None] - np.arange(1, arm_context + 1)[None, :]
    ctx_own = np.where(back >= start[:, None], own[np.maximum(back, 0)].astype(np.int64), 0)
    if parent is None:
        ctx_parent = np.zeros((len(positions), PARENTS), dtype=np.int64)
    else:
        j = positions // 2
        near = np.stack([j, j + 1, j - 1], axis=1)
        inside = (near >= 0) & (near < len(parent))
        ctx_parent = np.where(inside, parent[np.clip(near, 0, len(parent) - 1)].astype(np.int64), 0)
    return np.concatenate([ctx_own, ctx_parent], axis=1).astype(np.int64)


def exact_bits(latents: list[np.ndarray], arm: IntegerArm) -> float:
    """The latents' code length in bits under the integer ARM (what encode_latents writes, less
    the range coder's few bits of termination and the LATENTS_PER_BYTE floor)."""
    total = 0.0
    for grid in reversed(range(len(latents))):
        own = latents[grid].astype(np.int64)
        parent = latents[grid + 1].astype(np.int64) if grid + 1 < len(latents) else None
        positions = np.arange(len(own))
        m, f, s = arm.parameters(grid_contexts(own, parent, positions, arm.config.arm_context), grid)
        lo, hi = alphabet(own)
        total += laplace_table.code_length_bits(own, lo, hi, m, f, s)
    return total


def encode_latents(latents: list[np.ndarray], arm: IntegerArm) -> tuple[list[tuple[int, int]], np.ndarray]:
    """(per grid (lo, hi), range-coder words) of integer latents (finest grid first)."""
    import constriction

    if any(v.min() < LATENT_MIN or v.max() > LATENT_MAX for v in latents):
        raise ValueError(f"latents must lie in [{LATENT_MIN}, {LATENT_MAX}]")
    encoder = constriction.stream.queue.RangeEncoder()
    family = constriction.stream.model.Categorical(perfect=False)
    ranges = [alphabet(v) for v in latents]
    for grid in reversed(range(len(latents))):
        own = latents[grid].astype(np.int64)
        parent = latents[grid + 1].astype(np.int64) if grid + 1 < len(latents) else None
        order = decode_order(len(own)).ravel()
        order = order[order >= 0]
        lo, hi = ranges[grid]
        for chunk in range(0, len(order), 8192):
            positions = order[chunk : chunk + 8192]
            m, f, s = arm.parameters(grid_contexts(own, parent, positions, arm.config.arm_context), grid)
            probabilities = laplace_table.masses(lo, hi, m, f, s).astype(np.float64)
            encoder.encode((own[positions] - lo).astype(np.int32), family, probabilities)
    words = np.asarray(encoder.get_compressed(), dtype=np.uint32)
    needed = -(-sum(len(v) for v in latents) // (4 * LATENTS_PER_BYTE))
    if len(words) < needed:  # the floor that bounds the decoder's work by the stream's size
        words = np.concatenate([words, np.zeros(needed - len(words), dtype=np.uint32)])
    return ranges, words


def decode_latents(words: np.ndarray, ranges: list[tuple[int, int]], lengths: tuple[int, ...], arm: IntegerArm) -> list[np.ndarray]:
    """The integer latents (int8, finest grid first); defects raise BitstreamError."""
    import constriction

    if sum(lengths) > LATENTS_PER_BYTE * 4 * len(words):
        raise BitstreamError(f"corrupt .sirn bitstream: {sum(lengths):,} latents in {4 * len(words)} bytes of codes")
    decoder = constriction.stream.queue.RangeDecoder(np.asarray(words, dtype=np.uint32))
    family = constriction.stream.model.Categorical(perfect=False)
    latents: list[np.ndarray | None] = [None] * len(lengths)
    try:
        for grid in reversed(range(len(lengths))):
            n, (lo, hi) = lengths[grid], ranges[grid]
            own = np.zeros(n, dtype=np.int8)
            parent = latents[grid + 1] if grid + 1 < len(lengths) else None
            length = segment_length(n)
            starts = np.arange(0, n, length)
            for step in range(length):  # decode_order's rows, without building it
                positions = starts + step
                positions = positions[positions < n]
                m, f, s = arm.parameters(grid_contexts(own, parent, positions, arm.config.arm_context), grid)
                probabilities = laplace_table.masses(lo, hi, m, f, s).astype(np.float64)
                own[positions] = np.asarray(decoder.decode(family, probabilities), dtype=np.int64) + lo
            latents[grid] = own
    except OverflowError as exc:
        raise BitstreamError(f"corrupt .sirn bitstream: {exc}") from None
    except BitstreamError:
        raise
    except Exception as exc:  # constriction's errors on words that are no valid code
        raise BitstreamError(f"corrupt .sirn bitstream: latent codes: {type(exc).__name__}: {exc}") from None
    return latents
