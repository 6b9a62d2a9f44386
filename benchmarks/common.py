"""Helpers shared by the benchmarks: the command line, the summary, the clip, the machine, FLOP counts, the
rate model's SIREN recipes."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
from pathlib import Path

import numpy as np

from sirenpipe.allocator import allocator_env
from sirenpipe.atomic import write_text
from sirenpipe.device import describe_machine

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "results"  # the committed summaries, one per benchmark: NAME.md


def parse_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """parser.parse_args, keeping the arguments (args.argv) for the summary's command line."""
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def fill_defaults(args, quick: dict, full: dict) -> None:
    """Options left unset take the --quick (smoke run) or the full run's value."""
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)


def add_summary_option(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--summary", type=Path, default=None,
                        help=f"where to write the summary (default: {RESULTS.relative_to(REPO) / name}.md; "
                             "a smoke run only prints it)")


def summary_path(args, name: str, trial: bool = False) -> Path | None:
    """--summary, or docs/results/NAME.md; None (print only) for a trial run left without --summary."""
    return args.summary if args.summary is not None else None if trial else RESULTS / f"{name}.md"


def encode_score_parser(name: str, description: str, device: str) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """(parser, its `encode` subparser) of a benchmark whose `encode` step fits speech clips at one
    budget (the options below; it adds its own and --out) and whose `score` step reads --out."""
    p = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}", description=description)
    sub = p.add_subparsers(dest="step", required=True)
    e = sub.add_parser("encode")
    e.add_argument("--clips", nargs="+", required=True, help="speech files")
    e.add_argument("--seconds", type=float, default=5.0)
    e.add_argument("--sample-rate", type=int, default=22050)
    e.add_argument("--steps", type=int, default=1000)
    e.add_argument("--batch-size", type=int, default=16384)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default=device)
    s = sub.add_parser("score")
    s.add_argument("--out", required=True, help="the encode step's folder")
    add_summary_option(s, name)
    p.score_parser = s  # for a benchmark's own score options
    p.steps = sub  # for a benchmark's own further steps
    return p, e


def run_step(parse, encode, score, argv=None) -> None:
    """Run the step (encode or score) that the command line names."""
    args = parse(argv)
    encode(args) if args.step == "encode" else score(args)


def provenance(name: str, args, device: str | None = None) -> dict:
    """How this run (or step) was made, for the summary's header: its command line, its step
    (encode, score, ...), the date and the machine. An encode step stores it in its JSON."""
    return {"step": getattr(args, "step", None), "command": shlex.join(["python", "-m", f"benchmarks.{name}", *args.argv]),
            "date": datetime.date.today().isoformat(), "machine": describe_machine(device)}


def write_summary(path: Path | None, title: str, body: str, *steps: dict) -> None:
    """Print the summary and write it to path (None: print only): a header of the title and, as
    docs/results does, bullets of the command line, date and machine of each step (provenance),
    then the benchmark's own text."""

    def per_step(key: str) -> str:
        values = [s[key] for s in steps]
        if len(set(values)) == 1:
            return values[0]
        return "; ".join(f"{s['step']}: {s[key]}" for s in steps)

    header = [f"# {title}", "", "- Command: " + ", then ".join(f"`{s['command']}`" for s in steps),
              f"- Date: {per_step('date')}", f"- Machine: {per_step('machine')}"]
    text = "\n".join(header) + "\n\n" + body.strip("\n") + "\n"
    print(text, flush=True)
    if path is not None:
        write_text(path, text)
        print(f"summary written to {path}", flush=True)


def read_encoded(out) -> dict:
    """An encode step's OUT/encoded.json: a dict with its "entries" and "provenance" (None in a
    folder encoded before the step recorded it, whose JSON may be the list of entries alone)."""
    run = json.loads((Path(out) / "encoded.json").read_text())
    return {"provenance": None, **({"entries": run} if isinstance(run, list) else run)}


def write_score_summary(args, name: str, title: str, body: str, encoded: dict | None, trial: bool = False) -> None:
    """The summary of a score step: its header names the encode step (`encoded`, the provenance
    that step stored in its JSON) and this one; one step that did both (rate_tools run) once."""
    this = provenance(name, args)
    steps = [encoded] if encoded and encoded["step"] == this["step"] else [s for s in (encoded, this) if s]
    write_summary(summary_path(args, name, trial), title, body, *steps)


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


def siren_recipes(rate_model) -> dict:
    """The SIREN recipes of a rate model (encoder.rate_model.RateModel), in its rows' order, each
    with its rows."""
    from sirenpipe.families.siren.rate import recipe_of

    recipes: dict = {}
    for row in rate_model.rows.get("siren", []):
        recipes.setdefault(recipe_of(row), []).append(row)
    return recipes


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def allocator_in_use() -> str:
    """What this process really runs with, read from its own memory map."""
    with open("/proc/self/maps") as f:
        return "tcmalloc" if "libtcmalloc" in f.read() else "glibc malloc"


def reexec_under_tcmalloc() -> None:
    """Restart this benchmark (python -m benchmarks.NAME ...) under tcmalloc, as the sirenpipe
    command does for itself."""
    extra = allocator_env()
    if extra:
        spec = sys.modules["__main__"].__spec__
        argv = ["-m", spec.name, *sys.argv[1:]] if spec is not None else sys.argv
        os.execve(sys.executable, [sys.executable, *argv], {**os.environ, **extra})


def matmul_flops(config, samples: int, trunk_runs: int = 1) -> float:
    """FLOPs of one training step's matmuls (forward, and backward for weights and inputs).

    A layer in -> out costs 2*in*out per sample forward, the same for the weight gradient, and
    the same again for the input gradient except in the network's input layer (its input, the
    encoding, needs no gradient). trunk_runs = num_heads counts a trunk computed per head.
    """
    from sirenpipe.models import input_weight_names

    shapes = config.weight_shapes()
    first = input_weight_names(shapes)
    per_sample = sum(2 * rows * cols * (2 if name in first else 3) * (trunk_runs if name.startswith("trunk.") else 1)
                     for name, (rows, cols) in shapes.items())
    return float(samples * per_sample)
