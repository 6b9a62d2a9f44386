"""Rate control against the paper preset: `--kbps` at a share of the int8 preset's rate, same fit budget.

    python -m benchmarks.rate_control encode --clips A.g722 B.ogg C.ogg --seconds 5 --steps 1000 --out rc/
    python -m benchmarks.rate_control score --out rc/          # docs/results/rate_control.md

`encode` fits each clip twice with the same steps, batch and seed: the paper preset quantized as
the paper does (int8 per tensor, fixed-length codes, fp32 biases), then `encode --kbps` at
--ratio times that stream's real kbps (or at --kbps). It writes the streams, the clips as the
fits saw them (WAV at the original level) and OUT/encoded.json. `score` decodes every stream with
its default decoder variant (as `sirenpipe decode` does) and scores it against its clip: PESQ-WB
and ViSQOL (speech mode), PSNR. The two steps may run on different machines (fit on a GPU, score
where the metric libraries are); `score` writes the summary to docs/results/rate_control.md
(--summary PATH elsewhere), its header naming both steps' machines.
"""

from __future__ import annotations

from pathlib import Path

from sirenpipe.atomic import write_bytes, write_json

from . import common

NAME = "rate_control"
TITLE = "Rate control against the paper preset"


def parse(argv=None):
    p, e = common.encode_score_parser(NAME, __doc__.splitlines()[0], device="auto")
    target = e.add_mutually_exclusive_group()
    target.add_argument("--ratio", type=float, default=0.5, help="target = this times the int8 preset's kbps")
    target.add_argument("--kbps", type=float, default=None, help="a fixed target instead of --ratio")
    e.add_argument("--out", required=True)
    return common.parse_args(p, argv)


def encode(args) -> None:
    import soundfile as sf

    from sirenpipe.audio import load_clip
    from sirenpipe.codec.quantize import QuantConfig
    from sirenpipe.encoder import encode_at_rate, encode_clip
    from sirenpipe.fit import FitConfig

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fit_config = FitConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed, device=args.device)
    entries = []
    for path in args.clips:
        clip = load_clip(path, sample_rate=args.sample_rate, duration=args.seconds)
        stem = Path(path).stem.replace(".", "-")
        sf.write(out / f"{stem}.wav", clip.samples * clip.peak_scale, clip.sample_rate, subtype="FLOAT")
        paper = encode_clip(clip, "siamese-siren", fit_config=fit_config,
                            stream_config=QuantConfig(8, False, "fixed", 32), progress=False)
        paper_kbps = len(paper.data) * 8 / clip.duration / 1000
        target = args.kbps or args.ratio * paper_kbps
        controlled = encode_at_rate(clip, target, "siamese-siren", fit_config, progress=False)
        for name, encoded in (("int8", paper), ("kbps", controlled)):
            write_bytes(out / f"{stem}-{name}.sirn", encoded.data)
        entry = {"clip": path, "stem": stem, "seconds": clip.duration, "target_kbps": target,
                 "plan": controlled.plan.describe(), "bits_used": controlled.stream_config.bits,
                 "device": paper.fit.device, "fit_seconds": [paper.fit.seconds, controlled.fit.seconds],
                 "budget": f"{args.steps} steps x {args.batch_size}-sample batches, seed {args.seed}"}
        entries.append(entry)
        print(f"{stem}: int8 {paper_kbps:.1f} kbps; {entry['plan']}; "
              f"{len(controlled.data) * 8 / clip.duration / 1000:.1f} kbps", flush=True)
    write_json(out / "encoded.json", {"entries": entries, "provenance": common.provenance(NAME, args, args.device)})


def score(args) -> None:
    import numpy as np
    import soundfile as sf

    from sirenpipe.decoder import decode
    from sirenpipe.metrics import score as metric_scores

    out = Path(args.out)
    run = common.read_encoded(out)
    entries = run["entries"]
    rows = []
    for e in entries:
        ref, rate = sf.read(out / f"{e['stem']}.wav", dtype="float32")
        row = {"clip": e["stem"], "target": e["target_kbps"], "plan": e["plan"]}
        for name in ("int8", "kbps"):
            data = (out / f"{e['stem']}-{name}.sirn").read_bytes()
            decoded = decode(data)
            results = metric_scores(ref=ref, est=decoded.signal, sample_rate=rate, kind="speech",
                                    metrics=["pesq", "visqol", "psnr"])
            row[name] = {"kbps": len(data) * 8 / e["seconds"] / 1000, "variant": decoded.variant,
                         **{m: r.value for m, r in results.items()}}
        rows.append(row)
    lines = [f"Fit budget per stream: {entries[0]['budget']}; fits on {entries[0]['device']}.", "",
             "| clip | int8 kbps | PESQ | ViSQOL | PSNR | target kbps | --kbps stream kbps | PESQ | ViSQOL | PSNR | choice |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        a, b = r["int8"], r["kbps"]
        lines.append(f"| {r['clip']} | {a['kbps']:.1f} | {a['pesq']:.2f} | {a['visqol']:.2f} | {a['psnr']:.1f} | "
                     f"{r['target']:.1f} | {b['kbps']:.1f} | {b['pesq']:.2f} | {b['visqol']:.2f} | {b['psnr']:.1f} | "
                     f"{r['plan'].split(': ', 1)[1]}, decoded {b['variant']} |")
    mean = {n: {m: np.mean([r[n][m] for r in rows]) for m in ("kbps", "pesq", "visqol", "psnr")} for n in ("int8", "kbps")}
    lines.append(f"| mean | {mean['int8']['kbps']:.1f} | {mean['int8']['pesq']:.2f} | {mean['int8']['visqol']:.2f} | "
                 f"{mean['int8']['psnr']:.1f} | | {mean['kbps']['kbps']:.1f} | {mean['kbps']['pesq']:.2f} | "
                 f"{mean['kbps']['visqol']:.2f} | {mean['kbps']['psnr']:.1f} | |")
    lines += ["", f"Mean PESQ difference (--kbps - int8): {mean['kbps']['pesq'] - mean['int8']['pesq']:+.2f}; "
                  f"every stream within its target: {all(r['kbps']['kbps'] <= r['target'] for r in rows)}"]
    common.write_score_summary(args, NAME, TITLE, "\n".join(lines), run["provenance"])


if __name__ == "__main__":
    common.run_step(parse, encode, score)
