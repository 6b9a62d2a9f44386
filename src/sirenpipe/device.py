"""Device selection: CUDA when present, CPU otherwise."""

from __future__ import annotations

import warnings

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda if available else cpu; 'cuda' without CUDA warns and runs on cpu.

    Under SLURM the allocated GPU arrives through CUDA_VISIBLE_DEVICES, which torch honours.
    """
    if name not in ("auto", "cpu", "cuda") and not name.startswith("cuda:"):
        raise ValueError(f"device must be auto, cpu or cuda[:N], got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(f"device {name!r} requested but CUDA is not available; running on CPU", stacklevel=2)
        return torch.device("cpu")
    return torch.device(name)
