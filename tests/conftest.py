"""Shared test signals: short, deterministic, speech- and music-like (no files in the repo)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

SR = 16000


def speech_like(sample_rate: int = SR, seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Voiced speech surrogate: 40 harmonics of a gliding pitch, weighted by two formants that jump
    per syllable (4 Hz), a syllable envelope with a pause every fifth syllable, faint noise floor."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t) + 15 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    vowels = np.array([[700, 1200], [300, 2300], [500, 900], [400, 2000], [650, 1700]])
    formants = vowels[np.floor(t * 4).astype(int) % len(vowels)]
    x = np.zeros_like(t)
    for k in range(1, 40):
        gain = np.exp(-0.5 * ((k * f0[:, None] - formants) / 120.0) ** 2).sum(axis=1) + 0.02
        x += np.where(k * f0 < sample_rate / 2 - 200, gain / np.sqrt(k), 0.0) * np.sin(k * phase)
    envelope = np.clip(np.sin(np.pi * (t * 4 % 1)), 0, None) ** 1.5 * (np.floor(t * 4) % 5 != 4)
    x = x * envelope + 3e-4 * rng.standard_normal(t.size)
    return (0.8 * x / np.max(np.abs(x))).astype(np.float32)


def music_like(sample_rate: int = 22050, seconds: float = 3.0) -> np.ndarray:
    """Four decaying triads with 7 harmonics each."""
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    x = np.zeros_like(t)
    chords = [(261.63, 329.63, 392.0), (220.0, 261.63, 329.63), (174.61, 220.0, 261.63), (196.0, 246.94, 293.66)]
    length = seconds / len(chords)
    for i, chord in enumerate(chords):
        tt = t - i * length
        seg = (tt >= 0) & (tt < length)
        for f in chord:
            for k in range(1, 8):
                x[seg] += np.exp(-2.5 * tt[seg]) * np.sin(2 * np.pi * k * f * tt[seg]) / k
    return (0.8 * x / np.max(np.abs(x))).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    """x plus white noise scaled to exactly ``snr_db``."""
    noise = np.random.default_rng(seed).standard_normal(x.size)
    return x + noise * np.sqrt(np.sum(x**2) / np.sum(noise**2) / 10 ** (snr_db / 10))


@pytest.fixture
def speech_wav(tmp_path):
    path = tmp_path / "speech.wav"
    sf.write(path, speech_like(16000, 2.0), 16000, subtype="PCM_16")
    return path


def pytest_terminal_summary(terminalreporter):
    """Print the bitstream fuzzer's count of inputs and errors by kind."""
    import sys

    fuzz = sys.modules.get("test_bitstream_fuzz")
    if fuzz is None or not fuzz.OUTCOMES:
        return
    outcomes = fuzz.OUTCOMES
    terminalreporter.section("bitstream fuzzing")
    valid = sum(n for (_, outcome), n in outcomes.items() if outcome == "valid after re-CRC")
    terminalreporter.write_line(f"{sum(outcomes.values())} mutated inputs: {sum(outcomes.values()) - valid} BitstreamError, "
                                f"{valid} re-CRC'd header edits to valid values that decode consistently; no other outcome")
    for (kind, message), n in sorted(outcomes.items()):
        terminalreporter.write_line(f"  {kind:14s} {n:6d}  {message}")
