"""The codec: quantize + serialize (compress), parse + dequantize (decompress), synthesize."""

from .bitstream import FORMAT_VERSION, DecodedStream, StreamHeader, compress, decompress, read_header
from .decode import synthesize
from .quantize import QuantConfig
from .sizes import StreamSizes, stream_sizes

__all__ = [
    "FORMAT_VERSION",
    "DecodedStream",
    "StreamHeader",
    "QuantConfig",
    "StreamSizes",
    "compress",
    "decompress",
    "read_header",
    "stream_sizes",
    "synthesize",
]
