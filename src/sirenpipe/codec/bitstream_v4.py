"""The latent-grid family's stream (format version 4): a latent-grid model (models.latent_config)
and its clip.

Layout (little endian), inside the container (codec/header.py):

    header    UTF-8 JSON: model (a LatentGridConfig), preset, sample_rate, num_samples,
              peak_scale, variant, family ("latent_grid"; absent in streams written before it)
    per module, "arm" then "synthesis":
              u8 weight shift, u8 bias shift, u8 weight order, u8 bias order,
              u32 n, n bytes: the weights' integers, signed exp-Golomb (codec/expgolomb.py)
              u32 n, n bytes: the biases' integers, the same way
              (each in the order of LatentGridConfig.parameter_shapes, flattened)
    per grid, coarsest first: i8 lo, i8 hi, the grid's alphabet
    u32 n, n x u32: range-coder words of every latent (codec/latent_coding.py)
    crc32     u32

The header bounds every allocation before the payload is read: the config is validated (its
networks have at most a few thousand parameters), num_samples is at most MAX_SAMPLES_V4, and the
latents may number at most LATENTS_PER_BYTE per byte of range-coder words. Exp-Golomb blocks must
hold exactly their parameters, the ARM's fixed-point products are bounded, and every record must
end where the next begins.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np

from ..errors import BitstreamError
from ..models.latent_config import LATENT_MAX, LATENT_MIN, LatentGridConfig
from . import expgolomb
from .header import StreamHeader, check_header, frame
from .latent_coding import (MAX_CODE, MODULES, IntegerArm, NetworkShifts, decode_latents, dequantize_module, encode_latents,
                            is_bias)

VERSION = 4
MAX_SAMPLES_V4 = 2**24
_MODULE_HEAD = struct.Struct("<BBBB")
_U32 = struct.Struct("<I")


@dataclass
class LatentPayload:
    """What a version-4 stream holds besides its header."""

    latents: list[np.ndarray]  # int8 per grid, finest first
    codes: dict[str, dict[str, np.ndarray]]  # module -> parameter name -> integers
    shifts: dict[str, NetworkShifts]
    sizes: dict[str, int] = field(default_factory=dict)  # bytes per part: arm, synthesis, latents

    def network_state(self) -> dict[str, np.ndarray]:
        """Float parameters of both networks, by state_dict name."""
        state = {}
        for module in MODULES:
            state.update(dequantize_module(self.codes[module], self.shifts[module]))
        return state

    def integer_arm(self, config: LatentGridConfig) -> IntegerArm:
        return IntegerArm(self.codes["arm"], self.shifts["arm"], config)


def compress_latent(payload: LatentPayload, config: LatentGridConfig, *, sample_rate: int, num_samples: int,
                    peak_scale: float, preset: str | None = None, variant: str | None = None,
                    family: str | None = None) -> bytes:
    """A version-4 stream of a latent-grid model (its integer latents and network codes) and the
    clip's metadata; `family` is the name the header gives its family."""
    header = StreamHeader(config, int(sample_rate), int(num_samples), float(peak_scale), None, preset, variant, family)
    check_header(header, MAX_SAMPLES_V4)
    return frame(VERSION, header, write_payload(payload, config))


def parse_header(d: dict) -> StreamHeader:
    """The header of a version-4 stream from its JSON fields (which family it names is the
    decoder's to check); any defect raises BitstreamError."""
    try:
        if "quant" in d:
            raise ValueError("a version 4 header has no quant")
        header = StreamHeader(LatentGridConfig.from_dict(d["model"]), d["sample_rate"], d["num_samples"],
                              d["peak_scale"], None, d.get("preset"), d.get("variant"), d.get("family"))
    except Exception as exc:  # any malformed field: types, ranges
        raise BitstreamError(f"corrupt .sirn header: {type(exc).__name__}: {exc}") from None
    check_header(header, MAX_SAMPLES_V4)
    return header


def write_payload(payload: LatentPayload, config: LatentGridConfig) -> bytes:
    out = bytearray()
    for module in MODULES:
        shifts, codes = payload.shifts[module], payload.codes[module]
        weights = np.concatenate([codes[n].ravel() for n in config.module_shapes(module) if not is_bias(n)] or [np.zeros(0, np.int64)])
        biases = np.concatenate([codes[n].ravel() for n in config.module_shapes(module) if is_bias(n)] or [np.zeros(0, np.int64)])
        k_w, k_b = expgolomb.best_order(weights), expgolomb.best_order(biases)
        blob_w, blob_b = expgolomb.write(weights, k_w), expgolomb.write(biases, k_b)
        out += _MODULE_HEAD.pack(shifts.weight, shifts.bias, k_w, k_b)
        out += _U32.pack(len(blob_w)) + blob_w + _U32.pack(len(blob_b)) + blob_b
    ranges, words = encode_latents(payload.latents, payload.integer_arm(config))
    for lo, hi in reversed(ranges):
        out += struct.pack("<bb", lo, hi)
    out += _U32.pack(len(words)) + words.astype("<u4").tobytes()
    return bytes(out)


def read_payload(view: memoryview, config: LatentGridConfig, num_samples: int) -> LatentPayload:
    """Parse and decode a version-4 payload (the bytes between header and CRC)."""
    reader = _Reader(view)
    codes, shifts, sizes = {}, {}, {}
    for module in MODULES:
        start = reader.offset
        s_w, s_b, k_w, k_b = _MODULE_HEAD.unpack(reader.take(_MODULE_HEAD.size))
        try:
            shifts[module] = NetworkShifts(s_w, s_b)
        except ValueError as exc:
            raise BitstreamError(f"corrupt .sirn bitstream: {module}: {exc}") from None
        shapes = config.module_shapes(module)
        weights = _read_block(reader, sum(math.prod(v) for n, v in shapes.items() if not is_bias(n)), k_w, module)
        biases = _read_block(reader, sum(math.prod(v) for n, v in shapes.items() if is_bias(n)), k_b, module)
        codes[module] = _unflatten(shapes, weights, biases)
        sizes[module] = reader.offset - start
    start = reader.offset
    ranges = []
    for _ in range(config.num_grids):
        lo, hi = struct.unpack("<bb", reader.take(2))
        if not LATENT_MIN <= lo < hi <= LATENT_MAX:
            raise BitstreamError(f"corrupt .sirn bitstream: latent alphabet [{lo}, {hi}]")
        ranges.append((lo, hi))
    ranges.reverse()
    (n_words,) = _U32.unpack(reader.take(4))
    if 4 * n_words != len(view) - reader.offset:
        raise BitstreamError(f"corrupt .sirn bitstream: {n_words} latent code words in {len(view) - reader.offset} bytes")
    words = np.frombuffer(reader.take(4 * n_words), dtype="<u4")
    try:
        arm = IntegerArm(codes["arm"], shifts["arm"], config)
    except ValueError as exc:
        raise BitstreamError(f"corrupt .sirn bitstream: {exc}") from None
    latents = decode_latents(words, ranges, config.grid_lengths(num_samples), arm)
    sizes["latents"] = reader.offset - start
    return LatentPayload(latents, codes, shifts, sizes)


def _read_block(reader: "_Reader", count: int, order: int, module: str) -> np.ndarray:
    (n,) = _U32.unpack(reader.take(4))
    blob = reader.take(n)
    values = expgolomb.read(blob, count, order)
    if len(values) and np.abs(values).max() > MAX_CODE:
        raise BitstreamError(f"corrupt .sirn bitstream: a {module} integer beyond {MAX_CODE}")
    if expgolomb.nbits(values, order) + 7 < 8 * n:  # a block holds its values and less than a byte of padding
        raise BitstreamError(f"corrupt .sirn bitstream: {module} parameters end before their {n}-byte block")
    return values


def _unflatten(shapes: dict, weights: np.ndarray, biases: np.ndarray) -> dict[str, np.ndarray]:
    out, at = {}, {"w": 0, "b": 0}
    for name, shape in shapes.items():
        key, source = ("b", biases) if is_bias(name) else ("w", weights)
        size = math.prod(shape)
        out[name] = source[at[key] : at[key] + size].reshape(shape)
        at[key] += size
    return out


class _Reader:
    def __init__(self, view: memoryview):
        self.view, self.offset = view, 0

    def take(self, size: int) -> bytes:
        end = self.offset + size
        if end > len(self.view):
            raise BitstreamError("corrupt .sirn payload: the file ends inside a record")
        chunk = bytes(self.view[self.offset : end])
        self.offset = end
        return chunk
