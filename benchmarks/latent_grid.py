"""The latent-grid family at one bitrate, beside the SIREN, and what its decoder costs.

    python -m benchmarks.latent_grid encode --clips A.ogg B.ogg ... --kbps 24 --specs lg-s:lpc --out lg/
    python -m benchmarks.latent_grid score --out lg/ [--siren obj/]   # docs/results/latent_grid.md
    python -m benchmarks.latent_grid cost                              # docs/results/latent_decode.md

`encode` runs what `sirenpipe encode --preset P --loss L --kbps K` runs, per clip (cut or padded
to --seconds) and per spec `PRESET:LOSS`: the fit's rate weight adapts to the budget, a stream
over it is refitted. It writes OUT/CLIP-SPEC.sirn, the clips as the fits saw them and
OUT/encoded-SPEC.json with each encode's wall time (fit, network quantization, variant choice).
`score` decodes every stream (its own variant, and every variant) and scores it against its clip:
PESQ-WB, ViSQOL (speech), PSNR, STOI; with --siren, the streams of a `benchmarks.objectives`
encode step of the same clips are scored the same way, side by side.
`cost` measures decoding: MACs per sample (from the configs) and the CPU wall time of decoding
10 s (parse, latent decoding, synthesis), median of --repeats, per latent-grid preset and for
the paper's Siamese SIREN.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from sirenpipe.atomic import write_bytes, write_json

from . import common

NAME = "latent_grid"
TITLE = "The latent-grid family at one bitrate"
METRICS = ("pesq", "visqol", "psnr", "stoi")


def parse(argv=None):
    p, e = common.encode_score_parser(NAME, __doc__.splitlines()[0], device="cpu")
    e.add_argument("--kbps", type=float, default=24.0)
    e.add_argument("--specs", nargs="+", default=["lg-s:lpc"], help="PRESET:LOSS")
    e.add_argument("--out", required=True)
    e.set_defaults(seconds=10.0, steps=2500)
    p.score_parser.add_argument("--siren", default=None, help="a benchmarks.objectives encode folder of the same clips")
    c = p.steps.add_parser("cost")
    c.add_argument("--seconds", type=float, default=10.0)
    c.add_argument("--sample-rate", type=int, default=22050)
    c.add_argument("--repeats", type=int, default=3)
    c.add_argument("--presets", nargs="+", default=["lg-xs", "lg-s", "lg-m", "siamese-siren"])
    common.add_summary_option(c, "latent_decode")
    return common.parse_args(p, argv)


def tag(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", spec)


def encode(args) -> None:
    import soundfile as sf

    from sirenpipe.audio import load_clip
    from sirenpipe.encoder.api import encode_at_rate
    from sirenpipe.fit import LatentFitConfig

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    clips = [load_clip(path, sample_rate=args.sample_rate, duration=args.seconds, pad=True) for path in args.clips]
    stems = [Path(path).stem.replace(".", "-") for path in args.clips]
    for clip, stem in zip(clips, stems):
        sf.write(out / f"{stem}.wav", clip.samples * clip.peak_scale, clip.sample_rate, subtype="FLOAT")
    for spec in args.specs:
        preset, _, loss = spec.partition(":")
        loss = loss or "mse"
        config = LatentFitConfig(steps=args.steps, seed=args.seed, device=args.device, loss=loss)
        entries = []
        for clip, stem in zip(clips, stems):
            start = time.perf_counter()
            encoded = encode_at_rate(clip, args.kbps, preset, config, progress=False, loss=loss)
            wall = time.perf_counter() - start
            write_bytes(out / f"{stem}-{tag(spec)}.sirn", encoded.data)
            entries.append({"clip": stem, "spec": spec, "kbps": len(encoded.data) * 8 / clip.duration / 1000,
                            "bytes": len(encoded.data), "variant": encoded.variant, "encode_seconds": wall,
                            "fit_seconds": encoded.fit.seconds, "rate_weight": encoded.fit.config.rate_weight,
                            "networks": encoded.report})
            print(f"{spec} {stem}: {entries[-1]['kbps']:.2f} kbps, {wall:.0f} s", flush=True)
        budget = f"{args.steps} full-clip steps, seed {args.seed}, {args.seconds:g} s clips, on {encoded.fit.device}"
        write_json(out / f"encoded-{tag(spec)}.json", {"entries": entries, "budget": budget, "kbps": args.kbps,
                                                       "provenance": common.provenance(NAME, args, args.device)})


def score(args) -> None:
    import numpy as np
    import pandas as pd
    import soundfile as sf

    from sirenpipe.codec.variants import allowed_variants, reconstruct
    from sirenpipe.decoder import decompress, synthesize
    from sirenpipe.metrics import score as metric_scores

    folders = [("latent grid", Path(args.out))] + ([("SIREN", Path(args.siren))] if args.siren else [])
    rows, runs = [], {}
    for family, folder in folders:
        for path in sorted(folder.glob("encoded-*.json")):
            run = json.loads(path.read_text())
            runs[(family, path.stem)] = run
            for e in run["entries"]:
                ref, rate = sf.read(Path(args.out) / f"{e['clip']}.wav", dtype="float32")
                data = (folder / f"{e['clip']}-{tag(e['spec'])}.sirn").read_bytes()
                stream = decompress(data)
                heads = synthesize(stream, rate)
                for variant in allowed_variants(len(heads)):
                    signal = reconstruct(heads, rate, variant)  # synthesize restored the level
                    results = metric_scores(ref=ref, est=signal, sample_rate=rate, kind="speech", metrics=list(METRICS))
                    rows.append({"family": family, "spec": e["spec"], "clip": e["clip"], "variant": variant,
                                 "own": variant == (stream.header.variant or variant), "bytes": len(data),
                                 "kbps": len(data) * 8 / stream.header.duration / 1000,
                                 **{m: r.value for m, r in results.items()}})
                print(f"scored {family} {e['spec']} {e['clip']}", flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(Path(args.out) / "scores.csv", index=False)
    first = runs[next(k for k in runs if k[0] == "latent grid")]
    common.write_score_summary(args, NAME, TITLE, summary(df, runs), first["provenance"])


def summary(df, runs) -> str:
    own = df[df["own"]]
    lines = []
    for (family, stem), run in runs.items():
        wall = [e.get("encode_seconds") or run.get("fit_seconds") for e in run["entries"]]
        lines.append(f"- {family} `{run['entries'][0]['spec']}`: target {run['kbps']:g} kbps; budget: {run['budget']}; "
                     f"encode wall time per clip " + ", ".join(f"{w:.0f} s" for w in wall if w)
                     + ("" if family == "latent grid" else " (all clips fitted together)"))
    lines += ["", "## Per clip (each stream decoded with the variant it names)", "",
              "| family | spec | clip | kbps | variant | PESQ-WB | ViSQOL | PSNR (dB) | STOI |", "|---|---|---|---:|---|---:|---:|---:|---:|"]
    for r in own.itertuples():
        lines.append(f"| {r.family} | {r.spec} | {r.clip} | {r.kbps:.2f} | {r.variant} | {r.pesq:.2f} | {r.visqol:.2f} | "
                     f"{r.psnr:.1f} | {r.stoi:.3f} |")
    lines += ["", "## Means over the clips", "", "| family | spec | kbps | PESQ-WB | ViSQOL | PSNR (dB) | STOI |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for (family, spec), g in own.groupby(["family", "spec"], sort=False):
        lines.append(f"| {family} | {spec} | {g.kbps.mean():.2f} | {g.pesq.mean():.2f} | {g.visqol.mean():.2f} | "
                     f"{g.psnr.mean():.1f} | {g.stoi.mean():.3f} |")
    lines += ["", "## Every decoder variant (means over the clips)", "", "| family | spec | variant | PESQ-WB | ViSQOL |",
              "|---|---|---|---:|---:|"]
    for (family, spec, variant), g in df.groupby(["family", "spec", "variant"], sort=False):
        lines.append(f"| {family} | {spec} | {variant} | {g.pesq.mean():.2f} | {g.visqol.mean():.2f} |")
    return "\n".join(lines)


def cost(args) -> None:
    import numpy as np
    import torch

    from sirenpipe.audio import Clip
    from sirenpipe.codec import QuantConfig, compress
    from sirenpipe.decoder import decompress, synthesize
    from sirenpipe.encoder.api import encode_clip
    from sirenpipe.fit import LatentFitConfig
    from sirenpipe.models import INR, model_config

    torch.set_num_threads(torch.get_num_threads())
    samples = common.speech_like(args.sample_rate, args.seconds)
    clip = Clip(samples, args.sample_rate, 1.0, args.sample_rate, args.seconds)
    rows = []
    for preset in args.presets:
        config = model_config(preset)
        if config.family == "latent_grid":  # a short fit, so that the latents and networks are a real stream's
            data = encode_clip(clip, preset, fit_config=LatentFitConfig(steps=100), progress=False).data
            macs = config.macs_per_sample()
        else:
            torch.manual_seed(0)
            data = compress(INR(config), sample_rate=args.sample_rate, num_samples=len(samples), peak_scale=1.0,
                            quant=QuantConfig(8))
            layers = config.weight_shapes().values()
            macs = {"arm": 0.0, "upsampling": 0.0, "synthesis": float(sum(r * c for r, c in layers)), "total": 0.0}
            macs["total"] = macs["synthesis"]
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            synthesize(decompress(data))
            times.append(time.perf_counter() - start)
        rows.append((preset, config.num_parameters(), macs, float(np.median(times)), len(data)))
        print(f"{preset}: {macs['total']:,.0f} MACs/sample, {np.median(times):.2f} s", flush=True)
    lines = [f"Decoding {args.seconds:g} s at {args.sample_rate} Hz on the CPU ({torch.get_num_threads()} threads): parse, "
             f"latent decoding (integer ARM and range decoder, latent grids) and synthesis of every head; median of "
             f"{args.repeats}. MACs per output sample from the configs (the ARM's per latent times latents per sample; "
             "the linear upsampling 2 per grid; the SIREN's positional encoding and sines not counted). The latent-grid "
             "streams are real ones after a 100-step fit of a speech-like signal (the decode time depends on the alphabet "
             "sizes only a little); the SIREN's is its untrained 8-bit stream.", "",
             "| preset | network parameters | MACs/sample: ARM | upsampling | synthesis | total | decode 10 s (s) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for preset, params, macs, seconds, size in rows:
        lines.append(f"| {preset} | {params:,} | {macs['arm']:,.0f} | {macs['upsampling']:,.0f} | {macs['synthesis']:,.0f} | "
                     f"{macs['total']:,.0f} | {seconds:.2f} |")
    common.write_summary(common.summary_path(args, "latent_decode"), "Decoder cost of the latent-grid presets",
                         "\n".join(lines), common.provenance(NAME, args))


if __name__ == "__main__":
    args = parse()
    {"encode": encode, "score": score, "cost": cost}[args.step](args)
