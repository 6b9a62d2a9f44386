"""Perceptual and intelligibility metrics from external packages: ViSQOL, PESQ-WB, STOI, ESTOI."""

from __future__ import annotations

import functools
import warnings

import numpy as np

from ._registry import register
from ._signal import resample

SPEECH_RATE = 16000
AUDIO_RATE = 48000


def _visqol_mode(sample_rate: int, kind: str) -> str:
    return "speech-16k-lattice" if kind == "speech" else "audio-48k"


@functools.lru_cache(maxsize=None)
def _visqol_api(mode: str):
    """One VisqolApi per ViSQOL mode ("speech" or "audio"); creating it loads the mapping model."""
    from visqol import VisqolApi

    api = VisqolApi()
    if mode == "speech":
        api.create(mode="speech", use_lattice_model=True)
    else:
        api.create(mode="audio")
    return api


@register("visqol", mode=_visqol_mode, higher_is_better=True, label="ViSQOL MOS")
def visqol(ref: np.ndarray, est: np.ndarray, sample_rate: int, kind: str) -> float:
    """ViSQOL MOS-LQO: speech mode at 16 kHz with the lattice mapping, or audio mode at 48 kHz."""
    mode, rate = ("speech", SPEECH_RATE) if kind == "speech" else ("audio", AUDIO_RATE)
    api = _visqol_api(mode)
    result = api.measure_from_arrays(resample(ref, sample_rate, rate), resample(est, sample_rate, rate), rate)
    return result.moslqo


@register("pesq", mode="wb-16k", higher_is_better=True, label="PESQ-WB")
def pesq(ref: np.ndarray, est: np.ndarray, sample_rate: int, kind: str) -> float:
    """PESQ wide-band (P.862.2) at 16 kHz. Speech-only by design; computed for any kind."""
    from pesq import pesq as pesq_wb

    return pesq_wb(SPEECH_RATE, resample(ref, sample_rate, SPEECH_RATE), resample(est, sample_rate, SPEECH_RATE), "wb")


def _stoi(ref: np.ndarray, est: np.ndarray, sample_rate: int, extended: bool) -> float:
    """pystoi at the signal's own rate (it resamples to 10 kHz internally). Its "not enough
    frames, returning 1e-5" placeholder becomes an error, hence a null score."""
    from pystoi import stoi

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Not enough STFT frames")
        return stoi(ref, est, sample_rate, extended=extended)


def _stoi_mode(sample_rate: int, kind: str) -> str:
    return f"10k-from-{sample_rate}"


@register("stoi", mode=_stoi_mode, higher_is_better=True, label="STOI", decimals=3)
def stoi(ref: np.ndarray, est: np.ndarray, sample_rate: int, kind: str) -> float:
    """Short-time objective intelligibility (0..1)."""
    return _stoi(ref, est, sample_rate, extended=False)


@register("estoi", mode=_stoi_mode, higher_is_better=True, label="ESTOI", decimals=3)
def estoi(ref: np.ndarray, est: np.ndarray, sample_rate: int, kind: str) -> float:
    """Extended STOI (Jensen & Taal 2016)."""
    return _stoi(ref, est, sample_rate, extended=True)
