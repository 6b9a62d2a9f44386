"""The .sirn container, whatever family a stream holds: framing, CRC and the JSON header. No
torch: rate control sizes streams from it at workflow parse time.

Layout (little endian):

    magic     4 bytes  b"SIRN"
    version   u8       the format's revision (a family writes the versions it knows)
    hlen      u32      length of the header
    header    hlen     UTF-8 JSON: model config, preset, sample_rate, num_samples, peak_scale,
                       optionally the decoder variant chosen at encode time, the family's own
                       fields (the SIREN's quant), and from version 4 on the family's name
    payload            the family's (codec/bitstream.py: the SIREN, versions 1-3;
                       codec/bitstream_v4.py: the latent grid, version 4)
    crc32     u32      CRC-32 of every byte before it

Which family a stream holds: the header's `family`; versions 1-3 predate families and hold a
SIREN, and version-4 streams written before the header named its family hold a latent grid
(sirenpipe.families.family_of_stream).
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from ..errors import BitstreamError
from .quantize import QuantConfig
from .variants import allowed_variants

MAGIC = b"SIRN"
PREFIX = struct.Struct("<4sBI")  # magic, version, header length
CRC = struct.Struct("<I")  # CRC-32 of everything before it
MAX_HEADER_BYTES = 65536
MAX_SAMPLE_RATE = 768_000


@dataclass
class StreamHeader:
    model: Any  # the family's model config (models.config.ModelConfig)
    sample_rate: int
    num_samples: int
    peak_scale: float
    quant: QuantConfig | None  # the SIREN family's quantization (None for families that carry their own steps)
    preset: str | None = None
    # the decoder variant the encoder measured best for this clip (version 2; None: the
    # reference decoder for the head count, codec.variants.default_variant)
    variant: str | None = None
    family: str | None = None  # the family the header names (None: versions that predate the field)

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
        if self.family is not None:
            d["family"] = self.family
        return json.dumps(d, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class DecodedStream:
    header: StreamHeader
    version: int
    family: str  # the family that read it (sirenpipe.families)
    payload: Any  # what the family's payload holds (its read_payload)


def frame(version: int, header: StreamHeader, payload: bytes) -> bytes:
    """A complete stream: prefix, header, payload, CRC-32."""
    header_bytes = header.to_json()
    body = PREFIX.pack(MAGIC, version, len(header_bytes)) + header_bytes + payload
    return body + CRC.pack(zlib.crc32(body))


def unframe(data, readable_versions) -> tuple[int, dict, memoryview, int]:
    """Check framing and CRC and parse the header's JSON: (version, header dict, the payload's
    bytes, the payload's offset in the stream). Any defect raises BitstreamError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BitstreamError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < PREFIX.size + CRC.size:
        raise BitstreamError(f"not a .sirn bitstream: only {len(data)} bytes")
    magic, version, hlen = PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise BitstreamError(f"not a .sirn bitstream: magic {magic!r} != {MAGIC!r}")
    if version not in readable_versions:
        raise BitstreamError(f"unsupported .sirn format version {version} (this decoder reads "
                             f"{', '.join(map(str, sorted(readable_versions)))})")
    (crc,) = CRC.unpack_from(data, len(data) - CRC.size)
    if zlib.crc32(data[: -CRC.size]) != crc:
        raise BitstreamError("corrupt .sirn bitstream: CRC-32 mismatch (truncated or damaged file)")
    if hlen > MAX_HEADER_BYTES or PREFIX.size + hlen > len(data) - CRC.size:
        raise BitstreamError(f"corrupt .sirn bitstream: header length {hlen} exceeds the file")
    try:
        fields = json.loads(data[PREFIX.size : PREFIX.size + hlen].decode("utf-8"))
        if not isinstance(fields, dict):
            raise ValueError(f"a header is a JSON object, got {type(fields).__name__}")
    except Exception as exc:
        raise BitstreamError(f"corrupt .sirn header: {type(exc).__name__}: {exc}") from None
    offset = PREFIX.size + hlen
    return version, fields, memoryview(data)[offset : len(data) - CRC.size], offset


def check_header(h: StreamHeader, max_samples: int) -> None:
    """The fields every family's header has, in their bounds (BitstreamError otherwise)."""
    checks = [
        (type(h.sample_rate) is int and 1 <= h.sample_rate <= MAX_SAMPLE_RATE, f"sample rate {h.sample_rate}"),
        (type(h.num_samples) is int and 1 <= h.num_samples <= max_samples, f"sample count {h.num_samples}"),
        (isinstance(h.peak_scale, float) and math.isfinite(h.peak_scale) and h.peak_scale > 0, f"peak scale {h.peak_scale}"),
        (h.preset is None or (isinstance(h.preset, str) and len(h.preset) <= 128), "preset name"),
        (h.quant is None or isinstance(h.quant.per_channel, bool), "quantization flag"),
        (h.variant is None or h.variant in allowed_variants(h.model.num_heads), "decoder variant"),
    ]
    for ok, what in checks:
        if not ok:
            raise BitstreamError(f"corrupt .sirn header: invalid {what}")
