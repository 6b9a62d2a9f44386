"""Reading a ClipSource: parse-time probes (header, or the full content with a cache), and the
full load into a Clip."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import AudioReadError
from .catalog import ClipSource


def probe(source: ClipSource, sample_rate: int | None = None, duration: float | None = None) -> str | None:
    """None if the clip is usable, else a one-line reason (named in the result tables).

    Without sample_rate only the headers are checked. With it, the clip is loaded as `prepare`
    will load it, which also catches content that cannot be encoded (digital silence, NaN
    samples, nothing after the offset).
    """
    for path in source.paths:
        reason = _probe_file(Path(path))
        if reason:
            return " ".join(f"{path}: {reason}".split())
    if sample_rate is None:
        return None
    try:
        load_source(source, sample_rate, duration)
    except AudioReadError as exc:
        return " ".join(str(exc).split())
    return None


def probe_all(sources: list[ClipSource], sample_rate: int, duration: float | None, cache: str | os.PathLike):
    """Deep-probe every source, reusing results cached by path, size and mtime.

    The workflow probes at parse time, and Snakefiles are parsed again by every cluster job:
    the cache keeps that to a stat() per file after the first parse.
    """
    from ..atomic import atomic_path

    cache = Path(cache)
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    reasons, changed = {}, False
    for source in sources:
        key = _probe_key(source, sample_rate, duration)
        if key not in known:
            known[key] = probe(source, sample_rate, duration)
            changed = True
        reasons[source.clip_id] = known[key]
    if changed:
        try:
            with atomic_path(cache) as tmp:
                Path(tmp).write_text(json.dumps(known))
        except OSError:
            pass  # a read-only checkout still works, it just probes again next time
    return reasons


def _probe_key(source: ClipSource, sample_rate: int, duration: float | None) -> str:
    stats = []
    for path in source.paths:
        try:
            st = os.stat(path)
            stats.append([path, st.st_size, st.st_mtime_ns])
        except OSError:
            stats.append([path, None, None])
    return json.dumps([stats, source.offset, sample_rate, duration])


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
    from ..audio import make_clip, read_mono, resample  # scipy is slow to import; keep parse time light

    parts = [read_mono(path, source.offset, duration) for path in source.paths]
    rate = max(r for _, r in parts)
    tracks = [resample(x, r, rate) for x, r in parts]
    mix = np.zeros(max(len(t) for t in tracks), dtype=np.float32)
    for track in tracks:
        mix[: len(track)] += track
    return make_clip(mix, rate, sample_rate, duration, source="+".join(source.paths))

