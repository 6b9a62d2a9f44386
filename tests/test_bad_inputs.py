"""The bad-input matrix (README, "Reliability"): each input either gives a clear one-line
error (exit 2, no output) or is handled correctly."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from conftest import speech_like
from sirenpipe.audio import load_clip
from sirenpipe.cli import main
from sirenpipe.metrics import score

FAST = ["--steps", "5", "--sample-rate", "8000", "--quiet"]


def write(path, x, rate, subtype="PCM_16", fmt=None):
    sf.write(path, x, rate, subtype=subtype, format=fmt)
    return path


ERRORS = {
    "missing path": (lambda p: None, "no such file"),
    "directory": (lambda p: p.mkdir(), "is a directory"),
    "empty file": (lambda p: p.write_bytes(b""), "empty file"),
    "non-audio named .wav": (lambda p: p.write_bytes(b"RIFF....WAVEjunk" * 64), "not readable as audio"),
    "zero-length audio": (lambda p: write(p, np.zeros(0), 16000), "holds no audio samples"),
    "all-zero silence": (lambda p: write(p, np.zeros(16000), 16000), "digital silence"),
    "NaN samples": (lambda p: write(p, np.where(np.arange(8000) == 10, np.nan, 0.1), 8000, "FLOAT"), "NaN or infinite"),
    "inf samples": (lambda p: write(p, np.where(np.arange(8000) == 10, np.inf, 0.1), 8000, "FLOAT"), "NaN or infinite"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_bad_input_is_a_one_line_error_with_nothing_written(tmp_path, capsys, case):
    make, message = ERRORS[case]
    src, out = tmp_path / "in.wav", tmp_path / "out.sirn"
    make(src)
    assert main(["encode", str(src), str(out), *FAST]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists() and list(tmp_path.glob(".out.sirn*")) == []


FORMATS = {
    "8-bit": dict(subtype="PCM_U8", fmt="WAV"),
    "16-bit": dict(subtype="PCM_16", fmt="WAV"),
    "24-bit": dict(subtype="PCM_24", fmt="WAV"),
    "float": dict(subtype="FLOAT", fmt="WAV"),
    "flac": dict(subtype="PCM_16", fmt="FLAC"),
    "ogg vorbis": dict(subtype="VORBIS", fmt="OGG"),
    "mp3": dict(subtype="MPEG_LAYER_III", fmt="MP3"),
}


@pytest.mark.parametrize("name", FORMATS)
def test_formats_and_bit_depths_read_at_their_level(tmp_path, name):
    x = 0.5 * speech_like(16000, 1.0) / np.max(np.abs(speech_like(16000, 1.0)))  # peak 0.5
    path = write(tmp_path / "in.audio", x, 16000, **FORMATS[name])
    clip = load_clip(path, sample_rate=16000, duration=1.0)
    assert np.max(np.abs(clip.samples)) == pytest.approx(1.0)
    assert clip.peak_scale == pytest.approx(0.5, rel=0.1)  # lossy codecs overshoot a little
    assert len(clip.samples) == 16000


@pytest.mark.parametrize("rate", [8000, 44100, 96000])
def test_sample_rates_are_resampled_band_limited(tmp_path, rate):
    t = np.arange(rate) / rate
    path = write(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * 440 * t), rate)
    clip = load_clip(path, sample_rate=22050, duration=1.0)
    spectrum = np.abs(np.fft.rfft(clip.samples))
    assert len(clip.samples) == 22050 and np.argmax(spectrum) == 440  # 1 Hz bins
    assert clip.source_rate == rate


def test_multichannel_is_mixed_to_mono_by_mean(tmp_path):
    left = speech_like(16000, 1.0)
    path = write(tmp_path / "stereo.wav", np.stack([left, np.zeros_like(left), left, left], axis=1), 16000, "FLOAT")
    clip = load_clip(path)
    assert np.allclose(clip.samples * clip.peak_scale, 0.75 * left, atol=1e-6)


def test_clipped_audio_encodes_and_decodes(tmp_path):
    x = np.clip(3 * speech_like(8000, 0.5), -1, 1)  # hard-clipped at full scale
    src, sirn, out = write(tmp_path / "c.wav", x, 8000), tmp_path / "c.sirn", tmp_path / "c.wav.out.wav"
    assert main(["encode", str(src), str(sirn), *FAST]) == 0
    assert main(["decode", str(sirn), str(out)]) == 0
    assert sf.info(out).frames == 4000


def test_very_short_input_encodes_and_metrics_say_why_they_are_null(tmp_path):
    x = speech_like(8000, 0.2)
    src, sirn, out = write(tmp_path / "s.wav", x, 8000), tmp_path / "s.sirn", tmp_path / "s.out.wav"
    assert main(["encode", str(src), str(sirn), *FAST]) == 0
    assert main(["decode", str(sirn), str(out), "--denoise", "f0"]) == 0
    decoded, _ = sf.read(out)
    assert len(decoded) == 1600
    results = score(ref=x.astype(float), est=decoded, sample_rate=8000, metrics=["pesq", "stoi", "snr"])
    assert results["pesq"].value is None and "0.25" in results["pesq"].reason


def test_one_hour_input_is_cropped_while_reading(tmp_path):
    path = tmp_path / "hour.wav"
    block = (0.3 * speech_like(8000, 60.0) * 32767).astype(np.int16)
    with sf.SoundFile(path, "w", 8000, 1, "PCM_16") as f:
        for _ in range(60):
            f.write(block)
    assert sf.info(path).duration == pytest.approx(3600)
    tracemalloc.start()
    clip = load_clip(path, sample_rate=8000, duration=10.0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(clip.samples) == 80000
    assert peak < 20 * 2**20, f"reading 10 s of a 1 h file allocated {peak / 2**20:.0f} MiB"  # the file holds 55 MiB
