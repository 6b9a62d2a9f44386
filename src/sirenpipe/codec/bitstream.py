"""The .sirn container: a quantized INR plus what is needed to decode it.

Layout (little endian):

    magic     4 bytes  b"SIRN"
    version   u8       3 when the input layer has its own bit width, else 2 (this encoder);
                       1 is still read
    hlen      u32      length of the header
    header    hlen     UTF-8 JSON: model config, preset, sample_rate, num_samples,
                       peak_scale, quant {bits, per_channel, coding, float_bits, and in
                       version 3 first_layer_bits}, and from version 2 on optionally the
                       decoder variant chosen at encode time
    payload            per parameter, in the model's state_dict order:
                         weight: scales (1, or one per row; f32 or f16 as float_bits says),
                                 then its integer codes (at `bits`, or the input layer's
                                 at first_layer_bits): version 1 packed;
                                 versions 2 and 3 one record of codec/entropy.py (fixed,
                                 Laplace- or histogram-range-coded, whichever is smallest)
                         bias:   f32 or f16 values
    crc32     u32      CRC-32 of every byte before it

Version 4 holds a latent-grid model instead (header without quant; its payload: bitstream_v4.py).

The header bounds every allocation before the payload is read: version 1's payload size
follows from the header alone and must match exactly; version 2 and 3's fixed parts (scales, biases,
one mode byte per weight tensor) must fit in the payload, the model may have at most
MAX_PARAMETERS parameters, and every record is read with bounds checks and must end exactly
where the next begins.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import BitstreamError
from ..models import INR, INRConfig, input_weight_names
from ..models.latent_config import LatentGridConfig
from .entropy import MODE_NAMES, decode_codes, encode_codes
from .header import CRC as _CRC, MAGIC, PREFIX as _PREFIX, StreamHeader
from .quantize import QuantConfig, QuantizedTensor, dequantize_state, is_quantized, packed_size, quantize_state, unpack_ints
from .variants import allowed_variants

FORMAT_VERSION = 3  # the newest compress() writes: 3 with first_layer_bits, else 2 (byte-identical to before it)
READABLE_VERSIONS = (1, 2, 3, 4)
MAX_PARAMETERS = 2**24  # a version-2 or -3 header naming a larger model is refused before any allocation
MAX_HEADER_BYTES = 65536
MAX_SAMPLES = 2**31 - 1
MAX_SAMPLE_RATE = 768_000
QUANT_FIELDS = ("bits", "per_channel", "coding", "float_bits")  # version 2's; version 3 adds first_layer_bits


@dataclass(frozen=True)
class TensorRecord:
    """How one parameter tensor is stored: for `sirenpipe info` and the rate reports."""

    name: str
    count: int  # values in the tensor
    bits: int  # bits per value before entropy coding (the weight bits, or the float bits)
    coding: str  # "fixed", "laplace", "histogram" (weights); "float" (biases)
    bytes: int  # stored bytes: the codes' record (mode byte included) or the floats
    scale_bytes: int = 0  # the weight's scales

    @property
    def coded_bits_per_value(self) -> float:
        return 8 * self.bytes / self.count

    def to_dict(self) -> dict:
        return {**asdict(self), "coded_bits_per_value": self.coded_bits_per_value}


@dataclass
class DecodedStream:
    header: StreamHeader
    model: INR | None  # dequantized float weights, CPU, eval mode (None for a latent-grid stream)
    version: int = FORMAT_VERSION
    tensors: tuple[TensorRecord, ...] = ()
    latent: "LatentPayload | None" = None  # version 4: latents and network integers (bitstream_v4)


def compress(model: INR, *, sample_rate: int, num_samples: int, peak_scale: float, quant: QuantConfig = QuantConfig(),
             preset: str | None = None, variant: str | None = None) -> bytes:
    """Quantize `model` and serialize it with the clip's metadata (and the decoder variant to
    use by default, if given) into .sirn bytes (version 3 if the input layer has its own bit
    width, else 2)."""
    header = StreamHeader(model.config, int(sample_rate), int(num_samples), float(peak_scale), quant, preset, variant)
    _validate_header(header)
    if model.num_parameters() > MAX_PARAMETERS:
        raise ValueError(f"a .sirn stream holds at most {MAX_PARAMETERS:,} parameters, this model has {model.num_parameters():,}")
    header_bytes = header.to_json()
    version = 3 if quant.first_layer_bits is not None else 2
    body = bytearray(_PREFIX.pack(MAGIC, version, len(header_bytes)) + header_bytes)
    floats = _float_dtype(quant)
    qstate = quantize_state(model.state_dict(), quant)
    input_layer = input_weight_names(qstate)
    for name, value in qstate.items():
        if isinstance(value, QuantizedTensor):
            bits = quant.for_layer(name in input_layer).bits
            body += value.scales.astype(floats).tobytes() + encode_codes(value.values, bits, quant.coding).data
        else:
            body += value.astype(floats).tobytes()
    return bytes(body + _CRC.pack(zlib.crc32(body)))


def compress_latent(payload, config: LatentGridConfig, *, sample_rate: int, num_samples: int, peak_scale: float,
                    preset: str | None = None, variant: str | None = None) -> bytes:
    """Serialize a latent-grid model (a bitstream_v4.LatentPayload: integer latents and network
    codes) with the clip's metadata into .sirn bytes, version 4."""
    from .bitstream_v4 import VERSION, write_payload

    header = StreamHeader(config, int(sample_rate), int(num_samples), float(peak_scale), None, preset, variant)
    _validate_header(header, VERSION)
    header_bytes = header.to_json()
    body = _PREFIX.pack(MAGIC, VERSION, len(header_bytes)) + header_bytes + write_payload(payload, config)
    return body + _CRC.pack(zlib.crc32(body))


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
    if version not in READABLE_VERSIONS:
        raise BitstreamError(f"unsupported .sirn format version {version} (this decoder reads "
                             f"{', '.join(map(str, READABLE_VERSIONS))})")
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(data[: -_CRC.size]) != crc:
        raise BitstreamError("corrupt .sirn bitstream: CRC-32 mismatch (truncated or damaged file)")
    if hlen > MAX_HEADER_BYTES or _PREFIX.size + hlen > len(data) - _CRC.size:
        raise BitstreamError(f"corrupt .sirn bitstream: header length {hlen} exceeds the file")
    header = _parse_header(data[_PREFIX.size : _PREFIX.size + hlen], version)
    return header, _PREFIX.size + hlen


def decompress(data: bytes) -> DecodedStream:
    """Rebuild the (dequantized) INR from .sirn bytes; any defect raises BitstreamError."""
    header, offset = read_header(data)
    version = data[4]
    if version == 4:
        from .bitstream_v4 import read_payload

        payload = read_payload(memoryview(bytes(data))[offset : len(data) - _CRC.size], header.model, header.num_samples)
        return DecodedStream(header, None, version, latent=payload)
    shapes = header.model.parameter_shapes()
    available = len(data) - _CRC.size - offset
    if version == 1:
        expected = sum(_v1_tensor_bytes(name, shape, header.quant) for name, shape in shapes.items())
        if expected != available:
            raise BitstreamError(f"corrupt .sirn bitstream: payload is {available} bytes, the header implies {expected}")
    else:
        count = sum(math.prod(shape) for shape in shapes.values())
        fixed_part = sum(_v2_fixed_bytes(name, shape, header.quant) for name, shape in shapes.items())
        if count > MAX_PARAMETERS or fixed_part > available:
            raise BitstreamError(f"corrupt .sirn bitstream: the header's model ({count:,} parameters) "
                                 f"does not fit the {available}-byte payload")
    view = memoryview(bytes(data))[: len(data) - _CRC.size]
    qstate, records, input_layer = {}, [], input_weight_names(shapes)
    for name, shape in shapes.items():
        quant = header.quant.for_layer(name in input_layer)
        qstate[name], record, offset = _read_tensor(view, offset, name, shape, quant, version)
        records.append(record)
    if offset != len(view):
        raise BitstreamError(f"corrupt .sirn bitstream: {len(view) - offset} bytes after the last tensor")
    model = INR(header.model)
    model.load_state_dict(dequantize_state(qstate))
    return DecodedStream(header, model.eval(), version, tuple(records))


def _num_scales(shape, quant: QuantConfig) -> int:
    return shape[0] if quant.per_channel else 1


def _float_dtype(quant: QuantConfig) -> str:
    return "<f2" if quant.float_bits == 16 else "<f4"


def _v1_tensor_bytes(name: str, shape, quant: QuantConfig) -> int:
    count = math.prod(shape)
    if is_quantized(name, len(shape)):
        return 4 * _num_scales(shape, quant) + packed_size(count, quant.bits)
    return 4 * count


def _v2_fixed_bytes(name: str, shape, quant: QuantConfig) -> int:
    """The bytes of a tensor that do not depend on its values: scales and mode byte, or floats."""
    float_bytes = quant.float_bits // 8
    if is_quantized(name, len(shape)):
        return float_bytes * _num_scales(shape, quant) + 1
    return float_bytes * math.prod(shape)


def _read_tensor(view: memoryview, offset: int, name: str, shape, quant: QuantConfig, version: int):
    """(the tensor, its TensorRecord, the offset after it)."""
    count = math.prod(shape)
    float_bytes = quant.float_bits // 8
    if not is_quantized(name, len(shape)):
        end = offset + float_bytes * count
        if end > len(view):
            raise BitstreamError(f"corrupt .sirn payload: {name} runs past the end of the file")
        values = np.frombuffer(view[offset:end], dtype=_float_dtype(quant)).reshape(shape).astype(np.float32)
        if not np.all(np.isfinite(values)):
            raise BitstreamError(f"corrupt .sirn payload: non-finite value in {name}")
        return values, TensorRecord(name, count, quant.float_bits, "float", end - offset), end
    scale_end = offset + float_bytes * _num_scales(shape, quant)
    if scale_end > len(view):
        raise BitstreamError(f"corrupt .sirn payload: {name} runs past the end of the file")
    scales = np.frombuffer(view[offset:scale_end], dtype=_float_dtype(quant)).astype(np.float32)
    if not np.all(np.isfinite(scales)):
        raise BitstreamError(f"corrupt .sirn bitstream: non-finite scale in {name}")
    if version == 1:
        end = scale_end + packed_size(count, quant.bits)
        codes, coding = unpack_ints(bytes(view[scale_end:end]), count, quant.bits), "fixed"
    else:
        codes, mode, end = decode_codes(view, scale_end, count, quant.bits)
        coding = MODE_NAMES[mode]
    record = TensorRecord(name, count, quant.bits, coding, end - scale_end, scale_end - offset)
    return QuantizedTensor(codes.reshape(shape), scales), record, end


def _parse_header(raw: bytes, version: int = FORMAT_VERSION) -> StreamHeader:
    try:
        d = json.loads(raw.decode("utf-8"))
        if version == 4:
            if "quant" in d:
                raise ValueError("a version 4 header has no quant")
            config = LatentGridConfig.from_dict(d["model"])
            header = StreamHeader(config, d["sample_rate"], d["num_samples"], d["peak_scale"], None, d.get("preset"),
                                  d.get("variant"))
            _validate_header(header, version)
            return header
        quant = d["quant"]
        if version == 1:  # version 1 knew bits and per_channel only: fixed-length codes, fp32 floats
            if set(quant) != {"bits", "per_channel"}:
                raise ValueError(f"version 1 quant fields are bits and per_channel, got {sorted(quant)}")
            quant = {**quant, "coding": "fixed", "float_bits": 32}
        elif set(quant) != set(QUANT_FIELDS) | ({"first_layer_bits"} if version == 3 else set()):
            raise ValueError(f"version {version} quant fields are {sorted(QUANT_FIELDS)}"
                             f"{' and first_layer_bits' if version == 3 else ''}, got {sorted(quant)}")
        header = StreamHeader(
            model=INRConfig.from_dict(d["model"]),
            sample_rate=d["sample_rate"],
            num_samples=d["num_samples"],
            peak_scale=d["peak_scale"],
            quant=QuantConfig(**quant),
            preset=d.get("preset"),
            variant=d.get("variant") if version >= 2 else None,
        )
        header.model.parameter_shapes()  # the architecture must have a geometry
    except BitstreamError:
        raise
    except Exception as exc:  # any malformed field: JSON, types, ranges
        raise BitstreamError(f"corrupt .sirn header: {type(exc).__name__}: {exc}") from None
    _validate_header(header)
    if version == 3 and header.quant.first_layer_bits is None:
        raise BitstreamError("corrupt .sirn header: invalid input layer bits (version 3 names a width other than bits)")
    return header


def _validate_header(h: StreamHeader, version: int = FORMAT_VERSION) -> None:
    from .bitstream_v4 import MAX_SAMPLES_V4

    most_samples = MAX_SAMPLES_V4 if version == 4 else MAX_SAMPLES
    checks = [
        (type(h.sample_rate) is int and 1 <= h.sample_rate <= MAX_SAMPLE_RATE, f"sample rate {h.sample_rate}"),
        (type(h.num_samples) is int and 1 <= h.num_samples <= most_samples, f"sample count {h.num_samples}"),
        (isinstance(h.peak_scale, float) and math.isfinite(h.peak_scale) and h.peak_scale > 0, f"peak scale {h.peak_scale}"),
        (h.preset is None or (isinstance(h.preset, str) and len(h.preset) <= 128), "preset name"),
        (h.quant is None or isinstance(h.quant.per_channel, bool), "quantization flag"),
        (h.variant is None or h.variant in allowed_variants(h.model.num_heads), "decoder variant"),
    ]
    for ok, what in checks:
        if not ok:
            raise BitstreamError(f"corrupt .sirn header: invalid {what}")
