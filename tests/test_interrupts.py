"""Interrupted work leaves nothing behind: a killed encode writes no output, and a workflow
killed mid-way resumes without redoing finished jobs or using partial files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

from conftest import speech_like
from test_workflow import REPO, SNAKEMAKE, TINY, write_config


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_encode_exits_130_and_writes_nothing(tmp_path, signum):
    src = tmp_path / "in.wav"
    sf.write(src, speech_like(16000, 2.0), 16000)
    out = tmp_path / "out.sirn"
    proc = subprocess.Popen([sys.executable, "-m", "sirenpipe", "encode", str(src), str(out), "--steps", "100000",
                             "--sample-rate", "8000"], stderr=subprocess.PIPE, text=True)
    first = proc.stderr.read(20)  # the progress bar has started: the fit is running
    assert "fit" in first
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted; no output written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


@pytest.mark.slow
def test_killed_workflow_resumes_without_redoing_finished_jobs(tmp_path):
    (tmp_path / "audio").mkdir()
    for i in range(3):
        sf.write(tmp_path / "audio" / f"clip{i}.wav", speech_like(16000, 1.2, seed=i), 16000, subtype="PCM_16")
    config = {**TINY, "datasets": {"speech": {**TINY["datasets"]["speech"], "clips": 3}}}
    write_config(tmp_path, config)
    cmd = [*SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--cores", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    fits = lambda: sorted((tmp_path / "results").glob("speech/*/fit/*.pt"))  # noqa: E731
    try:
        wait_for(lambda: len(fits()) >= 2, 600, "two finished fits")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no chance to clean up: the hardest case
        proc.wait()
    before = {p: p.stat().st_mtime_ns for p in fits()}
    assert not (tmp_path / "results/tables/scores.parquet").exists()

    subprocess.run([*cmd, "--unlock"], check=True, capture_output=True)  # the killed run left its lock
    rerun = subprocess.run([*cmd, "--rerun-incomplete"], capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    redone = [p for p, mtime in before.items() if p.stat().st_mtime_ns != mtime]
    assert len(redone) <= 2, f"finished fits were redone: {redone}"  # at most the jobs in flight at the kill
    assert len(redone) < len(before)
    scores = pd.read_parquet(tmp_path / "results/tables/scores.parquet")
    assert len(scores) == 3 * 3 + 3 * 2 and scores.status.eq("ok").all()  # INR rows + opus rows
    assert not list((tmp_path / "results").rglob(".*.tmp"))  # temp files of killed jobs were cleared
