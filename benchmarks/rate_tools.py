"""Rate-distortion tools on real speech: entropy coding, quantization-aware and rate-aware fitting.

    python -m benchmarks.rate_tools encode --clips A.g722 B.ogg --seconds 5 --steps 1000 --out rt/
    python -m benchmarks.rate_tools score --out rt/             # docs/results/rate_tools.md
    python -m benchmarks.rate_tools run --quick --out /tmp/rt   # both steps; smoke run: synthetic clip, 60 steps

Every fit has the same budget: --steps mini-batch steps of --batch-size samples, seed --seed, the
siamese-siren preset, per-channel scales (--per-tensor to change). `encode`, per clip:

1. one plain fit, then post-training quantization (PTQ) at each --bits, stored once with
   fixed-length and once with entropy-coded weight codes;
2. one quantization-aware fit (QAT, `--qat`) per --qat-bits;
3. for each of --first-layer-bits F: PTQ of the plain fit and one more QAT fit per --qat-bits
   (other than F) with the input layer's weights at F bits (`--first-layer-bits`);
4. one rate-aware fit per --rate-weights, at --rate-bits, with QAT, keeping the fit's own
   estimate of the weights' coded bits.

It writes the streams, the plain fit's unquantized weights, the clips as the fits saw them and
OUT/encoded.json. `score` decodes every stored stream and scores it: PESQ-WB and ViSQOL (speech
mode) of the siamese decoder, PESQ of the mean of the heads; sizes are the files' sizes, and the
fixed-length and entropy-coded streams of one PTQ setting must decode to identical audio. The
unquantized fit is scored too, as the reference for what quantization loses. The two steps may
run on different machines (fit on a GPU, score where the metric libraries are). Output:
OUT/rows.jsonl (one row per clip and setting) and the summary (tables over clips) in
docs/results/rate_tools.md (--summary PATH elsewhere; a --quick run only prints it), its header
naming both steps' machines.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sirenpipe.atomic import write_bytes, write_json, write_text

from . import common

NAME = "rate_tools"
TITLE = "Rate tools on real speech"
PRESET = "siamese-siren"


def parse(argv=None):
    p = argparse.ArgumentParser(prog=f"python -m benchmarks.{NAME}", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="step", required=True)
    for name in ("encode", "run"):
        e = sub.add_parser(name)
        e.add_argument("--quick", action="store_true", help="smoke run: synthetic 1 s clip, 60 steps")
        e.add_argument("--clips", nargs="*", default=None, help="speech files (default: a synthetic speech-like clip)")
        e.add_argument("--seconds", type=float, default=None, help="clip length (default 5)")
        e.add_argument("--sample-rate", type=int, default=22050)
        e.add_argument("--steps", type=int, default=None, help="fit steps (default 1000)")
        e.add_argument("--batch-size", type=int, default=16384)
        e.add_argument("--seed", type=int, default=0)
        e.add_argument("--device", default="cpu")
        e.add_argument("--bits", default="8,6,5,4", help="PTQ bit widths")
        e.add_argument("--qat-bits", default="5,4", help="bit widths of the quantization-aware fits")
        e.add_argument("--first-layer-bits", default="",
                       help="comma-separated: also PTQ and QAT at --qat-bits with the input layer at each of these bits")
        e.add_argument("--rate-bits", type=int, default=6, help="bit width of the rate-aware fits")
        e.add_argument("--rate-weights", default=None, help="comma-separated rate weights (default 1e-6,4e-6,1.6e-5; "
                       "empty: none)")
        e.add_argument("--per-tensor", action="store_true", help="one scale per tensor instead of per row")
        e.add_argument("--out", required=True, help="output folder")
    s = sub.add_parser("score")
    s.add_argument("--out", required=True, help="the encode step's folder")
    for step in (sub.choices["run"], s):
        common.add_summary_option(step, NAME)
    args = common.parse_args(p, argv)
    if args.step != "score":
        common.fill_defaults(args, dict(seconds=1.0, steps=60, rate_weights="1e-5"),
                             dict(seconds=5.0, steps=1000, rate_weights="1e-6,4e-6,1.6e-5"))
    return args


def _ints(text: str) -> list[int]:
    return [int(b) for b in text.split(",") if b]


def encode(args) -> None:
    import soundfile as sf
    import torch

    from sirenpipe.codec.bitstream import compress
    from sirenpipe.codec.quantize import QuantConfig
    from sirenpipe.fit import FitConfig, fit
    from sirenpipe.models import model_config

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = model_config(PRESET)
    per_channel = not args.per_tensor
    budget = f"{args.steps} steps of {args.batch_size}-sample mini-batches, seed {args.seed}, {PRESET}"
    print(f"budget per fit: {budget}; {common.describe_machine()}", flush=True)
    entries = []
    for clip_path in args.clips or [None]:
        samples, source = common.load_samples(clip_path, args.sample_rate, args.seconds)
        stem = Path(source).stem.replace(".", "-").replace(" ", "-")
        sf.write(out / f"{stem}.wav", samples, args.sample_rate, subtype="FLOAT")
        base = dict(clip=stem, seconds=len(samples) / args.sample_rate, budget=budget)

        def fitted(**fit_options):
            quant = fit_options.pop("quant", None)
            result = fit(samples, config, FitConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                                                    device=args.device, **fit_options), progress=False, quant=quant)
            print(f"  {stem}: fit {fit_options or 'plain'} {result.seconds:.1f} s on {result.device}", flush=True)
            return result

        def store(name, model, quant, **facts):
            data = compress(model, sample_rate=args.sample_rate, num_samples=len(samples), peak_scale=1.0, quant=quant)
            write_bytes(out / f"{stem}-{name}.sirn", data)
            entries.append({**base, "stream": f"{stem}-{name}.sirn", "bits": quant.bits,
                            "first_layer_bits": quant.for_layer(True).bits, "coding": quant.coding, **facts})

        plain = fitted()
        torch.save(plain.model.state_dict(), out / f"{stem}-float.pt")
        entries.append({**base, "setting": "float", "weights": f"{stem}-float.pt"})
        for bits in _ints(args.bits):
            store(f"ptq{bits}-fixed", plain.model, QuantConfig(bits, per_channel, "fixed"), setting="ptq")
            store(f"ptq{bits}-entropy", plain.model, QuantConfig(bits, per_channel), setting="ptq",
                  fixed_stream=f"{stem}-ptq{bits}-fixed.sirn")
        for bits in _ints(args.qat_bits):
            first = [f for f in _ints(args.first_layer_bits) if f != bits]
            for f in first:
                store(f"ptq{bits}-first{f}", plain.model, QuantConfig(bits, per_channel, first_layer_bits=f), setting="ptq")
            for f in [None, *first]:
                quant = QuantConfig(bits, per_channel, first_layer_bits=f)
                result = fitted(quant_aware=True, quant=quant)
                store(f"qat{bits}" + (f"-first{f}" if f else ""), result.model, quant, setting="qat")
        for weight in [float(w) for w in args.rate_weights.split(",") if w]:
            quant = QuantConfig(args.rate_bits, per_channel)
            result = fitted(quant_aware=True, rate_weight=weight, quant=quant)
            store(f"rate{weight:g}", result.model, quant, setting="qat+rate", rate_weight=weight,
                  estimated_code_bytes=result.rate_bits / 8)
        for e in entries:
            e.setdefault("device", plain.device)
    write_json(out / "encoded.json", {"entries": entries, "quick": args.quick,
                                      "provenance": common.provenance(NAME, args, args.device)})


def score(args) -> None:
    import soundfile as sf
    import torch

    from sirenpipe.codec import reconstruct, synthesize_model
    from sirenpipe.decoder import decompress, synthesize
    from sirenpipe.metrics import score as metric_scores
    from sirenpipe.models import INR, model_config

    out = Path(args.out)
    run = common.read_encoded(out)
    entries = run["entries"]
    rows, heads_of = [], {}
    for e in entries:
        ref, rate = sf.read(out / f"{e['clip']}.wav", dtype="float32")
        if e["setting"] == "float":
            model = INR(model_config(PRESET))
            model.load_state_dict(torch.load(out / e["weights"], weights_only=True))
            heads = synthesize_model(model, len(ref), rate)
            sizes = {}
        else:
            data = (out / e["stream"]).read_bytes()
            stream = decompress(data)
            heads = synthesize(stream)
            sizes = {"bytes": len(data), "kbps": len(data) * 8 / e["seconds"] / 1000,
                     "coded_code_bytes": sum(t.bytes for t in stream.payload.tensors if t.coding != "float"),
                     "codings": sorted({t.coding for t in stream.payload.tensors})}
        heads_of[e.get("stream", e["clip"])] = heads
        siamese = metric_scores(ref=ref, est=reconstruct(heads, rate, "siamese"), sample_rate=rate, kind="speech",
                                metrics=["pesq", "visqol"])
        mean = metric_scores(ref=ref, est=reconstruct(heads, rate, "mean"), sample_rate=rate, kind="speech",
                             metrics=["pesq"])
        row = {k: v for k, v in e.items() if k not in ("stream", "weights", "fixed_stream")}
        row.update(sizes, pesq=siamese["pesq"].value, visqol=siamese["visqol"].value, pesq_mean_heads=mean["pesq"].value)
        rows.append(row)
        print(json.dumps(row), flush=True)
    for row, e in zip(rows, entries):  # entropy coding is lossless: same audio as the fixed-length stream
        if "fixed_stream" in e:
            fixed = next(r for r, f in zip(rows, entries) if f.get("stream") == e["fixed_stream"])
            row["fixed_bytes"], row["fixed_kbps"] = fixed["bytes"], fixed["kbps"]
            row["decoded_identical"] = bool(np.array_equal(heads_of[e["stream"]], heads_of[e["fixed_stream"]]))
    write_text(out / "rows.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    common.write_score_summary(args, NAME, TITLE, summarize(rows, entries[0]["budget"], entries[0].get("device", "?")),
                               run["provenance"], trial=run.get("quick", False))


def summarize(rows: list[dict], budget: str, device: str) -> str:
    import pandas as pd

    df = pd.DataFrame(rows)
    if "first_layer_bits" in df:
        df["first_layer_bits"] = df["first_layer_bits"].fillna(df["bits"])
    n = df["clip"].nunique()
    lines = [f"Budget per fit: {budget}; fits on {device}; {n} clip(s), mean over clips.", ""]
    uniform = df[df.setting.isin(["ptq", "qat"]) & (df.first_layer_bits == df.bits)]
    coded_pairs = uniform[uniform.fixed_bytes.notna()] if "fixed_bytes" in uniform else uniform.iloc[:0]
    ptq = coded_pairs.groupby("bits").mean(numeric_only=True).sort_index(ascending=False)
    identical = coded_pairs.groupby("bits").decoded_identical.all()
    lines += ["Entropy coding (PTQ of the plain fit):", "",
              "| bits | fixed-length kbps | entropy-coded kbps | saving | decoded audio identical |", "|---:|---:|---:|---:|---|"]
    for bits, r in ptq.iterrows():
        lines.append(f"| {bits:.0f} | {r.fixed_kbps:.1f} | {r.kbps:.1f} | {100 * (1 - r.kbps / r.fixed_kbps):.1f}% | "
                     f"{'yes' if identical[bits] else 'NO'} |")
    float_row = df[df.setting == "float"].mean(numeric_only=True)
    lines += ["", f"Unquantized fit: PESQ {float_row.pesq:.2f}, ViSQOL {float_row.visqol:.2f}, "
                  f"PESQ mean of heads {float_row.pesq_mean_heads:.2f}.", ""]
    quantized = df[df.setting.isin(["ptq", "qat"]) & (df.coding == "entropy")]
    table = quantized.groupby(["setting", "bits", "first_layer_bits"]).mean(numeric_only=True)
    qat = table.loc["qat"] if "qat" in table.index.get_level_values(0) else None
    if qat is not None:
        lines += ["Quantization-aware fitting against PTQ of the plain fit with the same quantizer (same budget); "
                  "recovered = (QAT - PTQ) / (unquantized - PTQ):", "",
                  "| bits | input layer bits | kbps PTQ / QAT | PESQ PTQ / QAT | recovered | ViSQOL PTQ / QAT | recovered "
                  "| PESQ mean of heads PTQ / QAT |", "|---:|---:|---|---|---:|---|---:|---|"]
        for (bits, first), q in qat.sort_index(ascending=False).iterrows():
            if ("ptq", bits, first) not in table.index:
                continue
            p = table.loc[("ptq", bits, first)]
            rec = lambda m: (q[m] - p[m]) / (float_row[m] - p[m]) if float_row[m] != p[m] else float("nan")  # noqa: E731
            lines.append(f"| {bits:.0f} | {first:.0f} | {p.kbps:.1f} / {q.kbps:.1f} | {p.pesq:.2f} / {q.pesq:.2f} | "
                         f"{100 * rec('pesq'):.0f}% | {p.visqol:.2f} / {q.visqol:.2f} | {100 * rec('visqol'):.0f}% | "
                         f"{p.pesq_mean_heads:.2f} / {q.pesq_mean_heads:.2f} |")
        plain_ptq = {bits: table.loc[("ptq", bits, bits)] for bits, first in qat.index if ("ptq", bits, bits) in table.index}
        mixed = [(bits, first, q) for (bits, first), q in qat.iterrows() if first != bits and bits in plain_ptq]
        if mixed:
            lines += ["", "The same QAT fits against PTQ at the same bits with every layer at that width:", "",
                      "| bits | QAT input layer bits | kbps PTQ / QAT | PESQ PTQ / QAT | recovered | ViSQOL PTQ / QAT | recovered |",
                      "|---:|---:|---|---|---:|---|---:|"]
            for bits, first, q in sorted(mixed, reverse=True):
                p = plain_ptq[bits]
                rec = lambda m: (q[m] - p[m]) / (float_row[m] - p[m]) if float_row[m] != p[m] else float("nan")  # noqa: E731
                lines.append(f"| {bits:.0f} | {first:.0f} | {p.kbps:.1f} / {q.kbps:.1f} | {p.pesq:.2f} / {q.pesq:.2f} | "
                             f"{100 * rec('pesq'):.0f}% | {p.visqol:.2f} / {q.visqol:.2f} | {100 * rec('visqol'):.0f}% |")
    if "rate_weight" in df:
        lines += ["", "Rate-aware fitting (with QAT), the curve over the rate weight, next to PTQ and QAT without it:", "",
                  "| setting | kbps | PESQ | ViSQOL | estimated / coded weight codes (kB) |", "|---|---:|---:|---:|---|"]
        for bits, r in ptq.iterrows():
            lines.append(f"| PTQ {bits:.0f} bits | {r.kbps:.1f} | {r.pesq:.2f} | {r.visqol:.2f} | |")
        if qat is not None:
            for (bits, first), r in qat.sort_index(ascending=False).iterrows():
                label = f"QAT {bits:.0f} bits" + (f", input layer {first:.0f}" if first != bits else "")
                lines.append(f"| {label} | {r.kbps:.1f} | {r.pesq:.2f} | {r.visqol:.2f} | |")
        for weight, r in df[df.setting == "qat+rate"].groupby("rate_weight").mean(numeric_only=True).iterrows():
            lines.append(f"| QAT {int(r.bits)} bits, rate weight {weight:g} | {r.kbps:.1f} | {r.pesq:.2f} | {r.visqol:.2f} | "
                         f"{r.estimated_code_bytes / 1000:.1f} / {r.coded_code_bytes / 1000:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    args = parse(argv)
    if args.step in ("encode", "run"):
        common.reexec_under_tcmalloc()
        start = time.perf_counter()
        encode(args)
        print(f"encode: {time.perf_counter() - start:.0f} s", flush=True)
    if args.step in ("score", "run"):
        score(args)


if __name__ == "__main__":
    main()
