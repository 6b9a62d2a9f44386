"""Interrupted work leaves nothing behind: a killed encode writes no output, and a workflow
killed mid-way resumes without redoing finished jobs or using partial files.

Every process a test starts is killed (with its process group) and waited for in a `finally`,
so a failing test leaves nothing running. Children get SIGINT at its default action even when the
suite itself runs as a background job with SIGINT ignored (conftest.children_get_default_sigint)."""

from __future__ import annotations

import base64
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

from conftest import children_get_default_sigint, end_group, speech_like
from test_workflow import REPO, SNAKEMAKE, TINY, write_config


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def read_until(proc: subprocess.Popen, needle: bytes, timeout: float) -> bytes:
    """Read proc's stderr until `needle` shows up (or EOF), failing after `timeout` s."""
    out, deadline = b"", time.monotonic() + timeout
    while needle not in out:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {needle!r} on stderr within {timeout} s: {out[-2000:]!r}")
        if select.select([proc.stderr], [], [], remaining)[0]:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            out += chunk
    return out




def run_to_end(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    """subprocess.run, but a timeout or a failing test also kills the children of cmd."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        end_group(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_encode_exits_130_and_writes_nothing(tmp_path, signum):
    src = tmp_path / "in.wav"
    sf.write(src, speech_like(16000, 2.0), 16000)
    out = tmp_path / "out.sirn"
    with children_get_default_sigint():
        proc = subprocess.Popen([sys.executable, "-m", "sirenpipe", "encode", str(src), str(out), "--steps", "100000",
                                 "--sample-rate", "8000"], stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        first = read_until(proc, b"fit", 120)  # the progress bar has started: the fit is running
        proc.send_signal(signum)
        _, rest = proc.communicate(timeout=60)
    finally:
        end_group(proc)
    err = (first + rest).decode(errors="replace")
    assert proc.returncode == 130, err
    assert "interrupted; no output written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def recorded_as_finished(workdir: Path, output: Path) -> bool:
    """Snakemake's own record says the job that wrote `output` finished: it writes an incomplete
    marker when the job starts and, when the job ends, the metadata record and then removes the
    marker (.snakemake/{incomplete,metadata}/<urlsafe base64 of the path>). An output present
    but still marked was cut off by the kill, and --rerun-incomplete rightly redoes it."""
    key = base64.urlsafe_b64encode(str(output.relative_to(workdir)).encode()).decode()
    state = workdir / ".snakemake"
    return (state / "metadata" / key).is_file() and not (state / "incomplete" / key).exists()


@pytest.mark.slow
def test_killed_workflow_resumes_without_redoing_finished_jobs(tmp_path):
    (tmp_path / "audio").mkdir()
    for i in range(3):
        sf.write(tmp_path / "audio" / f"clip{i}.wav", speech_like(16000, 1.2, seed=i), 16000, subtype="PCM_16")
    config = {**TINY, "datasets": {"speech": {**TINY["datasets"]["speech"], "clips": 3}}}
    write_config(tmp_path, config)
    cmd = [*SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--cores", "2"]
    fits = lambda: sorted((tmp_path / "results").glob("speech/*/fit/*.pt"))  # noqa: E731

    def finished_fits():  # checkpoint and history both recorded as finished by Snakemake
        return [p for p in fits() if recorded_as_finished(tmp_path, p) and recorded_as_finished(tmp_path, p.with_suffix(".json"))]

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: len(finished_fits()) >= 2, 600, "two finished fits")
    finally:
        end_group(proc)  # SIGKILL: no chance to clean up, the hardest case
    finished = {p: p.stat().st_mtime_ns for p in finished_fits()}
    cut_off = {p: p.stat().st_mtime_ns for p in fits() if p not in finished}  # present, but their job was cut off
    assert len(finished) >= 2
    assert not (tmp_path / "results/tables/scores.parquet").exists()

    unlock = run_to_end([*cmd, "--unlock"], 300)  # the killed run left its lock
    assert unlock.returncode == 0, unlock.stderr[-4000:]
    rerun = run_to_end([*cmd, "--rerun-incomplete"], 900)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    redone = [p for p, mtime in finished.items() if p.stat().st_mtime_ns != mtime]
    print(f"at the kill: {len(finished)} fits recorded finished, {len(cut_off)} present but cut off "
          f"({sum(not p.exists() or p.stat().st_mtime_ns != m for p, m in cut_off.items())} of them redone); "
          f"finished and redone: {len(redone)}")
    assert redone == [], f"finished fits were redone: {redone}"  # only the jobs cut off by the kill may be
    assert len(fits()) == 6
    scores = pd.read_parquet(tmp_path / "results/tables/scores.parquet")
    assert len(scores) == 3 * 3 + 3 * 2 and scores.status.eq("ok").all()  # INR rows + opus rows
    assert not list((tmp_path / "results").rglob(".*.tmp"))  # temp files of killed jobs were cleared
