"""Quality per wall-clock second: head-0 SNR of sirenpipe fits after fixed time budgets.

    python -m benchmarks.quality_budget --clip SPEECH_FILE --seconds 3 --budget 60
    python -m benchmarks.quality_budget --quick   # smoke run (prints its summary only)

Configurations (full batch / random mini-batches, fp32 / bf16) are sirenpipe Trainers in one
process under tcmalloc (the script restarts itself under it, as the sirenpipe command does).
They advance round-robin, a slice of --slice seconds of their own step time each, so that all
see the same machine load; a configuration's clock counts only its own steps. At each budget
checkpoint its model is evaluated (untimed) on the full clip: SNR of head 0 in dB
(sirenpipe.metrics' snr). The summary goes to docs/results/quality_budget.md (--summary PATH elsewhere).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from . import common

NAME = "quality_budget"
TITLE = "Quality per wall-clock second"


def parse(argv=None):
    p = argparse.ArgumentParser(prog=f"python -m benchmarks.{NAME}", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 0.5 s clip, 2 s budget")
    p.add_argument("--clip", default=None, help="audio file (default: a synthetic speech-like clip)")
    p.add_argument("--seconds", type=float, default=None, help="clip length (default 3)")
    p.add_argument("--sample-rate", type=int, default=22050)
    p.add_argument("--budget", type=float, default=None, help="seconds of step time per configuration (default 60)")
    p.add_argument("--checkpoints", type=int, default=None, help="SNR evaluations, evenly spaced in the budget (default 4)")
    p.add_argument("--batch-sizes", default=None, help="comma-separated: full or a size (default full,16384)")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--slice", type=float, default=None, help="seconds of step time per turn (default 2)")
    p.add_argument("--seed", type=int, default=0)
    common.add_summary_option(p, NAME)
    args = common.parse_args(p, argv)
    quick = dict(seconds=0.5, budget=2.0, checkpoints=2, batch_sizes="full,2048", slice=0.5)
    full = dict(seconds=3.0, budget=60.0, checkpoints=4, batch_sizes="full,16384", slice=2.0)
    common.fill_defaults(args, quick, full)
    return args


def main(argv=None) -> None:
    args = parse(argv)
    common.reexec_under_tcmalloc()
    import torch

    from sirenpipe.fit import FitConfig, Trainer
    from sirenpipe.models import model_config

    samples, source = common.load_samples(args.clip, args.sample_rate, args.seconds)
    config = model_config("siamese-siren")
    runs = []
    for batch in args.batch_sizes.split(","):
        for precision in args.precisions.split(","):
            size = None if batch == "full" else int(batch)
            fit_config = FitConfig(steps=10**9, batch_size=size, seed=args.seed, device="cpu", precision=precision)
            runs.append(dict(name=f"{batch}/{precision}", trainer=Trainer([samples], config, fit_config),
                             clock=0.0, steps=0, times=[], snr=[]))
    marks = [args.budget * (i + 1) / args.checkpoints for i in range(args.checkpoints)]
    load_before = common.load_average()
    print(f"{len(runs)} configurations, {args.budget:g} s of step time each", flush=True)
    while any(r["clock"] < args.budget for r in runs):
        for r in runs:
            turn_end = min(r["clock"] + args.slice, args.budget)
            while r["clock"] < turn_end:
                start = time.perf_counter()
                r["trainer"].step()
                r["times"].append(time.perf_counter() - start)
                r["clock"] += r["times"][-1]
                r["steps"] += 1
                if len(r["snr"]) < len(marks) and r["clock"] >= marks[len(r["snr"])]:
                    r["snr"].append((r["steps"], head0_snr(r["trainer"], samples, args.sample_rate, torch)))
    lines = [f"Clip: {source}, {len(samples) / args.sample_rate:.2f} s at {args.sample_rate} Hz; siamese-siren; "
             f"seed {args.seed}; budget {args.budget:g} s of step time per configuration; allocator "
             f"{common.allocator_in_use()}.",
             f"Load average (1/5/15 min): {load_before} at start, {common.load_average()} at end.", "",
             "| batch/precision | ms/step | " + " | ".join(f"SNR@{m:g}s (steps)" for m in marks) + " |",
             "|---|---:|" + "---:|" * len(marks)]
    for r in runs:
        snrs = " | ".join(f"{snr:.2f} dB ({steps})" for steps, snr in r["snr"])
        lines.append(f"| {r['name']} | {1000 * np.median(r['times']):.1f} | {snrs} |")
    lines += ["", "SNR in dB of head 0 (fp32 evaluation on the full clip) after the given seconds of each "
              "configuration's own step time (the first step after each mark)."]
    common.write_summary(common.summary_path(args, NAME, trial=args.quick), TITLE, "\n".join(lines),
                         common.provenance(NAME, args))


def head0_snr(trainer, samples, sample_rate, torch) -> float:
    from sirenpipe.metrics.spectral import snr

    model = trainer.models[0]
    with torch.no_grad():
        out = torch.cat([model.forward_encoded(x)[:, 0] for x in trainer.inputs.split(65536)])
    value = snr(ref=samples, est=out.cpu().numpy(), sample_rate=sample_rate).value
    return float("nan") if value is None else value


if __name__ == "__main__":
    main()
