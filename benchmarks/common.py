"""Helpers shared by the benchmarks: the clip, the machine description, FLOP counts, SNR."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np
import torch

from sirenpipe.allocator import allocator_env


def fill_defaults(args, quick: dict, full: dict) -> None:
    """Options left unset take the --quick (smoke run) or the full run's value."""
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)


def encode_score_parser(description: str, device: str) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """(parser, its `encode` subparser) of a benchmark whose `encode` step fits speech clips at one
    budget (the options below; it adds its own and --out) and whose `score` step reads --out."""
    p = argparse.ArgumentParser(description=description)
    sub = p.add_subparsers(dest="step", required=True)
    e = sub.add_parser("encode")
    e.add_argument("--clips", nargs="+", required=True, help="speech files")
    e.add_argument("--seconds", type=float, default=5.0)
    e.add_argument("--sample-rate", type=int, default=22050)
    e.add_argument("--steps", type=int, default=1000)
    e.add_argument("--batch-size", type=int, default=16384)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default=device)
    sub.add_parser("score").add_argument("--out", required=True, help="the encode step's folder")
    return p, e


def write_summary(out, text: str) -> None:
    """Write OUT/summary.md and print it."""
    (Path(out) / "summary.md").write_text(text.rstrip("\n") + "\n")
    print(text)


def run_step(parse, encode, score, argv=None) -> None:
    """Run the step (encode or score) that the command line names."""
    args = parse(argv)
    encode(args) if args.step == "encode" else score(args)


def speech_like(sample_rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """Deterministic speech surrogate: harmonics of a gliding pitch shaped by formants that jump
    every syllable (4 per second), syllable envelope, a pause every fifth syllable, faint noise."""
    t = np.arange(int(round(sample_rate * seconds))) / sample_rate
    f0 = 130 + 35 * np.sin(2 * np.pi * 0.6 * t) + 10 * np.sin(2 * np.pi * 2.9 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    formants = np.array([[700, 1200], [300, 2300], [500, 900], [400, 2000]])[np.floor(t * 4).astype(int) % 4]
    x = np.zeros_like(t)
    for k in range(1, 30):
        gain = np.exp(-0.5 * ((k * f0[:, None] - formants) / 150.0) ** 2).sum(axis=1) + 0.02
        x += np.where(k * f0 < sample_rate / 2 - 200, gain / np.sqrt(k), 0.0) * np.sin(k * phase)
    x *= np.clip(np.sin(np.pi * (t * 4 % 1)), 0, None) ** 1.5 * (np.floor(t * 4) % 5 != 4)
    x += 3e-4 * np.random.default_rng(seed).standard_normal(t.size)
    return (x / np.max(np.abs(x))).astype(np.float32)


def load_samples(path: str | None, sample_rate: int, seconds: float) -> tuple[np.ndarray, str]:
    """The normalized clip the fits see: a file read like `sirenpipe encode`, or the surrogate."""
    if path is None:
        return speech_like(sample_rate, seconds), "synthetic speech-like"
    from sirenpipe.audio import load_clip

    return load_clip(path, sample_rate=sample_rate, duration=seconds).samples, path


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def allocator_in_use() -> str:
    """What this process really runs with, read from its own memory map."""
    with open("/proc/self/maps") as f:
        return "tcmalloc" if "libtcmalloc" in f.read() else "glibc malloc"


def reexec_under_tcmalloc() -> None:
    """Restart this script under tcmalloc, as the sirenpipe command does for itself."""
    extra = allocator_env()
    if extra:
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **extra})


def matmul_flops(config, samples: int, trunk_runs: int = 1) -> float:
    """FLOPs of one training step's matmuls (forward, and backward for weights and inputs).

    A layer in -> out costs 2*in*out per sample forward, the same for the weight gradient, and
    the same again for the input gradient except in the network's first layer (its input, the
    encoding, needs no gradient). trunk_runs = num_heads counts a trunk computed per head.
    """

    def stack(widths, first):
        return sum(2 * i * o * (2 if first and k == 0 else 3) for k, (i, o) in enumerate(zip(widths, widths[1:])))

    in_features = 1 + 2 * config.pe_frequencies if config.pe_frequencies else 1
    trunk = stack([in_features, *config.shared], True)
    head = stack([config.shared[-1] if config.shared else in_features, *config.head_widths, 1], not config.shared)
    return float(samples * (trunk_runs * trunk + config.num_heads * head))


def snr_db(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((ref - est) ** 2)))
