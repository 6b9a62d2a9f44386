"""The .sirn format: the container every stream shares (:mod:`.header`: framing, CRC, header),
each family's payload (:mod:`.bitstream`: the SIREN's, versions 1-3; :mod:`.bitstream_v4`: the
latent grid's, version 4) and the coding tools they are made of (quantization, entropy coding,
exp-Golomb codes, the integer Laplace table), synthesis at any rate, and the decoder variants.
It depends on :mod:`sirenpipe.models` and the utilities only. Reading a whole stream needs the
model families: that is the decoder's (:mod:`sirenpipe.decoder`); writing one, the encoder's.

Quantization settings, the container, sizes and variants need no torch; the rest is imported on
first use.
"""

from .._lazy import lazy_exports
from .header import DecodedStream, StreamHeader
from .quantize import QuantConfig
from .sizes import StreamSizes, stream_sizes
from .variants import DEFAULT_ALPHA, VARIANTS, allowed_variants, default_variant, reconstruct

__getattr__ = lazy_exports(
    __name__,
    {
        ".bitstream": ("FORMAT_VERSION", "compress"),
        ".synthesis": ("synthesize_model",),
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
    "stream_sizes",
    "synthesize_model",
    "VARIANTS",
    "reconstruct",
    "default_variant",
    "allowed_variants",
]
