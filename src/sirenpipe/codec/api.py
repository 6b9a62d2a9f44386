"""The codec's front door, for the CLI and the workflow alike: a clip to .sirn bytes (fit,
quantize, serialize) and .sirn bytes to one signal (parse, synthesize, decoder variant)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..fit import FitConfig, FitResult, fit
from ..models import INRConfig, model_config
from .bitstream import StreamHeader, compress, decompress
from .quantize import QuantConfig
from .synthesis import synthesize
from .variants import default_variant, reconstruct

if TYPE_CHECKING:
    from ..audio import Clip


@dataclass
class Encoded:
    data: bytes  # the .sirn bitstream
    fit: FitResult


@dataclass
class Decoded:
    signal: np.ndarray  # float32, (M,), at the original level
    sample_rate: int
    variant: str  # the decoder variant used
    header: StreamHeader


def encode_clip(
    clip: Clip,
    preset: str | None = "siamese-siren",
    model: INRConfig | None = None,
    fit_config: FitConfig = FitConfig(),
    quant: QuantConfig = QuantConfig(),
    progress: bool = True,
) -> Encoded:
    """Fit an INR (a preset, or an explicit config) to the clip and compress it. A quantization-
    or rate-aware fit trains with `quant`, the settings it is compressed with."""
    config = model if model is not None else model_config(preset)
    result = fit(clip.samples, config, fit_config, progress=progress, quant=quant)
    data = compress(
        result.model,
        sample_rate=clip.sample_rate,
        num_samples=len(clip.samples),
        peak_scale=clip.peak_scale,
        quant=quant,
        preset=preset if model is None else None,
    )
    return Encoded(data, result)


def decode(data: bytes, sample_rate: int | None = None, variant: str | None = None, alpha: float = 2.0) -> Decoded:
    """Decode a bitstream to one signal at `sample_rate` (default: the clip's) by `variant`
    (default: the reference decoder for the stream's head count, see default_variant)."""
    stream = decompress(data)
    header = stream.header
    rate = sample_rate or header.sample_rate
    variant = variant or default_variant(header.model.num_heads)
    return Decoded(reconstruct(synthesize(stream, rate), rate, variant, alpha), rate, variant, header)
