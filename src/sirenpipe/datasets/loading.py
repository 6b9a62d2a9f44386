"""Reading a ClipSource: a cheap parse-time readability probe, and the full load into a Clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import AudioReadError
from .catalog import ClipSource


def probe(source: ClipSource) -> str | None:
    """None if every path opens as audio, else a one-line reason (named in the result tables)."""
    for path in source.paths:
        reason = _probe_file(Path(path))
        if reason:
            return " ".join(f"{path}: {reason}".split())
    return None


def _probe_file(path: Path) -> str | None:
    if not path.is_file():
        return "no such file"
    if path.stat().st_size == 0:
        return "empty file"
    try:
        if path.suffix.lower() == ".g722":
            return _probe_av(path, "g722")
        return None if sf.info(str(path)).frames > 0 else "holds no audio frames"
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        return f"not readable as audio ({exc})"


def _probe_av(path: Path, fmt: str) -> str | None:
    import av

    try:
        with av.open(str(path), format=fmt) as container:
            next(container.decode(audio=0))
        return None
    except (av.error.FFmpegError, IndexError, StopIteration) as exc:
        return f"not readable as {fmt} audio ({type(exc).__name__}: {exc})"


def load_source(source: ClipSource, sample_rate: int, duration: float | None):
    """Read every path (cropped while reading), mix to mono, sum a multi-file mix at the highest
    source rate (the shorter part zero-padded), then resample/crop/normalize with make_clip."""
    from ..audio import make_clip, resample  # scipy is slow to import; keep parse time light

    parts = [_read_mono(path, source.offset, duration) for path in source.paths]
    rate = max(r for _, r in parts)
    tracks = [resample(x, r, rate) for x, r in parts]
    mix = np.zeros(max(len(t) for t in tracks), dtype=np.float32)
    for track in tracks:
        mix[: len(track)] += track
    return make_clip(mix, rate, sample_rate, duration, source="+".join(source.paths))


def _read_mono(path: str, offset: float, duration: float | None) -> tuple[np.ndarray, int]:
    from ..audio import read_audio, to_mono

    data, rate = read_audio(path, None if duration is None else offset + duration)
    x = to_mono(data)[int(round(offset * rate)) :]
    if len(x) == 0:
        raise AudioReadError(f"{path}: holds no audio samples" + (f" after {offset} s" if offset else ""))
    if not np.all(np.isfinite(x)):
        raise AudioReadError(f"{path}: contains NaN or infinite samples")
    return x, rate
