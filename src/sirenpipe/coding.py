"""One-call encode and decode of a clip: fit -> quantize -> bytes, and bytes -> audio."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .audio import Clip
from .codec import QuantConfig, compress, decompress, synthesize
from .denoise import reconstruct
from .fit import FitConfig, FitResult, fit
from .models import INRConfig, model_config


@dataclass
class Encoded:
    data: bytes  # the .sirn bitstream
    fit: FitResult


def encode_clip(
    clip: Clip,
    preset: str | None = "siamese-siren",
    model: INRConfig | None = None,
    fit_config: FitConfig = FitConfig(),
    quant: QuantConfig = QuantConfig(),
    progress: bool = True,
) -> Encoded:
    """Fit an INR (a preset, or an explicit config) to the clip and compress it."""
    config = model if model is not None else model_config(preset)
    result = fit(clip.samples, config, fit_config, progress=progress)
    data = compress(
        result.model,
        sample_rate=clip.sample_rate,
        num_samples=len(clip.samples),
        peak_scale=clip.peak_scale,
        quant=quant,
        preset=preset if model is None else None,
    )
    return Encoded(data, result)


def decode_bytes(data: bytes, sample_rate: int | None = None, variant: str = "siamese", alpha: float = 2.0) -> tuple[np.ndarray, int]:
    """Decode a bitstream to one signal at `sample_rate` (default: the clip's) by `variant`."""
    stream = decompress(data)
    rate = sample_rate or stream.header.sample_rate
    heads = synthesize(stream, rate)
    return reconstruct(heads, rate, variant, alpha), rate


def default_variant(data: bytes) -> str:
    """The reference decoder: siamese denoising for two-head models, head 0 otherwise."""
    from .codec import read_header

    return "siamese" if read_header(data)[0].model.num_heads >= 2 else "f0"
