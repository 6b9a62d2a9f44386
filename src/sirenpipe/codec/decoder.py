"""The decoder's front door: .sirn bytes to one signal (parse, synthesize, decoder variant)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bitstream import StreamHeader, decompress
from .synthesis import synthesize
from .variants import DEFAULT_ALPHA, default_variant, reconstruct


@dataclass
class Decoded:
    signal: np.ndarray  # float32, (M,), at the original level
    sample_rate: int
    variant: str  # the decoder variant used
    header: StreamHeader


def decode(data: bytes, sample_rate: int | None = None, variant: str | None = None,
           alpha: float = DEFAULT_ALPHA) -> Decoded:
    """Decode a bitstream to one signal at `sample_rate` (default: the clip's) by `variant`
    (default: the one the stream names, chosen by its encoder; for streams that name none, the
    reference decoder for the head count, see default_variant)."""
    stream = decompress(data)
    header = stream.header
    rate = sample_rate or header.sample_rate
    variant = variant or header.variant or default_variant(header.model.num_heads)
    return Decoded(reconstruct(synthesize(stream, rate), rate, variant, alpha), rate, variant, header)
