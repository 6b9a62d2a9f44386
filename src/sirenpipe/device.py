"""Device selection: CUDA when present, CPU otherwise."""

from __future__ import annotations

import os
import platform
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


def describe_machine(device: str | None = None) -> str:
    """CPU model (/proc/cpuinfo), cores, torch and its threads; the GPU's name when `device` is CUDA
    (or auto, with CUDA present): the machine line of a measured result."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    if device is not None and str(device).startswith(("cuda", "auto")) and torch.cuda.is_available():
        index = torch.device(device).index if str(device).startswith("cuda") else None
        text += f", GPU {torch.cuda.get_device_name(index)}"
    return text
