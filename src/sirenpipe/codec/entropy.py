"""Entropy coding of one weight tensor's integer codes (bitstream format versions 2 and 3).

Each tensor is stored by whichever of three codes is smallest for it, so a record is never
larger than fixed-length codes plus its mode byte:

    FIXED      fixed-length codes at `bits` (what format version 1 stores)
    LAPLACE    range-coded with a zero-mean quantized Laplace model; its scale travels in the stream
    HISTOGRAM  range-coded with the tensor's own histogram; the counts travel in the stream

Record layout (little endian):

    mode u8, then
      FIXED      packed_size(count, bits) bytes
      LAPLACE    f32 scale b, u32 n, n x u32 range-coder words
      HISTOGRAM  i8 lowest, i8 highest, (highest - lowest + 1) LEB128 counts, u32 n, n x u32 words

The range coder is constriction's (queue.RangeEncoder/RangeDecoder). `laplace_bits` is the
differentiable twin of the LAPLACE code length that rate-aware fitting minimizes.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from ..errors import BitstreamError
from .quantize import pack_ints, packed_size, unpack_ints

FIXED, LAPLACE, HISTOGRAM = 0, 1, 2
MODE_NAMES = {FIXED: "fixed", LAPLACE: "laplace", HISTOGRAM: "histogram"}
MIN_LAPLACE_SCALE = 0.05  # in units of the quantization step; below it every code is 0 anyway
_U32 = struct.Struct("<I")
_F32 = struct.Struct("<f")


@dataclass(frozen=True)
class CodedTensor:
    mode: int
    data: bytes  # the whole record, mode byte included

    @property
    def mode_name(self) -> str:
        return MODE_NAMES[self.mode]


def encode_codes(codes: np.ndarray, bits: int, coding: str = "entropy") -> CodedTensor:
    """The smallest record for these integer codes (coding "fixed": the fixed-length one)."""
    codes = np.asarray(codes).ravel().astype(np.int32)
    candidates = [CodedTensor(FIXED, bytes([FIXED]) + pack_ints(codes, bits))]
    if coding == "entropy" and codes.size:
        candidates += [_encode_laplace(codes, bits), _encode_histogram(codes)]
    return min(candidates, key=lambda c: (len(c.data), c.mode))


def decode_codes(view: memoryview, offset: int, count: int, bits: int) -> tuple[np.ndarray, int, int]:
    """(int8 codes, mode, offset after the record); any defect raises BitstreamError."""
    reader = _Reader(view, offset)
    mode = reader.take(1)[0]
    qmax = 2 ** (bits - 1) - 1
    if mode == FIXED:
        codes = unpack_ints(reader.take(packed_size(count, bits)), count, bits)
    elif mode == LAPLACE:
        (scale,) = _F32.unpack(reader.take(4))
        if not (math.isfinite(scale) and MIN_LAPLACE_SCALE <= scale <= 2 * qmax + 2):
            raise BitstreamError(f"corrupt .sirn payload: Laplace scale {scale}")
        model = _laplace_model(qmax, scale)
        codes = _range_decode(reader, model, count)
    elif mode == HISTOGRAM:
        lowest, highest = struct.unpack("<bb", reader.take(2))
        if not (-qmax <= lowest <= highest <= qmax):
            raise BitstreamError(f"corrupt .sirn payload: histogram range {lowest}..{highest} at {bits} bits")
        counts = np.array([reader.varint(count) for _ in range(highest - lowest + 1)], dtype=np.float64)
        if counts.sum() != count:
            raise BitstreamError(f"corrupt .sirn payload: histogram counts sum to {int(counts.sum())}, not {count}")
        codes = _range_decode(reader, _histogram_model(counts), count) + lowest
    else:
        raise BitstreamError(f"corrupt .sirn payload: unknown tensor coding {mode}")
    return np.asarray(codes).astype(np.int8), mode, reader.offset


def laplace_bits(codes, qmax: int):
    """Ideal LAPLACE code length in bits of the integer `codes` (a float torch tensor, which may
    carry straight-through gradients), with the scale the encoder uses (laplace_scale).

    The value comes from the counts of each |code|; the gradient is that of the code length at
    each code (1 / (b ln 2) per unit of |code| away from 0, 0 at 0), passed straight through. The
    scale minimizes the length, so its own gradient is zero there and it is held fixed."""
    import torch

    levels, counts, magnitude = _level_counts(codes, qmax)
    with torch.no_grad():
        scale = _best_scale(counts, levels, qmax)
        length = -_laplace_log2p(levels, scale, qmax)
        slope = torch.where(levels > 0, 1.0 / (scale * math.log(2.0)), torch.zeros_like(levels))
    direction = torch.sign(codes.detach()) * slope[magnitude]
    return (counts * length).sum() + ((codes - codes.detach()) * direction).sum()


def laplace_scale(codes, qmax: int):
    """The Laplace scale b (in code units) that minimizes the ideal code length of the integer
    `codes` (see _best_scale). A torch tensor."""
    levels, counts, _ = _level_counts(codes, qmax)
    return _best_scale(counts, levels, qmax)


def _level_counts(codes, qmax: int):
    """(levels 0..qmax, how many codes have each |code|, each code's |code| as an index)."""
    import torch

    levels = torch.arange(qmax + 1, dtype=codes.dtype, device=codes.device)
    magnitude = codes.detach().abs().reshape(-1).long()  # integer-valued codes: exact
    counts = torch.zeros_like(levels).scatter_add(0, magnitude, torch.ones_like(codes.detach().reshape(-1)))
    return levels, counts, magnitude.reshape(codes.shape)


def _best_scale(counts, levels, qmax: int, candidates: int = 48):
    """The best of `candidates` log-spaced scales in [MIN_LAPLACE_SCALE, 2 qmax + 2], then the
    best of as many between its two neighbours; vectorized and free of data-dependent control
    flow, so it also works under vmap."""
    import torch

    log_lo, log_hi = math.log(MIN_LAPLACE_SCALE), math.log(2 * qmax + 2)
    step = (log_hi - log_lo) / (candidates - 1)
    grid = torch.linspace(0.0, 1.0, candidates, dtype=counts.dtype, device=counts.device)

    def best(log_b):  # (K,) candidates -> the one with the shortest code
        lengths = -(counts * _laplace_log2p(levels, torch.exp(log_b).unsqueeze(-1), qmax)).sum(-1)
        return log_b[torch.argmin(lengths)]

    coarse = best(log_lo + grid * (log_hi - log_lo))
    return torch.exp(best(torch.clamp(coarse + (2 * grid - 1) * step, log_lo, log_hi)))


def _laplace_log2p(x, b, qmax: int):
    """log2 P(|code| = x) under the zero-mean Laplace of scale b quantized to integers, the
    tails folded into the end bins +-qmax (x: absolute codes, float)."""
    import torch

    ln2 = math.log(2.0)
    outer = -(x - 0.5) / b / ln2 - 1.0  # log2 of 0.5 exp(-(x - 0.5) / b): the tail beyond x - 0.5
    interior = outer + torch.log2(-torch.expm1(-1.0 / b))  # times (1 - exp(-1/b)): one bin
    centre = torch.log2(torch.clamp(1 - 0.5 * torch.exp(-(0.5 + x) / b) - 0.5 * torch.exp(-(0.5 - x) / b), min=1e-30))
    return torch.where(x < 0.5, centre, torch.where(x >= qmax - 0.5, outer, interior))


# --- encoders --------------------------------------------------------------------------------
def _encode_laplace(codes: np.ndarray, bits: int) -> CodedTensor:
    import torch

    qmax = 2 ** (bits - 1) - 1
    scale = float(np.float32(laplace_scale(torch.from_numpy(codes.astype(np.float64)), qmax)))
    scale = min(max(scale, MIN_LAPLACE_SCALE), 2 * qmax + 2)
    words = _range_encode(codes, _laplace_model(qmax, scale))
    return CodedTensor(LAPLACE, bytes([LAPLACE]) + _F32.pack(scale) + _U32.pack(len(words)) + words.tobytes())


def _encode_histogram(codes: np.ndarray) -> CodedTensor:
    lowest, highest = int(codes.min()), int(codes.max())
    counts = np.bincount(codes - lowest, minlength=highest - lowest + 1)
    words = _range_encode(codes - lowest, _histogram_model(counts.astype(np.float64)))
    table = b"".join(_varint(int(c)) for c in counts)
    record = bytes([HISTOGRAM]) + struct.pack("<bb", lowest, highest) + table + _U32.pack(len(words)) + words.tobytes()
    return CodedTensor(HISTOGRAM, record)


def _laplace_model(qmax: int, scale: float):
    import constriction

    return constriction.stream.model.QuantizedLaplace(-qmax, qmax, 0.0, float(scale))


def _histogram_model(counts: np.ndarray):
    import constriction

    if len(counts) == 1:  # one symbol: constriction needs two (the second never occurs)
        counts = np.append(counts, 0.0)
    return constriction.stream.model.Categorical(counts / counts.sum(), perfect=False)


def _range_encode(symbols: np.ndarray, model) -> np.ndarray:
    import constriction

    encoder = constriction.stream.queue.RangeEncoder()
    encoder.encode(symbols.astype(np.int32), model)
    return encoder.get_compressed().astype("<u4")


def _range_decode(reader: "_Reader", model, count: int) -> np.ndarray:
    import constriction

    (num_words,) = _U32.unpack(reader.take(4))
    words = np.frombuffer(reader.take(4 * num_words), dtype="<u4").astype(np.uint32)
    try:
        return constriction.stream.queue.RangeDecoder(words).decode(model, count)
    except BaseException as exc:  # the coder rejects data its model cannot have produced
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise BitstreamError(f"corrupt .sirn payload: range decoder: {exc}") from None


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


class _Reader:
    """Bounded reads from the payload: running past its end is a BitstreamError."""

    def __init__(self, view: memoryview, offset: int):
        self.view, self.offset = view, offset

    def take(self, size: int) -> bytes:
        if size < 0 or self.offset + size > len(self.view):
            raise BitstreamError("corrupt .sirn payload: a tensor record runs past the end of the file")
        out = bytes(self.view[self.offset : self.offset + size])
        self.offset += size
        return out

    def varint(self, limit: int) -> int:
        value, shift = 0, 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if value > limit or shift > 35:
                raise BitstreamError(f"corrupt .sirn payload: histogram count above {limit}")
            if not byte & 0x80:
                return value
            shift += 7


def estimate_weight_bits(params: dict, quant):
    """Estimated coded bits of a model's quantized weights, differentiable (rate-aware fitting):
    the LAPLACE code length of each weight matrix's integer codes at `quant`, with straight-through
    rounding, so the value is that of the codes the encoder will see. Works under vmap."""
    import torch

    from ..models.config import input_weight_names
    from .quantize import quantize_weight

    total = 0.0
    input_layer = input_weight_names(params) if quant.first_layer_bits is not None else ()
    for name, w in params.items():
        if name.endswith("weight") and w.dim() >= 2:
            layer_quant = quant.for_layer(name in input_layer)
            codes, _ = quantize_weight(w, layer_quant)
            # the codes' gradient includes the scale's: scaling a whole row changes no code
            peak = w.abs().amax(dim=-1, keepdim=True) if quant.per_channel else w.abs().amax().reshape(1, 1)
            qmax = layer_quant.qmax
            ratio = w / torch.where(peak > 0, peak / qmax, torch.ones_like(peak))  # an all-zero row: codes 0
            total = total + laplace_bits((ratio - ratio.detach()) + codes, qmax)
    return total
