"""Classical codec baselines through soundfile's libsndfile: Opus, Vorbis and MP3.

Each encodes a clip in memory at a compression level, the byte count is the real file size,
and the decoded signal is resampled back and realigned to the clip (MP3 adds a delay) so that
the same metric code scores it on the same samples as the INR codec.

CODECS is the codec vocabulary (the workflow's `codec` wildcard and the schema's `baselines`
keys): a new codec is one entry here plus its key in the schema. Importing this module is
cheap (the workflow reads CODECS at parse time): scipy and the resampler load on first use.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf


@dataclass(frozen=True)
class Codec:
    format: str
    subtype: str
    rates: tuple[int, ...] | None  # sample rates the codec accepts (None: any)
    extra: tuple[tuple[str, str], ...] = ()


CODECS = {
    "opus": Codec("OGG", "OPUS", (8000, 12000, 16000, 24000, 48000)),
    "vorbis": Codec("OGG", "VORBIS", None),
    "mp3": Codec("MP3", "MPEG_LAYER_III", (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000),
                 (("bitrate_mode", "CONSTANT"),)),
}


@dataclass
class CodedClip:
    decoded: np.ndarray  # at the clip's rate, aligned, same length
    num_bytes: int
    codec_rate: int
    delay: int  # samples removed (positive) or added (negative) to align


def codec_rate(codec: Codec, rate: int) -> int:
    if codec.rates is None or rate in codec.rates:
        return rate
    higher = [r for r in codec.rates if r >= rate]
    return min(higher) if higher else max(codec.rates)


def code(x: np.ndarray, rate: int, codec_name: str, level: float) -> CodedClip:
    """Encode x (mono float, peak <= 1) with a codec at compression level 0..1 and decode it."""
    from .audio import resample

    codec = CODECS[codec_name]
    target = codec_rate(codec, rate)
    buffer = io.BytesIO()
    sf.write(buffer, resample(x, rate, target), target, format=codec.format, subtype=codec.subtype,
             compression_level=level, **dict(codec.extra))
    num_bytes = len(buffer.getvalue())
    buffer.seek(0)
    decoded, decoded_rate = sf.read(buffer, dtype="float64")
    decoded = resample(decoded, decoded_rate, rate)
    aligned, delay = align(decoded, x)
    return CodedClip(aligned, num_bytes, target, delay)


def align(decoded: np.ndarray, reference: np.ndarray, max_lag: int = 4096) -> tuple[np.ndarray, int]:
    """Shift decoded by the lag that best matches reference (cross-correlation), crop/pad to it."""
    from scipy.signal import fftconvolve

    n = len(reference)
    corr = fftconvolve(decoded, reference[::-1], mode="full")  # index n-1 is lag 0
    lags = np.arange(-n + 1, len(decoded))
    window = np.abs(lags) <= max_lag
    delay = int(lags[window][np.argmax(corr[window])])
    shifted = decoded[delay:] if delay >= 0 else np.concatenate([np.zeros(-delay), decoded])
    shifted = shifted[:n]
    return np.pad(shifted, (0, n - len(shifted))), delay
