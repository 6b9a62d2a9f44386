"""Training objectives at one bitrate: every objective fits the same clips with the same budget.

    python -m benchmarks.objectives encode --clips A.ogg B.ogg ... --kbps 24 --objectives auto mse lpc:4 --out obj/
    python -m benchmarks.objectives score --out obj/          # docs/results/objectives.md

`encode` plans each objective at --kbps for the clips (all cut to --seconds, so one plan serves
them all) from the rate model (--rate-model, default the packaged one):
- `auto` is what `sirenpipe encode --kbps K` does: rate control chooses the recipe, objective
  included;
- `NAME` plans among that objective's recipes, or, when the rate model has none, takes the
  `mse` plan (model, bits, recipe) and fits it with NAME (same model, same budget);
- `NAME:W` does the same with loss weight W.
All clips of an objective are fitted together (fit_many: per clip the same result as a single
fit, up to rounding), then each stream is quantized within the target and written with the
clips as the fits saw them and OUT/encoded-SPEC.json. Objectives can run as parallel processes
into one OUT. `score` decodes every stream with each decoder variant (and `siamese` at each
--alphas, and with --gate followed by a pause gate) and scores it against its clip: PESQ-WB,
ViSQOL (speech), PSNR, STOI and the SNR by band. It reports the stream's own variant (`encode` names the best by
PESQ + ViSQOL where the metrics are installed, else the reference) and the best variant chosen
at score time. The alphas and the gate are the decoder-side study: would a variant tuned for
low rates (another noise-estimate amplitude, chosen by the encoder and stored in the stream, or
silencing the pauses where the decoded signal is within a few dB of the noise estimate) help?
"""

from __future__ import annotations

import re
from pathlib import Path

from sirenpipe.atomic import write_bytes, write_json

from . import common

NAME = "objectives"
TITLE = "Training objectives at one bitrate"
METRICS = ("pesq", "visqol", "psnr", "stoi")


def parse(argv=None):
    p, e = common.encode_score_parser(NAME, __doc__.splitlines()[0], device="auto")
    e.add_argument("--kbps", type=float, default=24.0)
    e.add_argument("--objectives", nargs="+", default=["auto", "mse"], help="auto | NAME | NAME:WEIGHT")
    e.add_argument("--rate-model", default=None, help="the rate model to plan from (default: the packaged one)")
    e.add_argument("--out", required=True)
    e.set_defaults(seconds=10.0, steps=2500)  # the paper's clip length and fit
    p.score_parser.add_argument("--alphas", default="", help="extra noise-estimate amplitudes to decode siamese at, e.g. 1,3")
    p.score_parser.add_argument("--gate", action="store_true", help="also decode siamese followed by pause_gate()")
    return common.parse_args(p, argv)


def spec_parts(spec: str) -> tuple[str, float | None]:
    name, _, weight = spec.partition(":")
    return name, float(weight) if weight else None


def encode(args) -> None:
    from dataclasses import replace

    import soundfile as sf

    from sirenpipe.audio import load_clip
    from sirenpipe.encoder import load_rate_model, plan_rate
    from sirenpipe.encoder.api import encode_fitted
    from sirenpipe.fit import LOSSES, FitConfig, fit_many

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rate_model = load_rate_model(args.rate_model)
    clips = [load_clip(path, sample_rate=args.sample_rate, duration=args.seconds, pad=True) for path in args.clips]
    stems = [Path(path).stem.replace(".", "-") for path in args.clips]
    for clip, stem in zip(clips, stems):
        sf.write(out / f"{stem}.wav", clip.samples * clip.peak_scale, clip.sample_rate, subtype="FLOAT")
    n, rate = len(clips[0].samples), clips[0].sample_rate
    base = FitConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed, device=args.device)
    trained = {recipe.loss for recipe in common.siren_recipes(rate_model)}
    for spec in args.objectives:
        loss, weight = spec_parts(spec)
        if loss != "auto" and loss not in LOSSES:
            raise SystemExit(f"unknown objective {loss!r}: auto or one of {', '.join(LOSSES)}")
        plan = plan_rate(args.kbps, n, rate, "siamese-siren", rate_model,
                         None if loss == "auto" else loss if loss in trained else "mse")
        settings = plan.recipe.fit_settings()
        if loss != "auto":  # the given weight, else the plan's if it fits with this objective, else the default
            settings.update(loss=loss, loss_weight=weight if weight is not None
                            else settings["loss_weight"] if plan.recipe.loss == loss else None)
        config = replace(base, **settings)
        quant = plan.recipe.quant()
        results = fit_many([c.samples for c in clips], plan.model, config, quant=quant, sample_rate=rate, progress=False)
        tag = re.sub(r"[^A-Za-z0-9._-]", "-", spec)
        entries = []
        for clip, stem, result in zip(clips, stems, results):
            encoded = encode_fitted(result, clip, quant, plan.budget_bytes)
            write_bytes(out / f"{stem}-{tag}.sirn", encoded.data)
            entries.append({"clip": stem, "spec": spec, "loss": config.loss, "loss_weight": config.loss_weight,
                            "plan": plan.describe(), "bits_used": encoded.stream_config.bits, "variant": encoded.variant,
                            "kbps": len(encoded.data) * 8 / clip.duration / 1000, "seconds": clip.duration,
                            "final_loss": result.final_loss})
        budget = f"{args.steps} steps of {args.batch_size}-sample batches, seed {args.seed}, {args.seconds:g} s clips"
        write_json(out / f"encoded-{tag}.json", {"entries": entries, "budget": budget, "kbps": args.kbps,
                                                 "fit_seconds": results[0].seconds, "device": results[0].device,
                                                 "provenance": common.provenance(NAME, args, args.device)})
        print(f"{spec}: {plan.describe()}; {budget}; {len(clips)} clips fitted together on {results[0].device} "
              f"in {results[0].seconds:.0f} s", flush=True)


def score(args) -> None:
    import json

    import numpy as np
    import pandas as pd
    import soundfile as sf

    from sirenpipe.codec.variants import DEFAULT_ALPHA, allowed_variants, noise_estimate, reconstruct
    from sirenpipe.decoder import decompress, synthesize
    from sirenpipe.metrics import score as metric_scores

    out = Path(args.out)
    runs = [json.loads(p.read_text()) for p in sorted(out.glob("encoded-*.json"))]
    alphas = [float(a) for a in args.alphas.split(",") if a]
    rows = []
    for run in runs:
        for e in run["entries"]:
            ref, rate = sf.read(out / f"{e['clip']}.wav", dtype="float32")
            data = (out / f"{e['clip']}-{re.sub(r'[^A-Za-z0-9._-]', '-', e['spec'])}.sirn").read_bytes()
            stream = decompress(data)
            heads = synthesize(stream, rate)
            decodes = [(v, DEFAULT_ALPHA) for v in allowed_variants(len(heads))]
            decodes += [("siamese", a) for a in alphas if len(heads) > 1]
            decodes += [("siamese", DEFAULT_ALPHA, "gate")] if args.gate and len(heads) > 1 else []
            for variant, alpha, *gated in decodes:
                signal = reconstruct(heads, rate, variant, alpha)
                if gated:
                    signal = pause_gate(signal, noise_estimate(heads, alpha), rate)
                results = metric_scores(ref=ref, est=signal, sample_rate=rate, kind="speech", metrics=list(METRICS))
                rows.append({**{k: e[k] for k in ("clip", "spec", "loss", "loss_weight", "plan", "kbps")},
                             "variant": "siamese+gate" if gated else variant if alpha == DEFAULT_ALPHA else f"siamese a={alpha:g}",
                             "stream_variant": stream.header.variant,
                             **{m: r.value for m, r in results.items()}, **band_snrs(ref, signal, rate)})
            print(f"scored {e['clip']} {e['spec']}", flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(out / "scores.csv", index=False)
    common.write_score_summary(args, NAME, TITLE, summary(df, runs), runs[0]["provenance"])


BANDS_HZ = (0, 1000, 3000, 5000, 8000, None)  # None: up to half the sample rate


def band_label(low: int, high: int | None) -> str:
    return f"{low / 1000:g}-{high / 1000:g} kHz" if high else f"> {low / 1000:g} kHz"


def band_snrs(ref, decoded, rate: int) -> dict:
    """SNR (dB) in each band of BANDS_HZ: the clip's power over the error's there (Welch)."""
    import numpy as np
    from scipy.signal import welch

    f, signal = welch(ref, rate, nperseg=1024)
    _, error = welch(decoded - ref, rate, nperseg=1024)
    snrs = {}
    for low, high in zip(BANDS_HZ, BANDS_HZ[1:]):
        band = (f >= low) & (f < (high or rate))
        snrs[band_label(low, high)] = float(10 * np.log10(signal[band].sum() / max(error[band].sum(), 1e-20)))
    return snrs


def pause_gate(signal, noise, rate: int, floor_db: float = -20.0, frame_seconds: float = 0.02):
    """The signal attenuated to floor_db in frames whose power is within 0 dB of the noise
    estimate's, fading to no attenuation at 6 dB above it (a noise gate for the pauses)."""
    import numpy as np

    frame = np.ones(max(1, round(frame_seconds * rate))) / max(1, round(frame_seconds * rate))
    power = np.convolve(np.square(signal, dtype=np.float64), frame, mode="same")
    noise_power = np.convolve(np.square(noise, dtype=np.float64), frame, mode="same")
    snr = 10 * np.log10((power + 1e-12) / (noise_power + 1e-12))
    gain = np.convolve(np.clip(snr / 6.0, 0, 1), frame, mode="same")
    floor = 10 ** (floor_db / 20)
    return (signal * (floor + (1 - floor) * gain)).astype(np.float32)


def summary(df, runs) -> str:
    """Per objective: the stream's own variant and the best one by PESQ + ViSQOL, means and per
    clip; siamese against f0; the extra alphas."""
    plain = df[~df.variant.str.startswith("siamese a=") & (df.variant != "siamese+gate")]
    own = plain[plain.variant == plain.stream_variant.fillna("siamese")]
    best = plain.loc[(plain.pesq + plain.visqol).groupby([plain.spec, plain["clip"]]).idxmax().to_numpy()]
    specs = list(dict.fromkeys(df.spec))
    plans = {}
    for r in runs:
        plans.setdefault(r["entries"][0]["plan"], []).append(f"`{r['entries'][0]['spec']}`")
    lines = [f"Target {runs[0]['kbps']:g} kbps, {df['clip'].nunique()} speech clips. Fit budget, the same for every "
             f"objective: {runs[0]['budget']}; the clips of an objective fitted together on {runs[0]['device']} "
             "(wall time: " + ", ".join(f"`{r['entries'][0]['spec']}` {r['fit_seconds']:.0f} s" for r in runs) + ").",
             "", "Plans (what rate control chose):", "",
             *[f"- {', '.join(names)}: {plan}" for plan, names in plans.items()], "",
        "## Means over the clips", "",
        "The stream's own decoder variant, and in brackets the best variant per clip (by PESQ-WB + ViSQOL).", "",
        "| objective | kbps | PESQ-WB | ViSQOL | PSNR (dB) | STOI |", "|---|---:|---:|---:|---:|---:|"]
    for spec in specs:
        a, b = own[own.spec == spec], best[best.spec == spec]
        lines.append(f"| `{spec}` | {a.kbps.mean():.1f} | {a.pesq.mean():.2f} ({b.pesq.mean():.2f}) | "
                     f"{a.visqol.mean():.2f} ({b.visqol.mean():.2f}) | {a.psnr.mean():.1f} ({b.psnr.mean():.1f}) | "
                     f"{a.stoi.mean():.3f} ({b.stoi.mean():.3f}) |")
    lines += ["", "## Per clip (the stream's own variant)", "",
              "| clip | " + " | ".join(f"`{s}` PESQ / ViSQOL / PSNR" for s in specs) + " |",
              "|---|" + "---:|" * len(specs)]
    for clip in dict.fromkeys(own["clip"]):
        cells = []
        for spec in specs:
            r = own[(own["clip"] == clip) & (own.spec == spec)].iloc[0]
            cells.append(f"{r.pesq:.2f} / {r.visqol:.2f} / {r.psnr:.1f}")
        lines.append(f"| {clip} | " + " | ".join(cells) + " |")
    bands = [band_label(low, high) for low, high in zip(BANDS_HZ, BANDS_HZ[1:])]
    lines += ["", "## Where the error sits (the stream's own variant, means over the clips)", "",
              "SNR in each band (dB): the clip's power there over the error's (Welch).", "",
              "| objective | " + " | ".join(bands) + " |", "|---|" + "---:|" * len(bands)]
    for spec in specs:
        a = own[own.spec == spec]
        lines.append(f"| `{spec}` | " + " | ".join(f"{a[b].mean():.1f}" for b in bands) + " |")
    lines += ["", "## Decoder variants (means over the clips)", "",
              "| objective | " + " | ".join(dict.fromkeys(df.variant)) + " |", "|---|" + "---:|" * df.variant.nunique()]
    means = df.groupby(["spec", "variant"])[["pesq", "visqol"]].mean()
    for spec in specs:
        cells = [f"{means.loc[(spec, v), 'pesq']:.2f} / {means.loc[(spec, v), 'visqol']:.2f}"
                 if (spec, v) in means.index else "" for v in dict.fromkeys(df.variant)]
        lines.append(f"| `{spec}` | " + " | ".join(cells) + " |")
    counts = {s: own[own.spec == s].variant.value_counts() for s in specs}
    lines += ["", "Cells: PESQ-WB / ViSQOL.", "", "Streams' own variants: " + "; ".join(
        f"`{s}` " + ", ".join(f"{v} {int(n)}" for v, n in c.items()) for s, c in counts.items())]
    return "\n".join(lines)


if __name__ == "__main__":
    common.run_step(parse, encode, score)
