"""The .sirn file format and its decoder: quantization, entropy coding, header and bitstream
(compress / decompress), synthesis at any rate, and the decoder variants; :mod:`.decoder` is the
decoder's front door (decode). It depends on :mod:`sirenpipe.models` and the utilities only; the
encoder (fitting, variant choice, rate control) is :mod:`sirenpipe.encoder`.

Quantization settings, sizes and variants need no torch; the rest is imported on first use.
"""

from .._lazy import lazy_exports
from .quantize import QuantConfig
from .sizes import StreamSizes, stream_sizes
from .variants import DEFAULT_ALPHA, VARIANTS, allowed_variants, default_variant, reconstruct

__getattr__ = lazy_exports(
    __name__,
    {
        ".bitstream": ("FORMAT_VERSION", "DecodedStream", "StreamHeader", "compress", "decompress", "read_header"),
        ".synthesis": ("synthesize", "synthesize_model"),
        ".decoder": ("Decoded", "decode"),
    },
)

__all__ = [
    "DEFAULT_ALPHA",
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
    "synthesize_model",
    "decode",
    "Decoded",
    "VARIANTS",
    "reconstruct",
    "default_variant",
    "allowed_variants",
]
