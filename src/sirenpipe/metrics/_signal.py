"""Signal helpers shared by the metrics: STFT power, mel filterbank (and resampling)."""

from __future__ import annotations

import functools

import numpy as np
from scipy.signal import get_window

from ..audio import resample  # noqa: F401  (re-exported for the metrics)

N_FFT = 2048
HOP = 512


def power_spectrogram(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """|STFT|² with a periodic Hann window, centred frames (zero padding); shape [frames, n_fft//2+1]."""
    padded = np.pad(x, n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    spectrum = np.fft.rfft(frames * get_window("hann", n_fft), axis=-1)
    return spectrum.real**2 + spectrum.imag**2


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


@functools.lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int = N_FFT, n_mels: int = 80) -> np.ndarray:
    """Triangular filters (peak 1) on the HTK mel scale from 0 Hz to Nyquist; shape [n_mels, n_fft//2+1]."""
    edges = _mel_to_hz(np.linspace(0.0, _hz_to_mel(sample_rate / 2), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    bank = np.maximum(0.0, np.minimum(rising, falling))
    bank.setflags(write=False)
    return bank
