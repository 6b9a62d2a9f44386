"""The memory allocator fix for full-batch fits on CPU.

Full-batch activations are large enough that glibc serves them through mmap and page-faults
them in again every step; tcmalloc keeps them, which makes a CPU step faster (figures in
docs/performance.md). It must be preloaded at process start, so the CLI re-executes itself
and the workflow sets the variable for its jobs. SIRENPIPE_NO_TCMALLOC=1 turns it off.
"""

from __future__ import annotations

import glob
import os

LIBRARY = "libtcmalloc_minimal.so.4"
_SEARCH = ["/usr/lib/*-linux-gnu", "/usr/lib64", "/usr/lib", "{prefix}/lib"]


def tcmalloc_path() -> str | None:
    prefix = os.environ.get("CONDA_PREFIX", "/nonexistent")
    for pattern in _SEARCH:
        for folder in sorted(glob.glob(pattern.format(prefix=prefix))):
            candidate = os.path.join(folder, LIBRARY)
            if os.path.exists(candidate):
                return candidate
    return None


def allocator_env(environ=os.environ) -> dict[str, str]:
    """Variables to add so that a new process runs under tcmalloc ({} if not needed/possible)."""
    if environ.get("SIRENPIPE_NO_TCMALLOC") == "1" or "tcmalloc" in environ.get("LD_PRELOAD", ""):
        return {}
    path = tcmalloc_path()
    if path is None:
        return {}
    preload = " ".join(filter(None, [path, environ.get("LD_PRELOAD", "")]))
    return {"LD_PRELOAD": preload}
