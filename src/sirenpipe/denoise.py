"""Decoder variants: how the heads' outputs become one reconstruction.

- f0:      head 0 as is
- mean:    (f0 + f1) / 2
- siamese: the paper's method: noisereduce (stationary) on f0 with the noise estimate
           eps0 = alpha * (f0 - (f0 + f1) / 2); alpha = 2 gives f0 - f1 exactly
- blind:   noisereduce called with f0 alone (its defaults: non-stationary spectral gating
           that estimates the noise floor from f0 itself): the paper's "without noise
           estimate" ablation (Figure 4)
"""

from __future__ import annotations

import numpy as np

from .errors import SirenpipeError

VARIANTS = ("f0", "mean", "siamese", "blind")
SINGLE_HEAD_VARIANTS = ("f0", "blind")


def noise_estimate(heads: np.ndarray, alpha: float = 2.0) -> np.ndarray:
    f0, f1 = heads[0], heads[1]
    return alpha * (f0 - (f0 + f1) / 2)


def reconstruct(heads: np.ndarray, sample_rate: int, variant: str = "siamese", alpha: float = 2.0) -> np.ndarray:
    """One signal from the (heads, N) decoder output, by the named variant."""
    allowed = VARIANTS if len(heads) >= 2 else SINGLE_HEAD_VARIANTS
    if variant not in allowed:
        raise SirenpipeError(f"decoder variant {variant!r} needs {'two heads' if variant in VARIANTS else 'a known name'}; "
                             f"this model allows: {', '.join(allowed)}")
    if variant == "f0":
        return heads[0]
    if variant == "mean":
        return (heads[0] + heads[1]) / 2
    import noisereduce

    if variant == "siamese":
        out = noisereduce.reduce_noise(y=heads[0], sr=sample_rate, y_noise=noise_estimate(heads, alpha), stationary=True)
    else:
        out = noisereduce.reduce_noise(y=heads[0], sr=sample_rate)
    return np.asarray(out, dtype=np.float32)
