"""User-provided datasets: a LibriSpeech tree, a GTZAN tree, or any folder (glob) of audio."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from .catalog import Candidate, dataset_type, require, safe_id, spec_kind

# Extensions soundfile (libsndfile) reads, plus G.722 (read with PyAV).
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au", ".snd",
                  ".w64", ".caf", ".rf64", ".g722"}  # fmt: skip


def _root(spec: dict) -> Path:
    root = Path(os.path.expanduser(str(require(spec, "root"))))
    if not root.is_dir():
        raise ValueError(f"dataset {spec['type']!r}: root {str(root)!r} is not a directory")
    return root


def _by_stem(paths, kind: str, license: str) -> list[Candidate]:
    return [Candidate(safe_id(Path(p).stem), (str(p),), kind, license) for p in paths]


@dataset_type("librispeech")
def librispeech(spec: dict) -> list[Candidate]:
    """root/**/*.flac (16 kHz read speech); clip id = utterance id, e.g. 19-198-0001."""
    return _by_stem(_root(spec).rglob("*.flac"), spec_kind(spec, "speech"), "CC-BY-4.0")


@dataset_type("gtzan")
def gtzan(spec: dict) -> list[Candidate]:
    """root/<genre>/*.wav|*.au (30 s excerpts); clip id = e.g. jazz.00054."""
    root, kind = _root(spec), spec_kind(spec, "music")
    files = [p for p in root.glob("*/*") if p.suffix.lower() in (".wav", ".au")]
    return _by_stem(files, kind, "research use (GTZAN)")


@dataset_type("folder")
def folder(spec: dict) -> list[Candidate]:
    """Audio files matching a (recursive) glob; clip id = path below the glob's fixed prefix; their
    license as the spec's `license` says (default: unknown)."""
    kind, pattern = spec_kind(spec), os.path.expanduser(str(require(spec, "glob")))
    prefix = _fixed_prefix(pattern)
    files = [p for p in glob.glob(pattern, recursive=True)
             if Path(p).suffix.lower() in AUDIO_SUFFIXES and os.path.isfile(p)]  # fmt: skip
    license = str(spec.get("license", "unknown"))
    return [Candidate(safe_id(str(Path(os.path.relpath(p, prefix)).with_suffix(""))), (p,), kind, license)
            for p in files]  # fmt: skip


def _fixed_prefix(pattern: str) -> str:
    """The directory part of a glob before its first wildcard ('/data/x/**/*.flac' -> '/data/x')."""
    parts = Path(pattern).parts
    # no wildcard: a single file, named relative to its folder
    n = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts) - 1)
    return str(Path(*parts[:n])) if n else "."
