"""The .sirn container: a quantized INR plus what is needed to decode it.

Layout (little endian), format version 1:

    magic     4 bytes  b"SIRN"
    version   u8       1
    hlen      u32      length of the header
    header    hlen     UTF-8 JSON: model config, preset, sample_rate, num_samples,
                       peak_scale, quant {bits, per_channel}
    payload            per parameter, in the model's state_dict order:
                         weight: float32 scales (1 or one per row), then ints packed at `bits`
                         bias:   float32 values
    crc32     u32      CRC-32 of every byte before it

The payload's layout follows from the header alone, so its expected size is checked before
anything is allocated: a header cannot make the decoder allocate more than the file holds.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import BitstreamError
from ..models import INR, INRConfig
from .quantize import QuantConfig, QuantizedTensor, dequantize_state, is_quantized, pack_ints, packed_size, quantize_state, unpack_ints

MAGIC = b"SIRN"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<4sBI")
_CRC = struct.Struct("<I")
MAX_HEADER_BYTES = 65536
MAX_SAMPLES = 2**31 - 1
MAX_SAMPLE_RATE = 768_000


@dataclass
class StreamHeader:
    model: INRConfig
    sample_rate: int
    num_samples: int
    peak_scale: float
    quant: QuantConfig
    preset: str | None = None

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
            "quant": self.quant.to_dict(),
        }
        return json.dumps(d, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class DecodedStream:
    header: StreamHeader
    model: INR  # dequantized float weights, CPU, eval mode


def compress(model: INR, *, sample_rate: int, num_samples: int, peak_scale: float, quant: QuantConfig = QuantConfig(), preset: str | None = None) -> bytes:
    """Quantize `model` and serialize it with the clip's metadata into .sirn bytes."""
    header = StreamHeader(model.config, int(sample_rate), int(num_samples), float(peak_scale), quant, preset)
    _validate_header(header)
    header_bytes = header.to_json()
    body = bytearray(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes)) + header_bytes)
    for name, value in quantize_state(model.state_dict(), quant).items():
        if isinstance(value, QuantizedTensor):
            body += value.scales.astype("<f4").tobytes() + pack_ints(value.values, quant.bits)
        else:
            body += value.astype("<f4").tobytes()
    return bytes(body + _CRC.pack(zlib.crc32(body)))


def read_header(data: bytes) -> tuple[StreamHeader, int]:
    """Check framing and CRC, parse the header; return it and the payload offset."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BitstreamError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < _PREFIX.size + _CRC.size:
        raise BitstreamError(f"not a .sirn bitstream: only {len(data)} bytes")
    magic, version, hlen = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise BitstreamError(f"not a .sirn bitstream: magic {magic!r} != {MAGIC!r}")
    if version != FORMAT_VERSION:
        raise BitstreamError(f"unsupported .sirn format version {version} (this decoder reads {FORMAT_VERSION})")
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(data[: -_CRC.size]) != crc:
        raise BitstreamError("corrupt .sirn bitstream: CRC-32 mismatch (truncated or damaged file)")
    if hlen > MAX_HEADER_BYTES or _PREFIX.size + hlen > len(data) - _CRC.size:
        raise BitstreamError(f"corrupt .sirn bitstream: header length {hlen} exceeds the file")
    header = _parse_header(data[_PREFIX.size : _PREFIX.size + hlen])
    return header, _PREFIX.size + hlen


def decompress(data: bytes) -> DecodedStream:
    """Rebuild the (dequantized) INR from .sirn bytes; any defect raises BitstreamError."""
    header, offset = read_header(data)
    shapes = _parameter_shapes(header.model)
    expected = sum(_tensor_bytes(name, shape, header.quant) for name, shape in shapes.items())
    available = len(data) - _CRC.size - offset
    if expected != available:
        raise BitstreamError(f"corrupt .sirn bitstream: payload is {available} bytes, the header implies {expected}")
    qstate, view = {}, memoryview(bytes(data))
    for name, shape in shapes.items():
        size = _tensor_bytes(name, shape, header.quant)
        qstate[name] = _read_tensor(view[offset : offset + size], name, shape, header.quant)
        offset += size
    model = INR(header.model)
    model.load_state_dict(dequantize_state(qstate))
    return DecodedStream(header, model.eval())


def _parameter_shapes(config: INRConfig) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        return {name: tuple(t.shape) for name, t in INR(config).state_dict().items()}


def _num_scales(name: str, shape, quant: QuantConfig) -> int:
    return shape[0] if quant.per_channel else 1


def _tensor_bytes(name: str, shape, quant: QuantConfig) -> int:
    count = math.prod(shape)
    if is_quantized(name, len(shape)):
        return 4 * _num_scales(name, shape, quant) + packed_size(count, quant.bits)
    return 4 * count


def _read_tensor(buf: memoryview, name: str, shape, quant: QuantConfig):
    count = math.prod(shape)
    if not is_quantized(name, len(shape)):
        return np.frombuffer(buf, dtype="<f4").reshape(shape).astype(np.float32)
    n_scales = _num_scales(name, shape, quant)
    scales = np.frombuffer(buf[: 4 * n_scales], dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(scales)):
        raise BitstreamError(f"corrupt .sirn bitstream: non-finite scale in {name}")
    values = unpack_ints(bytes(buf[4 * n_scales :]), count, quant.bits).reshape(shape)
    return QuantizedTensor(values, scales)


def _parse_header(raw: bytes) -> StreamHeader:
    try:
        d = json.loads(raw.decode("utf-8"))
        header = StreamHeader(
            model=INRConfig.from_dict(d["model"]),
            sample_rate=d["sample_rate"],
            num_samples=d["num_samples"],
            peak_scale=d["peak_scale"],
            quant=QuantConfig(**d["quant"]),
            preset=d.get("preset"),
        )
        _parameter_shapes(header.model)  # the architecture must build
    except Exception as exc:  # any malformed field: JSON, types, ranges
        raise BitstreamError(f"corrupt .sirn header: {type(exc).__name__}: {exc}") from None
    _validate_header(header)
    return header


def _validate_header(h: StreamHeader) -> None:
    checks = [
        (isinstance(h.sample_rate, int) and 1 <= h.sample_rate <= MAX_SAMPLE_RATE, f"sample rate {h.sample_rate}"),
        (isinstance(h.num_samples, int) and 1 <= h.num_samples <= MAX_SAMPLES, f"sample count {h.num_samples}"),
        (isinstance(h.peak_scale, float) and math.isfinite(h.peak_scale) and h.peak_scale > 0, f"peak scale {h.peak_scale}"),
        (h.preset is None or (isinstance(h.preset, str) and len(h.preset) <= 128), "preset name"),
        (isinstance(h.quant.per_channel, bool), "quantization flag"),
    ]
    for ok, what in checks:
        if not ok:
            raise BitstreamError(f"corrupt .sirn header: invalid {what}")
