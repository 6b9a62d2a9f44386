"""Shared test signals: short, deterministic, speech- and music-like (no files in the repo)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

import numpy as np
import pytest
import soundfile as sf

SR = 16000
VALID_AFTER_RECRC = "valid after re-CRC"


def recrc(body: bytes) -> bytes:
    """A .sirn body with its CRC-32 appended."""
    import struct
    import zlib

    return body + struct.pack("<I", zlib.crc32(body))


def header_mutation(draw, kind: str, base: bytes, header_end: int, paths, values) -> tuple[bytes, bytes]:
    """(the stream, the header JSON it wrote) of a header edit with its CRC recomputed: one field
    (a path into the JSON) set to a drawn value ("header_field"), or one byte of the JSON changed
    under a header length that may be wrong ("header_bytes")."""
    import json
    import struct

    from hypothesis import strategies as st

    raw = base[9:header_end]
    hlen = None
    if kind == "header_field":
        header = json.loads(raw)
        path, target = draw(st.sampled_from(paths)), header
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = draw(values)
        raw = json.dumps(header).encode()
    else:
        edited = bytearray(raw)
        edited[draw(st.integers(0, len(edited) - 1))] ^= draw(st.integers(1, 255))
        raw, hlen = bytes(edited), draw(st.sampled_from([len(raw), 0, 2**32 - 1, len(base)]))
    return recrc(base[:5] + struct.pack("<I", len(raw) if hlen is None else hlen) + raw + base[header_end:-4]), raw


def check_mutation(decompress, kind: str, data: bytes, expected_header, recrc_kinds, outcomes) -> None:
    """The fuzz tests' check of one mutated stream: decompress(data) ends in BitstreamError
    (counted in outcomes by kind and message), or, for a kind in recrc_kinds, decodes to the header
    the mutation wrote; within 2 s and memory proportionate to the input (tracemalloc)."""
    import re
    import time
    import tracemalloc

    from sirenpipe.errors import BitstreamError

    tracemalloc.start()
    start = time.perf_counter()
    try:
        decoded = decompress(data)
        outcome = VALID_AFTER_RECRC
    except BitstreamError as exc:
        outcome = "CRC-32 mismatch" if "CRC" in str(exc) else re.sub(r"\d+", "N", str(exc).split(":")[0])
    finally:
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    outcomes[(kind, outcome)] += 1
    if outcome == VALID_AFTER_RECRC:
        assert kind in recrc_kinds, f"{kind} mutation decoded without error"
        assert expected_header is not None, f"{kind}: decoded although the written header is not a JSON header"
        assert decoded.header.to_json() == expected_header, f"{kind}: decoded header is not the one written"
    assert elapsed < 2.0, f"{kind}: took {elapsed:.2f} s"
    assert peak < 4 * 2**20 + 64 * len(data), f"{kind}: allocated {peak} bytes for {len(data)} input bytes"


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


@contextlib.contextmanager
def children_get_default_sigint():
    """Processes started inside this block get SIGINT at its default action.

    A suite started as a background job of a non-interactive shell (`pytest ... &` in a script)
    has SIGINT ignored, and an ignored signal stays ignored across fork and exec: a child Python
    would never see KeyboardInterrupt. A signal with a handler is reset to SIG_DFL by exec, so
    while the children start, SIGINT gets Python's default handler here (no preexec_fn, which is
    unsafe in a process with threads); outside the block the suite's own disposition is back."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def end_group(proc) -> None:
    """SIGKILL a process started with start_new_session=True, with everything in its process
    group, and reap it. Tests call it in a `finally`, so nothing outlives a failed test."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


# --- CI: skips that must not pass silently -----------------------------------------------------
# SIRENPIPE_REQUIRE_ALL=1 (.ci/run sets it) turns the skips of tests that CI is expected to run
# into failures: the demo-audio tests (skipped when the Debian demo packages are missing, e.g.
# SIRENPIPE_SKIP_APT=1 or no root) and the SLURM tests (skipped without root or apt). Unset, a
# developer without root still runs the rest of the suite, and `-ra` lists these skips.
REQUIRE_ALL = os.environ.get("SIRENPIPE_REQUIRE_ALL", "") == "1"
REQUIRED_SKIP_REASONS = ("demo packages not installed",)  # tests/test_datasets.py, tests/test_paper.py
REQUIRED_MODULES = ("test_slurm.py",)  # its cluster fixture skips without root / Debian / apt


def skip_must_fail(item: pytest.Item, reason: str) -> bool:
    return item.path.name in REQUIRED_MODULES or any(r in reason for r in REQUIRED_SKIP_REASONS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (REQUIRE_ALL and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    if skip_must_fail(item, reason):
        report.outcome = "failed"
        report.longrepr = (f"SIRENPIPE_REQUIRE_ALL=1: CI must run this test, but it was skipped ({reason}). Run the "
                           "suite as root after scripts/setup.sh without SIRENPIPE_SKIP_APT, or unset "
                           "SIRENPIPE_REQUIRE_ALL outside CI.")


def pytest_report_header(config):
    if REQUIRE_ALL:
        return "SIRENPIPE_REQUIRE_ALL=1: skipped demo-audio and SLURM tests count as failures"


# --- the bitstream fuzzer's summary ------------------------------------------------------------
FUZZ_TEST = "test_bitstream_fuzz.py::test_every_mutation_is_a_bitstream_error"


def fuzz_test_passed(terminalreporter) -> bool:
    """The fuzz test ran to the end and passed (every phase: no failure or error report)."""
    def reports(category):
        return [r for r in terminalreporter.stats.get(category, []) if getattr(r, "nodeid", "").endswith(FUZZ_TEST)]

    return bool(reports("passed")) and not reports("failed") and not reports("error")


def pytest_terminal_summary(terminalreporter):
    """Print the bitstream fuzzer's count of inputs and errors by kind."""
    fuzz = sys.modules.get("test_bitstream_fuzz")
    if fuzz is None or not fuzz.OUTCOMES:
        return
    outcomes = fuzz.OUTCOMES
    counted, started = sum(outcomes.values()), fuzz.STARTED[0]
    terminalreporter.section("bitstream fuzzing")
    valid = sum(n for (_, outcome), n in outcomes.items() if outcome == "valid after re-CRC")
    if fuzz_test_passed(terminalreporter) and counted == started:
        terminalreporter.write_line(f"{counted} mutated inputs: {counted - valid} BitstreamError, {valid} re-CRC'd header "
                                    "edits to valid values that decode consistently; no other outcome")
    else:
        uncounted = f", {started - counted} raised something else before being counted" if started > counted else ""
        terminalreporter.write_line(f"{started} mutated inputs: {counted - valid} BitstreamError, {valid} decoded{uncounted}; "
                                    "THE FUZZ TEST DID NOT PASS (see above): other outcomes are not ruled out", red=True)
    for (kind, message), n in sorted(outcomes.items()):
        terminalreporter.write_line(f"  {kind:14s} {n:6d}  {message}")
