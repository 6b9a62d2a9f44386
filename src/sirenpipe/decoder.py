"""The decoder's front door: .sirn bytes to one signal, whatever model family the stream holds.

The container (codec/header.py) is read here; the family the stream names (sirenpipe.families)
parses its header and payload and synthesizes its heads; the decoder variant makes one signal of
them (codec/variants.py). A decoder needs no fitting, metrics or rate control.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .codec.header import DecodedStream, StreamHeader, unframe
from .codec.variants import DEFAULT_ALPHA, default_variant, reconstruct
from .families import family_of_stream, get_family, readable_versions


@dataclass
class Decoded:
    signal: np.ndarray  # float32, (M,), at the original level
    sample_rate: int
    variant: str  # the decoder variant used
    header: StreamHeader


def read_header(data: bytes) -> tuple[StreamHeader, int]:
    """Check framing and CRC, parse the header; return it and the payload's offset."""
    version, fields, _, offset = unframe(data, readable_versions())
    return family_of_stream(version, fields).parse_header(fields, version), offset


def decompress(data: bytes) -> DecodedStream:
    """Parse a stream: its header and what its family's payload holds; any defect raises BitstreamError."""
    version, fields, payload, _ = unframe(data, readable_versions())
    family = family_of_stream(version, fields)
    header = family.parse_header(fields, version)
    return DecodedStream(header, version, family.name, family.read_payload(payload, header, version))


def synthesize(stream: DecodedStream, sample_rate: int | None = None) -> np.ndarray:
    """All heads' outputs of a decoded stream at `sample_rate` (default: the clip's), level
    restored: (heads, M)."""
    return get_family(stream.family).synthesize(stream, sample_rate)


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
