"""What every stage shares: its log, reading its JSON inputs, its error guard (outputs are
written by :mod:`sirenpipe.atomic`)."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

from ..errors import SirenpipeError


@contextlib.contextmanager
def job_log(path: str | None):
    """Send this job's stdout/stderr (progress bars included) to its log file."""
    if not path:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        yield


def read_json(path) -> dict:
    return json.loads(Path(path).read_text())


def main_guard(fn, *args, **kwargs) -> None:
    """Run a stage; a bad-input error becomes a one-line message and exit status 1."""
    try:
        fn(*args, **kwargs)
    except SirenpipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
