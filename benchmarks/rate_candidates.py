"""Rate control's candidates measured: every recipe of a rate model planned alone at one target.

    python -m benchmarks.rate_candidates encode --clips A.ogg B.ogg C.g722 --seconds 5 --steps 1000 \
        --ratio 0.5 --device cuda --out cand/
    python -m benchmarks.rate_candidates score --out cand/        # docs/results/rate_candidates.md

`--kbps K` picks the recipe with the highest predicted PESQ-WB (encoder.ratecontrol). The
prediction is interpolated from a sweep over a few model sizes on other clips. This benchmark
checks it. `encode` plans every recipe of the rate model (--rate-model, a rate_model.json; default
the packaged one) alone at the target, which is --ratio times the int8 paper preset's rate (that
stream is fitted too, as the reference) or --kbps. It then fits the --top plans by predicted
quality, with every clip fitted at once (`fit_many`: each clip's result equals its own fit up to
rounding), and stores each stream at or below its budget as `encode --kbps` does. `score` decodes
every stream with the variant `encode` would name on a machine with the metric libraries (PESQ-WB
+ ViSQOL against the clip). It scores PESQ-WB, ViSQOL and PSNR, and marks the plan that the given
rate model, and the packaged one, choose. Clips must be at least --seconds long (all are cut to
it). `score` writes the summary to docs/results/rate_candidates.md (--summary PATH elsewhere).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from sirenpipe.atomic import write_bytes, write_json

from . import common

NAME = "rate_candidates"
TITLE = "Rate control's candidates"
INT8 = "int8"  # the reference stream's label
PRESET = "siamese-siren"  # the paper preset: the reference stream's model, the layout the plans scale


def parse(argv=None):
    p, e = common.encode_score_parser(NAME, __doc__.splitlines()[0], device="auto")
    target = e.add_mutually_exclusive_group(required=True)
    target.add_argument("--ratio", type=float, help="target = this times the int8 paper preset's kbps")
    target.add_argument("--kbps", type=float, help="a fixed target")
    e.add_argument("--rate-model", default=None, help="a rate_model.json (default: the packaged one)")
    e.add_argument("--top", type=int, default=4, help="fit this many plans, best predicted first")
    e.add_argument("--out", required=True)
    return common.parse_args(p, argv)


def label(plan) -> str:
    r = plan.recipe
    fitting = "qat" if r.quant_aware else "ptq"
    rate = f"-rate{r.rate_weight:g}" if r.rate_weight else ""
    first = f"-input{r.first_layer_bits}" if r.first_layer_bits else ""
    loss = f"-{r.loss}{r.loss_weight:g}" if r.loss != "mse" else ""
    return f"{fitting}{r.bits}{first}{rate}{loss}-w{plan.model.shared[0]}"


def encode(args) -> None:
    import soundfile as sf

    from sirenpipe.audio import load_clip
    from sirenpipe.codec.quantize import QuantConfig
    from sirenpipe.encoder import encode_fitted, load_rate_model, plan_rate
    from sirenpipe.errors import SirenpipeError
    from sirenpipe.fit import FitConfig, fit_many
    from sirenpipe.models import model_config

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    clips = [load_clip(p, sample_rate=args.sample_rate, duration=args.seconds) for p in args.clips]
    stems = [Path(p).stem.replace(".", "-") for p in args.clips]
    for clip, stem in zip(clips, stems):
        sf.write(out / f"{stem}.wav", clip.samples * clip.peak_scale, clip.sample_rate, subtype="FLOAT")
    num_samples, rate = len(clips[0].samples), clips[0].sample_rate
    base = FitConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed, device=args.device)
    rate_model = load_rate_model(args.rate_model)
    run = {"budget": f"{args.steps} steps x {args.batch_size}-sample batches, seed {args.seed}",
           "seconds": args.seconds, "rate_model": rate_model.describe(), "entries": [],
           "provenance": common.provenance(NAME, args, args.device)}

    def fit_and_store(name, config, fit_config, quant, budget, **facts):
        start = time.time()
        results = fit_many([c.samples for c in clips], config, fit_config, quant=quant, sample_rate=rate,
                           progress=False)
        for clip, stem, result in zip(clips, stems, results):
            write_bytes(out / f"{stem}-{name}.sirn", encode_fitted(result, clip, quant, budget).data)
        run["device"] = results[0].device
        run["entries"].append({"label": name, "params": results[0].model.num_parameters(),
                               "fit_seconds": time.time() - start, **facts})
        write_json(out / "encoded.json", run)
        print(f"{name}: fitted and stored in {time.time() - start:.0f} s", flush=True)

    target = args.kbps
    if args.ratio:
        fit_and_store(INT8, model_config(PRESET), base, QuantConfig(8, False, "fixed", 32), None)
        int8_bytes = max((out / f"{stem}-{INT8}.sirn").stat().st_size for stem in stems)
        target = args.ratio * int8_bytes * 8 / args.seconds / 1000
    run["target_kbps"] = target
    run["choice"] = label(plan_rate(target, num_samples, rate, PRESET, rate_model))
    run["packaged_choice"] = label(plan_rate(target, num_samples, rate, PRESET))
    plans = []
    for recipe, rows in common.siren_recipes(rate_model).items():
        alone = replace(rate_model, rows={**rate_model.rows, "siren": rows})
        try:
            plans.append(plan_rate(target, num_samples, rate, PRESET, alone))
        except SirenpipeError as error:  # this recipe has no model that fits the target
            print(f"{recipe.describe()}: {error}", flush=True)
    plans.sort(key=lambda plan: -plan.predicted_quality)
    for plan in plans[: args.top]:
        print(plan.describe(), flush=True)
        fit_config = replace(base, **plan.recipe.fit_settings())
        fit_and_store(label(plan), plan.model, fit_config, plan.recipe.quant(), plan.budget_bytes,
                      recipe=plan.recipe.describe(), predicted=plan.predicted_quality)


def score(args) -> None:
    import numpy as np

    from sirenpipe.audio import load_clip
    from sirenpipe.decoder import decode
    from sirenpipe.encoder import choose_variant
    from sirenpipe.metrics import score as metric_scores

    out = Path(args.out)
    run = common.read_encoded(out)
    rows = {}
    for entry in run["entries"]:
        for path in sorted(out.glob(f"*-{entry['label']}.sirn")):
            stem = path.name[: -len(f"-{entry['label']}.sirn")]
            clip = load_clip(out / f"{stem}.wav")
            data = path.read_bytes()
            decoded = decode(data, variant=choose_variant(data, clip))
            results = metric_scores(ref=clip.samples * clip.peak_scale, est=decoded.signal,
                                    sample_rate=clip.sample_rate, kind="speech", metrics=["pesq", "visqol", "psnr"])
            row = {"clip": stem, "kbps": len(data) * 8 / run["seconds"] / 1000, "variant": decoded.variant,
                   **{m: r.value for m, r in results.items()}}
            rows.setdefault(entry["label"], []).append(row)
            print(entry["label"], row, flush=True)
    reference = {m: np.mean([r[m] for r in rows[INT8]]) for m in ("pesq", "visqol")} if INT8 in rows else None
    lines = [f"Target {run['target_kbps']:.1f} kbps for {run['seconds']:g} s clips; fit budget per stream: "
             f"{run['budget']}, on {run['device']}; {run['rate_model']}; "
             f"{len(next(iter(rows.values())))} clips, means over them.", "",
             "| stream | recipe | params | predicted PESQ | max kbps | PESQ-WB | ViSQOL | PSNR (dB) |"
             + (" PESQ − int8 | ViSQOL − int8 |" if reference else "") + " per clip PESQ-WB |",
             "|---|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if reference else "") + "---|"]
    for entry in run["entries"]:
        r = rows.get(entry["label"])
        if not r:
            continue
        mean = {m: np.mean([x[m] for x in r]) for m in ("pesq", "visqol", "psnr")}
        marks = [m for m, key in (("chosen", "choice"), ("packaged choice", "packaged_choice"))
                 if run[key] == entry["label"]]
        name = entry["label"] + (f" ({', '.join(marks)})" if marks else "")
        predicted = f"{entry['predicted']:.2f}" if "predicted" in entry else "—"
        diff = (f" {mean['pesq'] - reference['pesq']:+.3f} | {mean['visqol'] - reference['visqol']:+.3f} |"
                if reference else "")
        lines.append(f"| {name} | {entry.get('recipe', 'paper preset, int8 per tensor, fixed-length codes')} | "
                     f"{entry['params']:,} | {predicted} | {max(x['kbps'] for x in r):.1f} | {mean['pesq']:.3f} | "
                     f"{mean['visqol']:.3f} | {mean['psnr']:.2f} |{diff} "
                     + " ".join(f"{x['pesq']:.2f}" for x in r) + " |")
    common.write_score_summary(args, NAME, TITLE, "\n".join(lines), run["provenance"])


if __name__ == "__main__":
    common.run_step(parse, encode, score)
