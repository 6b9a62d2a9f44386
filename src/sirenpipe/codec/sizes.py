"""Sizes and bitrates of a bitstream, from its real byte length."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .header import StreamHeader


@dataclass(frozen=True)
class StreamSizes:
    bytes: int  # the real length of the .sirn file
    kbps: float  # bytes * 8 / duration / 1000
    parameters: int  # the model's network parameters (its config's count)

    def to_dict(self) -> dict:
        return asdict(self)


def stream_sizes(data: bytes, header: StreamHeader) -> StreamSizes:
    return StreamSizes(bytes=len(data), kbps=len(data) * 8 / header.duration / 1000,
                       parameters=header.model.num_parameters())
