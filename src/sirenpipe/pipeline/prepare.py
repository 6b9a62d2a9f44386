"""Stage `prepare`: a dataset's source file -> the clip (mono, configured rate and length, original
level, float WAV) and its metadata."""

from __future__ import annotations

from .. import __version__
from ..audio import write_wav
from ..datasets import ClipSource, load_source
from ..atomic import write_json


def prepare(clip: ClipSource, sample_rate: int, duration: float, out_wav, out_json, load=None) -> None:
    """Read a source, write the clip at its original level (float WAV) and its metadata."""
    loaded = (load or load_source)(clip, sample_rate, duration)
    write_wav(out_wav, loaded.samples * loaded.peak_scale, loaded.sample_rate)
    write_json(out_json, {**clip.to_dict(), "peak_scale": loaded.peak_scale, "source_rate": loaded.source_rate,
                          "sample_rate": loaded.sample_rate, "duration_s": loaded.duration, "library_version": __version__})


def source_from_params(params: dict) -> ClipSource:
    """The ClipSource a rule passed as a plain dict (its params)."""
    return ClipSource(**{**params, "paths": tuple(params["paths"])})
