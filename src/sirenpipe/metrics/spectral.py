"""Cheap signal-level metrics computed with numpy: SNR, PSNR, log-spectral distance, mel distance."""

from __future__ import annotations

import numpy as np

from ._registry import register
from ._signal import mel_filterbank, power_spectrogram, resample

SNR_CAP_DB = 100.0
PSNR_RATE = 16000
POWER_EPS = 1e-10
MEL_EPS = 1e-5


def _rate_mode(sample_rate: int, kind: str) -> str:
    return str(sample_rate)


@register("snr", mode=_rate_mode, higher_is_better=True, label="SNR", unit="dB")
def snr(ref: np.ndarray, est: np.ndarray, sample_rate: int, kind: str) -> float:
    """10·log10(Σref² / Σ(ref−est)²) in dB, capped at +100 dB (identical signals give 100.0, not inf)."""
    noise = np.sum((ref - est) ** 2)
    if noise == 0.0:
        return SNR_CAP_DB
    return min(SNR_CAP_DB, 10.0 * np.log10(np.sum(ref**2) / noise))


@register("psnr", mode="[0,1]-16k", higher_is_better=True, label="PSNR", unit="dB")
def psnr(ref: np.ndarray, est: np.ndarray, sample_rate: int, kind: str) -> float:
    """PSNR in dB of audio mapped from [-1, 1] to [0, 1] at 16 kHz (peak 1), as COIN++ and RECOMBINER
    report: both signals resampled to 16 kHz, then x01 = (x + 1) / 2, 10·log10(1 / MSE(x01)); capped at
    +100 dB like snr (identical signals give 100.0)."""
    ref01, est01 = ((resample(x, sample_rate, PSNR_RATE) + 1.0) / 2.0 for x in (ref, est))
    mse = np.mean((ref01 - est01) ** 2)
    if mse == 0.0:
        return SNR_CAP_DB
    return min(SNR_CAP_DB, -10.0 * np.log10(mse))


@register("lsd", mode=_rate_mode, higher_is_better=False, label="LSD", unit="dB")
def lsd(ref: np.ndarray, est: np.ndarray, sample_rate: int, kind: str) -> float:
    """Log-spectral distance in dB: STFT 2048/512 Hann, RMS over bins of the dB difference, mean over frames."""
    diff = 10.0 * (np.log10(power_spectrogram(ref) + POWER_EPS) - np.log10(power_spectrogram(est) + POWER_EPS))
    return np.mean(np.sqrt(np.mean(diff**2, axis=-1)))


def _log_mel(x: np.ndarray, sample_rate: int) -> np.ndarray:
    magnitude = np.sqrt(power_spectrogram(x))
    return np.log(np.maximum(magnitude @ mel_filterbank(sample_rate).T, MEL_EPS))


@register(
    "mel_distance", mode=_rate_mode, higher_is_better=False, label="Mel distance", unit="L1 log-mel", decimals=3
)
def mel_distance(ref: np.ndarray, est: np.ndarray, sample_rate: int, kind: str) -> float:
    """Mean absolute difference of natural-log magnitude mel spectrograms (80 HTK mels, 0 Hz..Nyquist,
    STFT 2048/512 Hann, floor 1e-5), as in HiFi-GAN's mel loss."""
    return np.mean(np.abs(_log_mel(ref, sample_rate) - _log_mel(est, sample_rate)))
