"""The bad-input matrix (docs/reliability.md): each input either gives a clear one-line
error (exit 2, no output) or is handled correctly."""

from __future__ import annotations

import json
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


STOPBAND_DB = 50  # every alias or image at least this far below the 440 Hz tone (measured: 61-68 dB)


def stray_db(y: np.ndarray, rate: int, tones: list[int]) -> float:
    """Level of the strongest spectral line outside +-20 Hz of `tones`, in dB re the 440 Hz line
    (Hann window; 1 s at the output rate: 1 Hz bins)."""
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    outside = np.ones(len(spectrum), bool)
    for f in tones:
        outside[max(f - 20, 0) : f + 21] = False
    return 20 * np.log10(spectrum[outside].max() / spectrum[440])


@pytest.mark.parametrize("rate", [8000, 44100, 96000])
def test_sample_rates_are_resampled_band_limited(tmp_path, rate):
    """To 22.05 kHz: from 8 kHz a 3 kHz tone stays (no image at 8 - 3 = 5 kHz); from 44.1 and
    96 kHz a 15 kHz tone, above the new Nyquist frequency, is removed, not folded back to
    22.05 - 15 = 7.05 kHz. Linear interpolation, as naive as resampling gets, fails both."""
    high = 3000 if rate < 22050 else 15000
    t = np.arange(rate) / rate
    x = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.25 * np.sin(2 * np.pi * high * t)
    path = write(tmp_path / "tone.wav", x, rate)
    clip = load_clip(path, sample_rate=22050, duration=1.0)
    assert len(clip.samples) == 22050 and clip.source_rate == rate
    spectrum = np.abs(np.fft.rfft(clip.samples * np.hanning(22050)))
    assert np.argmax(spectrum) == 440  # 1 Hz bins
    kept = [440, high] if high < 11025 else [440]
    if high < 11025:  # in the pass band: kept at its level (-6 dB re the 440 Hz tone)
        assert 20 * np.log10(spectrum[high] / spectrum[440]) == pytest.approx(-6.02, abs=0.5)
    assert stray_db(clip.samples, 22050, kept) < -STOPBAND_DB, f"alias or image {stray_db(clip.samples, 22050, kept):.1f} dB"
    # the check has teeth: linear interpolation of the same file aliases (and images) far above the limit
    x16 = sf.read(path, dtype="float32")[0]
    naive = np.interp(np.arange(22050) * rate / 22050, np.arange(len(x16)), x16)
    assert stray_db(naive, 22050, kept) > -30


def test_multichannel_is_mixed_to_mono_by_mean(tmp_path):
    left = speech_like(16000, 1.0)
    path = write(tmp_path / "stereo.wav", np.stack([left, np.zeros_like(left), left, left], axis=1), 16000, "FLOAT")
    clip = load_clip(path)
    assert np.allclose(clip.samples * clip.peak_scale, 0.75 * left, atol=1e-6)


def test_clipped_audio_encodes_and_decodes(tmp_path, capsys):
    """Hard-clipped input is coded like any other: read at full scale with the clipped runs
    intact (peak normalization by 1, nothing rescaled or softened), the level in the bitstream,
    and a decoded signal that follows the clipped waveform, plateaus included, at that level."""
    x = np.clip(3 * speech_like(8000, 0.5), -1, 1)  # hard-clipped at full scale
    flat = np.abs(x) == 1  # the clipped samples
    assert flat.mean() > 0.05
    src, sirn, out = write(tmp_path / "c.wav", x, 8000), tmp_path / "c.sirn", tmp_path / "c.wav.out.wav"
    clip = load_clip(src, sample_rate=8000)
    stored = sf.read(src, dtype="float32")[0]  # PCM_16: +1 -> 32767/32768, -1 -> -1
    assert clip.peak_scale == 1.0
    assert np.array_equal(clip.samples, stored)  # nothing rescaled, so every clipped sample survives as stored
    assert np.all(np.abs(clip.samples[flat]) >= 32767 / 32768)

    assert main(["encode", str(src), str(sirn), "--steps", "100", "--sample-rate", "8000", "--quiet"]) == 0
    assert main(["info", str(sirn), "--json"]) == 0
    out_text = capsys.readouterr().out
    info = json.loads(out_text[out_text.index("{") :])  # after encode's summary line
    assert info["peak_scale"] == 1.0 and info["num_samples"] == 4000
    assert main(["decode", str(sirn), str(out), "--variant", "f0"]) == 0
    assert sf.info(out).frames == 4000 and sf.info(out).subtype == "FLOAT"  # float output: no clipping at 1
    decoded = sf.read(out, dtype="float64")[0]
    assert np.corrcoef(decoded, x)[0, 1] > 0.9
    plateau = np.median(np.abs(decoded[flat]))  # the clipped runs come back near full scale
    assert 0.8 < plateau < 1.2, plateau


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
