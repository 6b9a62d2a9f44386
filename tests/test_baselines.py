"""The classical codec baselines (Vorbis, MP3) on a real speech-like signal: length, quality, true
size, and MP3's encoder/decoder delay removed by the alignment."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import fftconvolve

from conftest import speech_like
from sirenpipe.baselines import CODECS, code

RATE = 16000
SECONDS = 2.0


def snr(ref, est):
    return 10 * np.log10(np.sum(ref**2) / np.sum((ref - est) ** 2))


def lag_of(x, ref, max_lag=4096):
    """The shift of x against ref that maximises their cross-correlation (positive: x is late)."""
    corr = fftconvolve(x, ref[::-1], mode="full")
    lags = np.arange(-len(ref) + 1, len(x))
    window = np.abs(lags) <= max_lag
    return int(lags[window][np.argmax(corr[window])])


def encode_file(x, codec_name, level):
    """Encode x the way a user would with soundfile (a real file), independently of code()."""
    codec = CODECS[codec_name]
    buffer = io.BytesIO()
    sf.write(buffer, x, RATE, format=codec.format, subtype=codec.subtype, compression_level=level,
             **dict(codec.extra))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def speech():
    return speech_like(RATE, SECONDS).astype(np.float64)


# measured here (speech_like, 16 kHz, 2 s; libsndfile's libvorbis and LAME/mpg123):
#   vorbis level 0.0: 87.3 kbps, SNR 34.1 dB; level 0.9: 39.5 kbps, 20.2 dB
#   mp3    level 0.0: 169.9 kbps, SNR 26.0 dB; level 0.9: 25.1 kbps, 20.6 dB
@pytest.mark.parametrize("codec_name, snr_floor, kbps_range", [
    ("vorbis", 28.0, (60.0, 120.0)),
    ("mp3", 22.0, (120.0, 200.0)),
])
def test_codec_decodes_the_clip_at_its_length_with_plausible_quality_and_true_size(speech, codec_name, snr_floor,
                                                                                  kbps_range):
    best, small = code(speech, RATE, codec_name, 0.0), code(speech, RATE, codec_name, 0.9)
    for coded in (best, small):
        assert len(coded.decoded) == len(speech)
        assert coded.codec_rate == RATE  # 16 kHz is native to both
        assert np.all(np.isfinite(coded.decoded))
    # the byte count is the real encoded file: the same bytes soundfile writes with these settings
    assert best.num_bytes == len(encode_file(speech, codec_name, 0.0))
    assert small.num_bytes == len(encode_file(speech, codec_name, 0.9))
    kbps = best.num_bytes * 8 / SECONDS / 1000
    assert kbps_range[0] < kbps < kbps_range[1]
    # quality: close at the best level, worse (and smaller) at a high compression level
    assert snr(speech, best.decoded) > snr_floor
    assert np.corrcoef(speech, best.decoded)[0, 1] > 0.95
    assert small.num_bytes < best.num_bytes
    assert snr(speech, small.decoded) < snr(speech, best.decoded)
    # aligned: no residual lag against the input
    assert abs(lag_of(best.decoded, speech)) <= 1 and abs(lag_of(small.decoded, speech)) <= 1


def test_mp3_delay_is_real_and_removed(speech):
    """At a high compression level (MPEG-2 layer III at 16 kHz, 25 kbps) the decoded MP3 starts 1105
    samples late (encoder + decoder delay; at 0.0 and 0.5 libsndfile's decoder removes it itself):
    code() must find and remove it."""
    raw, rate = sf.read(io.BytesIO(encode_file(speech, "mp3", 0.9)), dtype="float64")
    assert rate == RATE
    raw_lag = lag_of(raw, speech)
    assert raw_lag > 500  # 1105 here
    coded = code(speech, RATE, "mp3", 0.9)
    assert abs(coded.delay - raw_lag) <= 1
    assert len(coded.decoded) == len(speech) and abs(lag_of(coded.decoded, speech)) <= 1
    unaligned = np.pad(raw, (0, max(0, len(speech) - len(raw))))[: len(speech)]
    assert snr(speech, coded.decoded) > 15 > snr(speech, unaligned)  # 20.6 dB aligned; unaligned is noise


def test_mp3_without_delay_is_left_in_place(speech):
    raw, _ = sf.read(io.BytesIO(encode_file(speech, "mp3", 0.0)), dtype="float64")
    assert lag_of(raw, speech) == 0
    coded = code(speech, RATE, "mp3", 0.0)
    assert coded.delay == 0 and np.allclose(coded.decoded, raw[: len(speech)], atol=1e-9)
