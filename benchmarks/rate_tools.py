"""Rate-distortion tools on real speech: entropy coding, quantization-aware and rate-aware fitting.

    python benchmarks/rate_tools.py --clips A.g722 B.ogg --seconds 5 --steps 1000 --out rt/
    python benchmarks/rate_tools.py --quick --out /tmp/rt   # smoke run: synthetic clip, 60 steps

Every fit has the same budget: --steps mini-batch steps of --batch-size samples, seed --seed, the
siamese-siren preset, per-channel scales (--per-tensor to change). Per clip:

1. one plain fit, then post-training quantization (PTQ) at each --bits, stored once with
   fixed-length and once with entropy-coded weight codes: both files' sizes, and their decoded
   audio compared sample by sample (entropy coding must be lossless);
2. one quantization-aware fit (QAT, `--qat`) per --qat-bits;
3. one rate-aware fit per --rate-weights, at --rate-bits, with QAT: the fit's own estimate of
   the weights' coded bits next to the real coded size of the same codes.

Scores come from decoding the stored bitstream: PESQ-WB and ViSQOL (speech mode) of the default
decoder (siamese), and PESQ of the mean of the heads. The unquantized fit is scored too, as the
reference for what quantization loses. Output: OUT/rows.jsonl (one row per clip and setting) and
OUT/summary.md (tables over clips).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: synthetic 1 s clip, 60 steps")
    p.add_argument("--clips", nargs="*", default=None, help="speech files (default: a synthetic speech-like clip)")
    p.add_argument("--seconds", type=float, default=None, help="clip length (default 5)")
    p.add_argument("--sample-rate", type=int, default=22050)
    p.add_argument("--steps", type=int, default=None, help="fit steps (default 1000)")
    p.add_argument("--batch-size", type=int, default=16384)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bits", default="8,6,5,4", help="PTQ bit widths")
    p.add_argument("--qat-bits", default="5,4", help="bit widths of the quantization-aware fits")
    p.add_argument("--rate-bits", type=int, default=6, help="bit width of the rate-aware fits")
    p.add_argument("--rate-weights", default=None, help="comma-separated rate weights (default 1e-6,4e-6,1.6e-5)")
    p.add_argument("--per-tensor", action="store_true", help="one scale per tensor instead of per row")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--append", action="store_true", help="add to OUT/rows.jsonl instead of starting it afresh")
    p.add_argument("--skip-plain", action="store_true", help="only the QAT and rate-aware fits (their rows join the "
                   "plain fit's rows already in OUT/rows.jsonl from a run with the same budget)")
    args = p.parse_args(argv)
    common.fill_defaults(args, dict(seconds=1.0, steps=60, rate_weights="1e-5"),
                         dict(seconds=5.0, steps=1000, rate_weights="1e-6,4e-6,1.6e-5"))
    return args


def main(argv=None) -> None:
    args = parse(argv)
    common.reexec_under_tcmalloc()
    from sirenpipe.codec.bitstream import DecodedStream, StreamHeader, compress, decompress
    from sirenpipe.codec.quantize import QuantConfig
    from sirenpipe.codec.synthesis import synthesize
    from sirenpipe.codec.variants import reconstruct
    from sirenpipe.fit import FitConfig, fit
    from sirenpipe.metrics import score
    from sirenpipe.models import model_config

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows_path = out / "rows.jsonl"
    if not args.append:
        rows_path.unlink(missing_ok=True)
    config = model_config("siamese-siren")
    per_channel = not args.per_tensor
    budget = f"{args.steps} steps of {args.batch_size}-sample mini-batches, seed {args.seed}, siamese-siren"
    print(f"budget per fit: {budget}; {common.machine()}", flush=True)

    def scores(heads, rate, ref) -> dict:
        siamese = reconstruct(heads, rate, "siamese")
        mean = reconstruct(heads, rate, "mean")
        s = score(ref=ref, est=siamese, sample_rate=rate, kind="speech", metrics=["pesq", "visqol"])
        m = score(ref=ref, est=mean, sample_rate=rate, kind="speech", metrics=["pesq"])
        return {"pesq": s["pesq"].value, "visqol": s["visqol"].value, "pesq_mean_heads": m["pesq"].value}

    def stored(model, samples, quant):
        data = compress(model, sample_rate=args.sample_rate, num_samples=len(samples), peak_scale=1.0, quant=quant)
        stream = decompress(data)
        return data, stream, synthesize(stream)

    def emit(row):
        print(json.dumps(row), flush=True)
        with rows_path.open("a") as f:
            f.write(json.dumps(row) + "\n")

    clips = args.clips or [None]
    for clip_path in clips:
        samples, source = common.load_samples(clip_path, args.sample_rate, args.seconds)
        seconds = len(samples) / args.sample_rate
        ref = samples.astype(np.float64)
        base = dict(clip=Path(source).name, seconds=seconds, steps=args.steps, batch_size=args.batch_size)

        def fitted(**fit_options):
            quant = fit_options.pop("quant", None)
            start = time.perf_counter()
            result = fit(samples, config, FitConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                                                    device="cpu", **fit_options), progress=False, quant=quant)
            print(f"  fit {fit_options or 'plain'}: {time.perf_counter() - start:.0f} s", flush=True)
            return result

        plain = None if args.skip_plain else fitted()
        header = StreamHeader(config, args.sample_rate, len(samples), 1.0, QuantConfig())
        if plain is not None:
            emit({**base, "setting": "float", "bits": 32,
                  **scores(synthesize(DecodedStream(header, plain.model)), args.sample_rate, ref)})
        for bits in [int(b) for b in args.bits.split(",")] if plain is not None else []:
            fixed, _, fixed_heads = stored(plain.model, samples, QuantConfig(bits, per_channel, "fixed"))
            coded, stream, heads = stored(plain.model, samples, QuantConfig(bits, per_channel, "entropy"))
            emit({**base, "setting": "ptq", "bits": bits, "fixed_bytes": len(fixed), "bytes": len(coded),
                  "kbps": len(coded) * 8 / seconds / 1000, "fixed_kbps": len(fixed) * 8 / seconds / 1000,
                  "decoded_identical": bool(np.array_equal(fixed_heads, heads)),
                  "codings": sorted({t.coding for t in stream.tensors}), **scores(heads, args.sample_rate, ref)})
        for bits in [int(b) for b in args.qat_bits.split(",") if b]:
            quant = QuantConfig(bits, per_channel)
            result = fitted(quant_aware=True, quant=quant)
            data, _, heads = stored(result.model, samples, quant)
            emit({**base, "setting": "qat", "bits": bits, "bytes": len(data), "kbps": len(data) * 8 / seconds / 1000,
                  **scores(heads, args.sample_rate, ref)})
        for weight in [float(w) for w in args.rate_weights.split(",") if w]:
            quant = QuantConfig(args.rate_bits, per_channel)
            result = fitted(quant_aware=True, rate_weight=weight, quant=quant)
            data, stream, heads = stored(result.model, samples, quant)
            codes = sum(t.bytes for t in stream.tensors if t.coding != "float")
            emit({**base, "setting": "qat+rate", "bits": args.rate_bits, "rate_weight": weight, "bytes": len(data),
                  "kbps": len(data) * 8 / seconds / 1000, "estimated_code_bytes": result.rate_bits / 8,
                  "coded_code_bytes": codes, **scores(heads, args.sample_rate, ref)})
    summary = summarize([json.loads(line) for line in rows_path.read_text().splitlines()], budget)
    (out / "summary.md").write_text(summary)
    print(summary)


def summarize(rows: list[dict], budget: str) -> str:
    import pandas as pd

    df = pd.DataFrame(rows)
    n = df["clip"].nunique()
    lines = [f"Budget per fit: {budget}; {n} clip(s), mean over clips.", ""]
    ptq = df[df.setting == "ptq"].groupby("bits").mean(numeric_only=True).sort_index(ascending=False)
    identical = df[df.setting == "ptq"].groupby("bits").decoded_identical.all()
    lines += ["Entropy coding (PTQ of the plain fit):", "",
              "| bits | fixed-length kbps | entropy-coded kbps | saving | decoded audio identical |", "|---:|---:|---:|---:|---|"]
    for bits, r in ptq.iterrows():
        lines.append(f"| {bits} | {r.fixed_kbps:.1f} | {r.kbps:.1f} | {100 * (1 - r.kbps / r.fixed_kbps):.1f}% | "
                     f"{'yes' if identical[bits] else 'NO'} |")
    float_row = df[df.setting == "float"].mean(numeric_only=True)
    lines += ["", f"Unquantized fit: PESQ {float_row.pesq:.2f}, ViSQOL {float_row.visqol:.2f}, "
                  f"PESQ mean of heads {float_row.pesq_mean_heads:.2f}.", ""]
    qat = df[df.setting == "qat"].groupby("bits").mean(numeric_only=True)
    if len(qat):
        lines += ["Quantization-aware fitting against PTQ of the plain fit (same budget); recovered = (QAT - PTQ) / "
                  "(unquantized - PTQ):", "",
                  "| bits | kbps PTQ / QAT | PESQ PTQ / QAT | recovered | ViSQOL PTQ / QAT | recovered | PESQ mean of heads PTQ / QAT |",
                  "|---:|---|---|---:|---|---:|---|"]
        for bits, q in qat.sort_index(ascending=False).iterrows():
            p = ptq.loc[bits] if bits in ptq.index else None
            if p is None:
                continue
            rec = lambda m: (q[m] - p[m]) / (float_row[m] - p[m]) if float_row[m] != p[m] else float("nan")  # noqa: E731
            lines.append(f"| {bits} | {p.kbps:.1f} / {q.kbps:.1f} | {p.pesq:.2f} / {q.pesq:.2f} | {100 * rec('pesq'):.0f}% | "
                         f"{p.visqol:.2f} / {q.visqol:.2f} | {100 * rec('visqol'):.0f}% | "
                         f"{p.pesq_mean_heads:.2f} / {q.pesq_mean_heads:.2f} |")
    rate = df[df.setting == "qat+rate"].groupby("rate_weight").mean(numeric_only=True)
    if len(rate):
        lines += ["", "Rate-aware fitting (with QAT), the curve over the rate weight, next to PTQ and QAT without it:", "",
                  "| setting | kbps | PESQ | ViSQOL | estimated / coded weight codes (kB) |", "|---|---:|---:|---:|---|"]
        for bits, r in ptq.iterrows():
            lines.append(f"| PTQ {bits} bits | {r.kbps:.1f} | {r.pesq:.2f} | {r.visqol:.2f} | |")
        for bits, r in qat.sort_index(ascending=False).iterrows():
            lines.append(f"| QAT {bits} bits | {r.kbps:.1f} | {r.pesq:.2f} | {r.visqol:.2f} | |")
        for weight, r in rate.iterrows():
            lines.append(f"| QAT {int(r.bits)} bits, rate weight {weight:g} | {r.kbps:.1f} | {r.pesq:.2f} | {r.visqol:.2f} | "
                         f"{r.estimated_code_bytes / 1000:.1f} / {r.coded_code_bytes / 1000:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
