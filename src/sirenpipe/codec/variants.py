"""Decoder variants: how the heads' outputs become one reconstruction.

This module is the vocabulary of variants. Each is one function registered with @variant, in
display order, with the number of heads it needs; its docstring is its description. Adding a
variant means adding a function here (and its name to the workflow schema's enum).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ..errors import SirenpipeError


class _Variant(NamedTuple):
    fn: Callable[[np.ndarray, int, float], np.ndarray]  # (heads, sample_rate, alpha) -> signal
    heads: int  # the fewest heads it needs


DEFAULT_ALPHA = 2.0  # the noise estimate's amplitude: alpha = 2 makes it f0 - f1, the paper's

_REGISTRY: dict[str, _Variant] = {}
_NUMBERS = {2: "two", 3: "three", 4: "four"}


def variant(name: str, heads: int = 1):
    """Register fn(heads, sample_rate, alpha) -> signal as decoder variant `name`."""

    def register(fn):
        _REGISTRY[name] = _Variant(fn, heads)
        return fn

    return register


@variant("f0")
def _f0(heads, sample_rate, alpha):
    """head 0 as is"""
    return heads[0]


@variant("mean", heads=2)
def _mean(heads, sample_rate, alpha):
    """(f0 + f1) / 2"""
    return (heads[0] + heads[1]) / 2


@variant("siamese", heads=2)
def _siamese(heads, sample_rate, alpha):
    """the paper's method: noisereduce (stationary) on f0 with the noise estimate
    eps0 = alpha * (f0 - (f0 + f1) / 2), by default f0 - f1"""
    import noisereduce

    out = noisereduce.reduce_noise(y=heads[0], sr=sample_rate, y_noise=noise_estimate(heads, alpha), stationary=True)
    return np.asarray(out, dtype=np.float32)


@variant("blind")
def _blind(heads, sample_rate, alpha):
    """noisereduce called with f0 alone (its defaults: non-stationary spectral gating that
    estimates the noise floor from f0 itself): the paper's "without noise estimate" ablation
    (Figure 4)"""
    import noisereduce

    return np.asarray(noisereduce.reduce_noise(y=heads[0], sr=sample_rate), dtype=np.float32)


VARIANTS: tuple[str, ...] = tuple(_REGISTRY)


def describe(name: str) -> str:
    """A variant's description (its function's docstring on one line)."""
    return " ".join(_REGISTRY[name].fn.__doc__.split())


def allowed_variants(num_heads: int) -> tuple[str, ...]:
    """The variants a model with num_heads heads can decode with, in display order."""
    return tuple(name for name, v in _REGISTRY.items() if num_heads >= v.heads)


def default_variant(num_heads: int) -> str:
    """The reference decoder: siamese denoising for two or more heads, head 0 otherwise."""
    return "siamese" if num_heads >= 2 else "f0"


def noise_estimate(heads: np.ndarray, alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    f0, f1 = heads[0], heads[1]
    return alpha * (f0 - (f0 + f1) / 2)


def reconstruct(heads: np.ndarray, sample_rate: int, variant: str = "siamese", alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    """One signal from the (heads, N) decoder output, by the named variant."""
    allowed = allowed_variants(len(heads))
    if variant not in allowed:
        known = _REGISTRY.get(variant)
        need = f"{_NUMBERS.get(known.heads, known.heads)} heads" if known else "a known name"
        raise SirenpipeError(f"decoder variant {variant!r} needs {need}; this model allows: {', '.join(allowed)}")
    return _REGISTRY[variant].fn(heads, sample_rate, alpha)
