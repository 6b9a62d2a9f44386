"""SIRENPIPE_REQUIRE_ALL=1 (set by .ci/run) turns the skips of the demo-audio and SLURM tests into
failures, while any other skip, and every skip without the variable, stays a skip.

Runs pytest on a scratch directory holding tests/conftest.py and three tests that skip the way
the real ones do (the demo-audio skipif reason, a skip in tests/test_slurm.py's cluster fixture,
and an unrelated skip)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

DEMO = '''
import pytest

@pytest.mark.skipif(True, reason="demo packages not installed")
def test_demo_clip():
    pass

@pytest.mark.skipif(True, reason="cdpam is installed")
def test_unrelated():
    pass
'''

SLURM = '''
import pytest

@pytest.fixture(scope="session")
def slurm_cluster():
    pytest.skip("needs root: starts munge/slurmctld/slurmd and writes /etc/slurm")

def test_run_finished(slurm_cluster):
    pass
'''


def run_scratch_suite(tmp_path: Path, require_all: str | None) -> tuple[int, dict[str, str]]:
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_demo.py").write_text(DEMO)
    (tmp_path / "test_slurm.py").write_text(SLURM)
    env = {k: v for k, v in os.environ.items() if k != "SIRENPIPE_REQUIRE_ALL"}
    if require_all is not None:
        env["SIRENPIPE_REQUIRE_ALL"] = require_all
    result = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", str(tmp_path)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    outcomes = dict(re.findall(r"::(test_\w+) (PASSED|FAILED|ERROR|SKIPPED)", result.stdout))
    return result.returncode, outcomes | {"_out": result.stdout}


@pytest.mark.parametrize("require_all", [None, "0"])
def test_without_the_variable_skips_stay_skips(tmp_path, require_all):
    code, outcomes = run_scratch_suite(tmp_path, require_all)
    assert code == 0, outcomes["_out"]
    assert {k: v for k, v in outcomes.items() if k != "_out"} == {
        "test_demo_clip": "SKIPPED", "test_unrelated": "SKIPPED", "test_run_finished": "SKIPPED"}, outcomes["_out"]


def test_ci_turns_demo_and_slurm_skips_into_failures(tmp_path):
    code, outcomes = run_scratch_suite(tmp_path, "1")
    assert code == 1, outcomes["_out"]
    assert outcomes["test_unrelated"] == "SKIPPED", outcomes["_out"]
    assert outcomes["test_demo_clip"] in ("FAILED", "ERROR") and outcomes["test_run_finished"] in ("FAILED", "ERROR")
    assert "SIRENPIPE_REQUIRE_ALL=1: CI must run this test, but it was skipped (demo packages not installed)" in outcomes["_out"]
    assert "it was skipped (needs root" in outcomes["_out"]
