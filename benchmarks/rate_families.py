"""Rate control across the model families: `encode --kbps K` without a preset beside `--preset siamese-siren`.

    python -m benchmarks.rate_families encode --clips A.g722 B.g722 C.ogg D.g722 --kbps 24 --siren-batch-size 16384 --out rf/
    python -m benchmarks.rate_families score --out rf/          # docs/results/rate_families.md

`encode` encodes each clip twice at the same target and fit budget (--steps steps, seed --seed;
each family's other fit settings at its defaults; --siren-batch-size makes the SIREN-only run's
steps mini-batches, which the table states): rate control planning over every
family (encoder.encode_at_rate without a preset, as `sirenpipe encode --kbps K`), and planning the
SIREN's layout only (`--preset siamese-siren --kbps K`). It writes the streams, the clips as the
fits saw them (WAV at the original level) and OUT/encoded.json with each plan. `score` decodes
every stream with the decoder variant it names (as `sirenpipe decode` does) and scores it against
its clip: PESQ-WB and ViSQOL (speech mode), PSNR; it writes docs/results/rate_families.md.
"""

from __future__ import annotations

from pathlib import Path

from sirenpipe.atomic import write_bytes, write_json

from . import common

NAME = "rate_families"
TITLE = "Rate control across the model families"
RUNS = {"any family": None, "siamese-siren": "siamese-siren"}  # run name -> the preset it plans from


def parse(argv=None):
    p, e = common.encode_score_parser(NAME, __doc__.splitlines()[0], device="auto")
    e.set_defaults(seconds=10.0, steps=2500)
    e.add_argument("--kbps", type=float, default=24.0, help="the target of every stream")
    e.add_argument("--rate-model", default=None, help="the rate model to plan from (default: the packaged one)")
    e.add_argument("--siren-batch-size", type=int, default=None,
                   help="mini-batch of the SIREN-only run (default: full batch, the paper's); the any-family run keeps "
                        "each family's defaults, since a SIREN-only option would restrict its plan to the SIREN")
    e.add_argument("--out", required=True)
    return common.parse_args(p, argv)


def encode(args) -> None:
    import soundfile as sf

    from sirenpipe.audio import load_clip
    from sirenpipe.encoder import encode_at_rate, load_rate_model

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rate_model = load_rate_model(args.rate_model)
    fit = {"steps": args.steps, "seed": args.seed, "device": args.device}
    entries = []
    for path in args.clips:
        clip = load_clip(path, sample_rate=args.sample_rate, duration=args.seconds)
        stem = Path(path).stem.replace(".", "-")
        sf.write(out / f"{stem}.wav", clip.samples * clip.peak_scale, clip.sample_rate, subtype="FLOAT")
        entry = {"clip": path, "stem": stem, "seconds": clip.duration, "target_kbps": args.kbps, "runs": {}}
        for run, preset in RUNS.items():
            run_fit = dict(fit)
            if preset is not None and args.siren_batch_size:
                run_fit["batch_size"] = args.siren_batch_size
            encoded = encode_at_rate(clip, args.kbps, preset, run_fit, progress=False, rate_model=rate_model)
            write_bytes(out / f"{stem}-{_slug(run)}.sirn", encoded.data)
            entry["runs"][run] = {"plan": encoded.plan.describe(), "family": encoded.family,
                                  "preset": encoded.plan.preset, "bytes": len(encoded.data),
                                  "fit_seconds": encoded.fit.seconds, "device": encoded.fit.device,
                                  "batch_size": getattr(encoded.fit.config, "batch_size", None)}
            print(f"{stem} {run}: {len(encoded.data)} bytes in {encoded.fit.seconds:.0f} s; {encoded.plan.describe()}",
                  flush=True)
        entries.append(entry)
    write_json(out / "encoded.json", {"entries": entries, "rate_model": rate_model.describe(),
                                      "budget": f"{args.steps} steps, seed {args.seed}, {args.seconds:g} s clips",
                                      "provenance": common.provenance(NAME, args, args.device)})


def score(args) -> None:
    import numpy as np
    import soundfile as sf

    from sirenpipe.decoder import decode
    from sirenpipe.evaluation import markdown as md
    from sirenpipe.metrics import score as metric_scores

    out = Path(args.out)
    run = common.read_encoded(out)
    metrics = ("pesq", "visqol", "psnr")
    rows = []
    for e in run["entries"]:
        ref, rate = sf.read(out / f"{e['stem']}.wav", dtype="float32")
        for name, r in e["runs"].items():
            data = (out / f"{e['stem']}-{_slug(name)}.sirn").read_bytes()
            decoded = decode(data)
            results = metric_scores(ref=ref, est=decoded.signal, sample_rate=rate, kind="speech", metrics=list(metrics))
            batch = r.get("batch_size")
            rows.append({"clip": e["stem"], "run": name, "target": e["target_kbps"], "bytes": len(data),
                         "steps_of": f"{batch}-sample batches" if batch else "the whole clip",
                         "kbps": len(data) * 8 / e["seconds"] / 1000, "variant": decoded.variant,
                         "plan": r["plan"], "fit_seconds": r["fit_seconds"],
                         **{m: results[m].value for m in metrics}})
    lines = [f"Planned from the {run['rate_model']}.", "",
             f"Fit budget per stream: {run['budget']} (steps of: the table's column; each family's other settings "
             "at its defaults: the SIREN Adam 1e-4, the latent grid Adam 1e-2 and its schedule); fits on "
             f"{run['entries'][0]['runs']['any family']['device']}. Each stream decoded with the variant it names.", "",
             "| clip | run | bytes | kbps | variant | PESQ-WB | ViSQOL | PSNR (dB) | steps of | fit s | plan |",
             "|---|---|---:|---:|---|---:|---:|---:|---|---:|---|"]
    for r in rows:
        lines.append(f"| {r['clip']} | {r['run']} | {r['bytes']} | {r['kbps']:.2f} | {r['variant']} | "
                     f"{md.number(r['pesq'], 2)} | {md.number(r['visqol'], 2)} | {md.number(r['psnr'], 1)} | "
                     f"{r['steps_of']} | {r['fit_seconds']:.0f} | {r['plan'].split(': ', 1)[1]} |")
    lines += ["", "| run | mean kbps | PESQ-WB | ViSQOL | PSNR (dB) | every stream within its target |",
              "|---|---:|---:|---:|---:|---|"]
    for name in RUNS:
        own = [r for r in rows if r["run"] == name]
        mean = {m: np.mean([r[m] for r in own if not md.missing(r[m])] or [np.nan]) for m in ("kbps", *metrics)}
        lines.append(f"| {name} | {mean['kbps']:.2f} | {md.number(mean['pesq'], 2)} | {md.number(mean['visqol'], 2)} | "
                     f"{md.number(mean['psnr'], 1)} | "
                     f"{all(r['kbps'] <= r['target'] for r in own)} |")
    common.write_score_summary(args, NAME, TITLE, "\n".join(lines), run["provenance"])


def _slug(run: str) -> str:
    return run.replace(" ", "-")


if __name__ == "__main__":
    common.run_step(parse, encode, score)
