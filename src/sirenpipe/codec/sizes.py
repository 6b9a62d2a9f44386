"""Sizes and bitrates of a bitstream, from its real byte length."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .bitstream import StreamHeader
from .quantize import is_quantized
from ..models import INR


@dataclass(frozen=True)
class StreamSizes:
    bytes: int  # the real length of the .sirn file
    kbps: float  # bytes * 8 / duration / 1000
    parameters: int  # true parameter count
    paper_style_parameters: int  # the paper's #Params convention (comparison only)
    paper_style_bytes: int  # the paper's kB convention (comparison only)

    def to_dict(self) -> dict:
        return asdict(self)


def stream_sizes(data: bytes, header: StreamHeader, model: INR) -> StreamSizes:
    return StreamSizes(
        bytes=len(data),
        kbps=len(data) * 8 / header.duration / 1000,
        parameters=model.num_parameters(),
        paper_style_parameters=model.paper_style_parameters(),
        paper_style_bytes=paper_style_bytes(model, header.quant.bits),
    )


def paper_style_bytes(model: INR, bits: int | None) -> int:
    """The paper's file-size convention: the trunk stored three times (a pickled state_dict
    holding it under both heads), weights at `bits` (None: fp32), biases fp32, no container
    overhead. A one-head model counts as all trunk. Matches Table 1 within the paper's
    pickle overhead (Siamese SIREN int8: 294.9 kB here vs 303.7 kB; fp32 1158 vs 1165 kB).
    """

    def size(params) -> int:
        total = 0
        for name, p in params:
            quantized = bits and is_quantized(name, p.ndim)
            total += (p.numel() * bits + 7) // 8 if quantized else 4 * p.numel()
        return total

    everything = size(model.named_parameters())
    if model.config.num_heads == 1:
        return 3 * everything
    trunk = size(model.trunk.named_parameters())
    return 3 * trunk + (everything - trunk)
