"""Clip catalogue core: ClipSource, the dataset-type registry and seeded, stable selection.

Runs at workflow parse time, so nothing here decodes audio: durations come from headers or
file sizes (see duration.py), and only as many candidates are measured as the selection needs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from typing import Callable


from .duration import duration_of

KINDS = ("speech", "music")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class ClipSource:
    """One selected clip: file(s) to read (several are summed into a mix), where to start, provenance."""

    clip_id: str
    paths: tuple[str, ...]
    offset: float
    kind: str
    license: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d["source"] = "+".join(d.pop("paths"))
        return d


@dataclass(frozen=True)
class Candidate:
    """A clip a dataset could offer; `intro` seconds are skipped when the file is long enough."""

    clip_id: str
    paths: tuple[str, ...]
    kind: str
    license: str
    intro: float = 0.0

    def fit(self, duration: float, min_duration: float) -> ClipSource | None:
        """The ClipSource to use, or None when the file is shorter than min_duration (+offset).

        An unreadable file (unknown duration) is kept, so that probe() names it in the results."""
        length = duration_of(self.paths)
        if length is None:
            return ClipSource(self.clip_id, self.paths, 0.0, self.kind, self.license)
        offset = self.intro if self.intro and length >= self.intro + duration else 0.0
        if length < offset + min_duration:
            return None
        return ClipSource(self.clip_id, self.paths, offset, self.kind, self.license)


Lister = Callable[[dict], "list[Candidate]"]
DATASET_TYPES: dict[str, Lister] = {}


def dataset_type(name: str) -> Callable[[Lister], Lister]:
    """Register a function spec -> candidates under a dataset type name."""

    def register(fn: Lister) -> Lister:
        DATASET_TYPES[name] = fn
        return fn

    return register


def safe_id(text: str) -> str:
    """A clip id usable as a file name: [A-Za-z0-9._-]+, not hidden, never empty."""
    return _UNSAFE.sub("-", text).lstrip(".") or "clip"


def require(spec: dict, key: str):
    if key not in spec:
        raise ValueError(f"dataset spec (type {spec.get('type')!r}) is missing key {key!r}")
    return spec[key]


def spec_kind(spec: dict, fixed: str | None = None) -> str:
    """The spec's kind: required for demo/folder; fixed (and checked if given) for the others."""
    kind = spec.get("kind", fixed) if fixed else require(spec, "kind")
    if kind not in KINDS or (fixed and kind != fixed):
        allowed = fixed or " or ".join(KINDS)
        raise ValueError(f"dataset spec (type {spec['type']!r}): kind must be {allowed}, not {kind!r}")
    return kind


def unique_ids(candidates: list[Candidate]) -> list[Candidate]:
    """Sorted by clip_id; repeated ids get -2, -3, ... (in path order) so every id is unique."""
    taken: set[str] = set()
    out = []
    for c in sorted(candidates, key=lambda c: (c.clip_id, c.paths)):
        clip_id, n = c.clip_id, 1
        while clip_id in taken:
            n += 1
            clip_id = f"{c.clip_id}-{n}"
        taken.add(clip_id)
        out.append(c if clip_id == c.clip_id else Candidate(clip_id, c.paths, c.kind, c.license, c.intro))
    return sorted(out, key=lambda c: c.clip_id)


def selection_rank(seed: int, clip_id: str) -> bytes:
    """A clip's place in its dataset's seeded selection order (lower is picked first)."""
    return hashlib.sha256(f"{seed}:{clip_id}".encode()).digest()


def _number(spec: dict, key: str, default, kind=(int,)):
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, kind) or value < 0:
        raise ValueError(f"dataset spec (type {spec.get('type')!r}): {key} must be a number >= 0, not {value!r}")
    return value


def discover(spec: dict, duration: float) -> list[ClipSource]:
    """The seeded selection of spec['clips'] clips of at least min_duration s, sorted by clip_id.

    Candidates are ranked by a seeded hash of their id and the first N long enough are taken.
    A clip's rank does not depend on the other files, so raising N by one adds exactly one
    clip, and adding a file to the dataset displaces at most one. Fewer usable candidates
    than N: all of them are returned (the caller reports the shortfall)."""
    if not isinstance(spec, dict):
        raise ValueError(f"dataset spec must be a mapping, not {type(spec).__name__}")
    kind = require(spec, "type")
    if kind not in DATASET_TYPES:
        raise ValueError(f"unknown dataset type {kind!r} (known: {', '.join(sorted(DATASET_TYPES))})")
    n = _number(spec, "clips", require(spec, "clips"))
    seed = _number(spec, "seed", 0)
    min_duration = _number(spec, "min_duration", duration, (int, float))
    candidates = unique_ids(DATASET_TYPES[kind](spec))
    chosen: list[ClipSource] = []
    for candidate in sorted(candidates, key=lambda c: selection_rank(seed, c.clip_id)):
        if len(chosen) >= n:
            break
        source = candidate.fit(duration, min_duration)
        if source is not None:
            chosen.append(source)
    return sorted(chosen, key=lambda s: s.clip_id)
