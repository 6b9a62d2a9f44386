"""The codec: quantize + serialize (compress), parse + dequantize (decompress), synthesize, and
the decoder variants; :mod:`.api` is the one entry point (encode_clip, decode).

Quantization settings, sizes and variants need no torch; the rest is imported on first use.
"""

from .._lazy import lazy_exports
from .quantize import QuantConfig
from .sizes import StreamSizes, stream_sizes
from .variants import VARIANTS, allowed_variants, default_variant, reconstruct

__getattr__ = lazy_exports(
    __name__,
    {
        ".bitstream": ("FORMAT_VERSION", "DecodedStream", "StreamHeader", "compress", "decompress", "read_header"),
        ".synthesis": ("synthesize",),
        ".api": ("Decoded", "Encoded", "decode", "encode_at_rate", "encode_clip"),
    },
)

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
    "encode_clip",
    "encode_at_rate",
    "decode",
    "Encoded",
    "Decoded",
    "VARIANTS",
    "reconstruct",
    "default_variant",
    "allowed_variants",
]
