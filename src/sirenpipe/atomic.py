"""Atomic file writes: outputs appear complete or not at all. The one writer of the project's
bytes, text, JSON and Parquet outputs."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; rename it over `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the mode open() would
        os.replace(tmp, path)
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):  # left by a killed writer
            stale.unlink(missing_ok=True)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def write_json(path: str | os.PathLike, data: dict) -> None:
    """Indented, key-sorted JSON with a final newline."""
    write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def write_parquet(df, path: str | os.PathLike) -> Path:
    """A pandas DataFrame (without its index) as Parquet, by pyarrow."""
    path = Path(path)
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, engine="pyarrow", index=False)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
