"""Audio input/output: read, mix to mono, resample (band-limited), crop/pad, normalize."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .atomic import atomic_path
from .errors import AudioReadError

# Containers soundfile cannot open but PyAV can (the demo's G.722 telephony recordings).
_AV_FORMATS = {".g722": "g722"}


@dataclass(frozen=True)
class Clip:
    """A mono clip ready for fitting: samples peak-normalized to max |x| = 1."""

    samples: np.ndarray  # float32, (N,)
    sample_rate: int
    peak_scale: float  # multiply samples by this to restore the original level
    source_rate: int
    source_duration: float  # seconds read from the file (after cropping while reading)

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase FIR resampling (scipy's Kaiser-windowed band-limited filter)."""
    if from_rate == to_rate:
        return x
    g = math.gcd(int(from_rate), int(to_rate))
    return resample_poly(x, to_rate // g, from_rate // g, axis=0).astype(x.dtype, copy=False)


def read_audio(path: str | os.PathLike, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Read audio as float32 (frames, channels), cropped to max_seconds while reading."""
    path = Path(path)
    if not path.exists():
        raise AudioReadError(f"{path}: no such file")
    if path.is_dir():
        raise AudioReadError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioReadError(f"{path}: empty file")
    if path.suffix.lower() in _AV_FORMATS:
        return _read_with_av(path, _AV_FORMATS[path.suffix.lower()], max_seconds)
    try:
        with sf.SoundFile(str(path)) as f:
            frames = f.frames if max_seconds is None else min(f.frames, math.ceil(max_seconds * f.samplerate))
            data = f.read(frames, dtype="float32", always_2d=True)
            return data, f.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioReadError(f"{path}: not readable as audio ({exc})") from None


def _read_with_av(path: Path, fmt: str, max_seconds: float | None) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path), format=fmt) as container:
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate
            limit = math.inf if max_seconds is None else math.ceil(max_seconds * rate)
            chunks, total = [], 0
            for frame in container.decode(stream):
                raw = frame.to_ndarray()
                chunk = raw.astype(np.float32)
                if np.issubdtype(raw.dtype, np.integer):
                    chunk /= 32768.0
                chunks.append(chunk.reshape(-1, 1) if chunk.shape[0] == 1 else chunk.T)
                total += len(chunks[-1])
                if total >= limit:
                    break
    except (av.error.FFmpegError, IndexError) as exc:
        raise AudioReadError(f"{path}: not readable as {fmt} audio ({exc})") from None
    if not chunks:
        raise AudioReadError(f"{path}: holds no audio frames")
    data = np.concatenate(chunks)
    return (data if math.isinf(limit) else data[: int(limit)]), rate


def to_mono(data: np.ndarray) -> np.ndarray:
    return data.mean(axis=1) if data.ndim == 2 else data


def load_clip(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    duration: float | None = None,
    offset: float = 0.0,
    pad: bool = True,
) -> Clip:
    """Read a file into a normalized mono Clip at sample_rate (default: the file's).

    offset skips seconds first; duration crops to that many seconds (reading no more of the
    file) and, with pad, zero-pads a shorter file to exactly that length (the paper's clips).
    """
    x, rate = read_mono(path, offset, duration)
    return make_clip(x, rate, sample_rate or rate, duration, source=str(path), pad=pad)


def read_mono(path: str | os.PathLike, offset: float = 0.0, duration: float | None = None) -> tuple[np.ndarray, int]:
    """A file's samples from `offset` seconds on, mixed to mono, reading at most offset +
    duration seconds of it; no samples left, or NaN/infinite ones, raise AudioReadError."""
    data, rate = read_audio(path, None if duration is None else offset + duration)
    x = to_mono(data)[int(round(offset * rate)) :]
    if len(x) == 0:
        raise AudioReadError(f"{path}: holds no audio samples" + (f" after {offset} s" if offset else ""))
    if not np.all(np.isfinite(x)):
        raise AudioReadError(f"{path}: contains NaN or infinite samples")
    return x, rate


def make_clip(
    x: np.ndarray, rate: int, sample_rate: int, duration: float | None = None, source: str = "signal", pad: bool = True
) -> Clip:
    """Resample, crop (and with pad, zero-pad) to duration, and peak-normalize a mono signal."""
    source_duration = len(x) / rate
    y = resample(np.asarray(x, dtype=np.float32), rate, sample_rate)
    if duration is not None:
        n = int(round(duration * sample_rate))
        y = y[:n] if len(y) >= n or not pad else np.pad(y, (0, n - len(y)))
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak == 0.0:
        raise AudioReadError(f"{source}: is digital silence (all samples zero); nothing to encode")
    return Clip((y / peak).astype(np.float32), int(sample_rate), peak, int(rate), source_duration)


def write_wav(path: str | os.PathLike, x: np.ndarray, sample_rate: int) -> None:
    """Write audio as 32-bit float WAV (no clipping, no requantization), atomically."""
    with atomic_path(path) as tmp:
        sf.write(tmp, np.asarray(x, dtype=np.float32), sample_rate, subtype="FLOAT", format="WAV")
