"""The SIREN family's stream (format versions 1-3): a quantized INR. The container around it
(framing, header, CRC) is codec/header.py's.

Version 3 when the input layer has its own bit width, else 2 (this encoder); 1 is still read.

    header    UTF-8 JSON: model config, preset, sample_rate, num_samples, peak_scale,
              quant {bits, per_channel, coding, float_bits, and in version 3 first_layer_bits},
              and from version 2 on optionally the decoder variant chosen at encode time
    payload   per parameter, in the model's state_dict order:
                weight: scales (1, or one per row; f32 or f16 as float_bits says),
                        then its integer codes (at `bits`, or the input layer's
                        at first_layer_bits): version 1 packed;
                        versions 2 and 3 one record of codec/entropy.py (fixed,
                        Laplace- or histogram-range-coded, whichever is smallest)
                bias:   f32 or f16 values

The header bounds every allocation before the payload is read: version 1's payload size
follows from the header alone and must match exactly; version 2 and 3's fixed parts (scales, biases,
one mode byte per weight tensor) must fit in the payload, the model may have at most
MAX_PARAMETERS parameters, and every record is read with bounds checks and must end exactly
where the next begins.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import BitstreamError
from ..models import INR, INRConfig, input_weight_names
from .entropy import MODE_NAMES, decode_codes, encode_codes
from .header import StreamHeader, check_header, frame
from .quantize import QuantConfig, QuantizedTensor, dequantize_state, is_quantized, packed_size, quantize_state, unpack_ints

FORMAT_VERSION = 3  # the newest compress() writes: 3 with first_layer_bits, else 2 (byte-identical to before it)
VERSIONS = (1, 2, 3)
MAX_PARAMETERS = 2**24  # a version-2 or -3 header naming a larger model is refused before any allocation
MAX_SAMPLES = 2**31 - 1
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
class SirenPayload:
    """What a version 1-3 stream holds besides its header."""

    model: INR  # dequantized float weights, CPU, eval mode
    tensors: tuple[TensorRecord, ...] = ()


def compress(model: INR, *, sample_rate: int, num_samples: int, peak_scale: float, quant: QuantConfig = QuantConfig(),
             preset: str | None = None, variant: str | None = None) -> bytes:
    """Quantize `model` and serialize it with the clip's metadata (and the decoder variant to
    use by default, if given) into .sirn bytes (version 3 if the input layer has its own bit
    width, else 2)."""
    header = StreamHeader(model.config, int(sample_rate), int(num_samples), float(peak_scale), quant, preset, variant)
    check_header(header, MAX_SAMPLES)
    if model.num_parameters() > MAX_PARAMETERS:
        raise ValueError(f"a .sirn stream holds at most {MAX_PARAMETERS:,} parameters, this model has {model.num_parameters():,}")
    version = 3 if quant.first_layer_bits is not None else 2
    body = bytearray()
    floats = _float_dtype(quant)
    qstate = quantize_state(model.state_dict(), quant)
    input_layer = input_weight_names(qstate)
    for name, value in qstate.items():
        if isinstance(value, QuantizedTensor):
            bits = quant.for_layer(name in input_layer).bits
            body += value.scales.astype(floats).tobytes() + encode_codes(value.values, bits, quant.coding).data
        else:
            body += value.astype(floats).tobytes()
    return frame(version, header, bytes(body))


def read_payload(view: memoryview, header: StreamHeader, version: int) -> SirenPayload:
    """Rebuild the (dequantized) INR from a version 1-3 payload (the bytes between header and
    CRC); any defect raises BitstreamError."""
    shapes = header.model.parameter_shapes()
    available = len(view)
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
    qstate, records, input_layer, offset = {}, [], input_weight_names(shapes), 0
    for name, shape in shapes.items():
        quant = header.quant.for_layer(name in input_layer)
        qstate[name], record, offset = _read_tensor(view, offset, name, shape, quant, version)
        records.append(record)
    if offset != len(view):
        raise BitstreamError(f"corrupt .sirn bitstream: {len(view) - offset} bytes after the last tensor")
    model = INR(header.model)
    model.load_state_dict(dequantize_state(qstate))
    return SirenPayload(model.eval(), tuple(records))


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


def parse_header(d: dict, version: int) -> StreamHeader:
    """The header of a version 1-3 stream from its JSON fields; any defect raises BitstreamError."""
    try:
        if "family" in d:
            raise ValueError(f"a version {version} header names no family")
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
    except Exception as exc:  # any malformed field: types, ranges
        raise BitstreamError(f"corrupt .sirn header: {type(exc).__name__}: {exc}") from None
    check_header(header, MAX_SAMPLES)
    if version == 3 and header.quant.first_layer_bits is None:
        raise BitstreamError("corrupt .sirn header: invalid input layer bits (version 3 names a width other than bits)")
    return header
