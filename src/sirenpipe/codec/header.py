"""The .sirn stream's framing and header (layout: bitstream.py). No torch: rate control sizes
streams from it at workflow parse time."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

from ..models.config import INRConfig
from ..models.latent_config import LatentGridConfig
from .quantize import QuantConfig

MAGIC = b"SIRN"
PREFIX = struct.Struct("<4sBI")  # magic, version, header length
CRC = struct.Struct("<I")  # CRC-32 of everything before it


@dataclass
class StreamHeader:
    model: INRConfig | LatentGridConfig
    sample_rate: int
    num_samples: int
    peak_scale: float
    quant: QuantConfig | None  # None for a latent-grid model (version 4), whose networks carry their own steps
    preset: str | None = None
    # the decoder variant the encoder measured best for this clip (version 2; None: the
    # reference decoder for the head count, codec.variants.default_variant)
    variant: str | None = None

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate

    def to_json(self) -> bytes:
        d = {
            "model": self.model.to_dict(),
            "preset": self.preset,
            "sample_rate": self.sample_rate,
            "num_samples": self.num_samples,
            "peak_scale": self.peak_scale,
        }
        if self.quant is not None:
            d["quant"] = self.quant.to_dict()
        if self.variant is not None:
            d["variant"] = self.variant
        return json.dumps(d, sort_keys=True, separators=(",", ":")).encode()
