"""Designs of low-bit quantization-aware fitting compared at one budget (research harness).

    python -m benchmarks.qat_designs encode --clips A.ogg B.ogg C.g722 --device cuda --out qd/
    python -m benchmarks.qat_designs score --out qd/          # docs/results/qat_designs.md

Each design replaces what the QAT phase of the product's Trainer feeds the forward pass (the last
half of the steps; `Trainer._params_in_use`); everything else is the product's fit: the same
steps, batch, seed, learning-rate schedule and siamese-siren preset. Weights are quantized per
row. Designs:

- `ste`: the product's quantizer (`codec.quantize.quantize_weight`: max-based scale per row),
  straight-through rounding;
- `input8`: the same with the input layer at 8 bits (the product's `first_layer_bits`);
- `lsq`: learned per-row scales (log-parametrized, LSQ-style), codes clipped to the grid;
- `freeze`: progressive freezing (INQ): at the start of each quarter of the QAT phase the
  largest-magnitude half of the still-free weights of each tensor is fixed to its code, the rest
  train on in float; the scales are fixed when the phase starts;
- `noise`: the first half of the phase adds uniform noise of one grid step, the second half is `ste`;
- `anneal`: `ste` at bits + 3, then + 2, + 1, then the target bits over the phase;
- `kmeans`: a 2^bits-level codebook per tensor on peak-normalized rows, refined by two Lloyd
  steps per training step.

Only `ste` and `input8` are what the bitstream stores; the others are experiments, scored from
their dequantized weights, sized by range-coding their codes. `encode` writes per clip the plain
fit's weights and per design and bit width the decoded weights and codes; `score` computes PESQ-WB
and ViSQOL (speech mode) of the siamese decoder and PTQ of the plain fit as the baseline, and
`recovered` = (design − PTQ) / (unquantized − PTQ). `score` writes the summary to
docs/results/qat_designs.md (--summary PATH elsewhere), its header naming both steps' machines.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from sirenpipe.atomic import write_json
from sirenpipe.codec.quantize import QuantConfig, quantize_weight

from . import common

NAME = "qat_designs"
TITLE = "Designs of low-bit quantization-aware fitting"
PRESET = "siamese-siren"
SCALE_GAIN = 10.0  # lsq: scale = exp(SCALE_GAIN * theta), so Adam's steps move theta's scale at a useful rate


def is_weight(name: str, x: torch.Tensor) -> bool:
    return name.endswith("weight") and x.dim() == 2


def per_row(bits: int) -> QuantConfig:
    """The product's quantizer settings the designs share: `bits`, a scale per row, fp32 scales."""
    return QuantConfig(bits, per_channel=True)


def straight_through(w: torch.Tensor, quant: QuantConfig):
    """(straight-through quantized w, codes) by the product's quantizer: the value is what the
    bitstream decodes, the gradient passes to w."""
    codes, scale = quantize_weight(w, quant)
    return (w - w.detach()) + codes * scale, codes


def row_scale(w: torch.Tensor, bits: int) -> torch.Tensor:
    """The product's per-row scale of w (quantize_weight's): where `lsq` and `freeze` start."""
    return quantize_weight(w.detach(), per_row(bits))[1]


class Design:
    """STE by the product's quantizer; subclasses change what the QAT phase sees."""

    def __init__(self, trainer, bits: int):
        self.trainer, self.bits = trainer, bits

    @property
    def progress(self) -> float:
        t = self.trainer
        return (t.steps_done - t.qat_from) / t.config.qat_steps

    def start(self) -> None:
        """Called once, when the QAT phase begins."""

    def quant_of(self, name: str) -> QuantConfig:
        return per_row(self.bits)

    def quantize(self, name: str, w: torch.Tensor):
        return straight_through(w, self.quant_of(name))

    def __call__(self, params: dict) -> dict:
        return {n: (self.quantize(n, x)[0] if is_weight(n, x) else x) for n, x in params.items()}

    def final(self) -> tuple[dict, dict]:
        """(decoded state, integer codes per weight) at the end of the fit."""
        state, codes = {}, {}
        with torch.no_grad():
            for n, x in self.trainer._params.items():
                if is_weight(n, x):
                    state[n], codes[n] = self.quantize(n, x.detach())
                else:
                    state[n] = x.detach()
        return state, codes


class Input8(Design):
    def quant_of(self, name):
        from sirenpipe.models import input_weight_names

        quant = QuantConfig(self.bits, per_channel=True, first_layer_bits=8)  # the product's option
        return quant.for_layer(name in input_weight_names(self.trainer._params))


class LearnedScales(Design):
    def start(self):
        self.theta = {n: torch.nn.Parameter(torch.log(row_scale(x, self.bits)) / SCALE_GAIN)
                      for n, x in self.trainer._params.items() if is_weight(n, x)}
        self.trainer.optimizer.add_param_group({"params": list(self.theta.values()), "weight_decay": 0.0})

    def quantize(self, name, w):
        # not quantize_weight: the scale is learned (theta), and the rounding passes gradients to it
        qmax = 2 ** (self.bits - 1) - 1
        scale = torch.exp(SCALE_GAIN * self.theta[name])
        ratio = w / scale
        codes = torch.clamp((torch.round(ratio) - ratio).detach() + ratio, -qmax, qmax)
        return codes * scale, codes.detach()


class Freeze(Design):
    SHARES = (0.5, 0.75, 0.875, 0.9375)  # frozen share of each tensor from each quarter of the phase on

    def start(self):
        weights = {n: x for n, x in self.trainer._params.items() if is_weight(n, x)}
        self.scale = {n: row_scale(x, self.bits) for n, x in weights.items()}
        self.frozen = {n: torch.zeros_like(x, dtype=torch.bool) for n, x in weights.items()}
        self.values = {n: torch.zeros_like(x) for n, x in weights.items()}
        self.stage = -1

    def _codes(self, name, w):
        # not quantize_weight, which takes the scale from w's current peak: frozen codes need the
        # scales fixed when the phase starts, or their values would move as the free weights train
        qmax = 2 ** (self.bits - 1) - 1
        return torch.clamp(torch.round(w.detach() / self.scale[name]), -qmax, qmax)

    def _advance(self):
        stage = min(len(self.SHARES) - 1, int(self.progress * len(self.SHARES)))
        if stage == self.stage:
            return
        self.stage = stage
        with torch.no_grad():
            for n, mask in self.frozen.items():
                w = self.trainer._params[n]
                more = int(self.SHARES[stage] * w.numel()) - int(mask.sum())
                if more > 0:
                    chosen = torch.topk(w.abs().masked_fill(mask, -1).flatten(), more).indices
                    grown = mask.flatten().clone()
                    grown[chosen] = True
                    grown = grown.reshape(w.shape)
                    self.values[n] = torch.where(grown & ~mask, self._codes(n, w) * self.scale[n], self.values[n])
                    self.frozen[n] = grown

    def __call__(self, params):
        self._advance()
        return {n: (torch.where(self.frozen[n], self.values[n], x) if is_weight(n, x) else x) for n, x in params.items()}

    def quantize(self, name, w):
        codes = torch.where(self.frozen[name], torch.round(self.values[name] / self.scale[name]), self._codes(name, w))
        return codes * self.scale[name], codes


class Noise(Design):
    def quantize(self, name, w):
        if self.progress >= 0.5 or not w.requires_grad:
            return super().quantize(name, w)
        return w + row_scale(w, self.bits) * (torch.rand_like(w) - 0.5), None


class Anneal(Design):
    def quant_of(self, name):
        ladder = list(range(min(8, self.bits + 3), self.bits - 1, -1))
        if self.trainer.steps_done >= self.trainer.config.steps:
            return per_row(self.bits)
        return per_row(ladder[min(len(ladder) - 1, int(self.progress * len(ladder)))])


class KMeans(Design):
    def start(self):
        self.levels = {n: torch.linspace(-1, 1, 2 ** self.bits, device=x.device)
                       for n, x in self.trainer._params.items() if is_weight(n, x)}

    def quantize(self, name, w, lloyd_steps: int = 2):
        peak = w.detach().abs().amax(1, keepdim=True)
        peak = torch.where(peak > 0, peak, torch.ones_like(peak))
        u, c = (w.detach() / peak).flatten(), self.levels[name]
        for _ in range(lloyd_steps if w.requires_grad else 0):
            index = (u[:, None] - c[None]).abs().argmin(1)
            sums = torch.zeros_like(c).index_add_(0, index, u)
            counts = torch.zeros_like(c).index_add_(0, index, torch.ones_like(u))
            c = torch.where(counts > 0, sums / counts.clamp_min(1), c)
        self.levels[name] = c
        index = (u[:, None] - c[None]).abs().argmin(1)
        return (w - w.detach()) + c[index].reshape(w.shape) * peak, index.reshape(w.shape) - 2 ** (self.bits - 1)


DESIGNS = {"ste": Design, "input8": Input8, "lsq": LearnedScales, "freeze": Freeze, "noise": Noise,
           "anneal": Anneal, "kmeans": KMeans}


def parse(argv=None):
    p, e = common.encode_score_parser(NAME, __doc__.split("\n")[0], device="cpu")
    e.add_argument("--bits", default="4,5", help="comma-separated bit widths")
    e.add_argument("--designs", default=",".join(DESIGNS), help=f"comma-separated, of: {', '.join(DESIGNS)}")
    e.add_argument("--out", required=True)
    return common.parse_args(p, argv)


def encode(args) -> None:
    import soundfile as sf

    from sirenpipe.fit import FitConfig, Trainer
    from sirenpipe.models import model_config

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    designs = [d for d in args.designs.split(",") if d]
    unknown = sorted(set(designs) - set(DESIGNS))
    if unknown:
        raise SystemExit(f"unknown design(s) {', '.join(unknown)}; known: {', '.join(DESIGNS)}")
    base = FitConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed, device=args.device)
    budget = f"{args.steps} steps of {args.batch_size}-sample mini-batches, seed {args.seed}, {PRESET}, QAT on the last half"
    print(f"budget per fit: {budget}; {common.describe_machine()}", flush=True)

    def run(samples, bits, design):
        trainer = Trainer([samples], model_config(PRESET), replace(base, quant_aware=design is not None),
                          quant=per_row(bits) if design else None)
        hook = DESIGNS[design](trainer, bits) if design else None
        if hook:
            trainer._params_in_use = hook
        start = time.perf_counter()
        for step in range(args.steps):
            if hook and step == trainer.qat_from:
                hook.start()
            trainer.step()
        if hook:
            state, codes = hook.final()
        else:
            state, codes = {n: x.detach() for n, x in trainer._params.items()}, {}
        print(f"  {design or 'plain'} {bits if design else ''}: {time.perf_counter() - start:.1f} s", flush=True)
        strip = lambda d, kind: {n.removeprefix("inr."): v.detach().cpu().to(kind) for n, v in d.items()}  # noqa: E731
        return {"state": strip(state, torch.float32), "codes": strip(codes, torch.int16)}

    entries = []
    for path in args.clips:
        samples, _ = common.load_samples(path, args.sample_rate, args.seconds)
        stem = Path(path).stem.replace(".", "-")
        sf.write(out / f"{stem}.wav", samples, args.sample_rate, subtype="FLOAT")
        torch.save(run(samples, 32, None), out / f"{stem}-plain.pt")
        for bits in [int(b) for b in args.bits.split(",")]:
            for design in designs:
                torch.save(run(samples, bits, design), out / f"{stem}-{design}-{bits}.pt")
                entries.append({"clip": stem, "design": design, "bits": bits})
    write_json(out / "encoded.json", {"budget": budget, "device": str(base.device), "entries": entries,
                                      "provenance": common.provenance(NAME, args, args.device)})


def score(args) -> None:
    import pandas as pd
    import soundfile as sf

    from sirenpipe.codec import reconstruct, synthesize_model
    from sirenpipe.codec.entropy import encode_codes
    from sirenpipe.metrics import score as metric_scores
    from sirenpipe.models import INR, model_config

    out = Path(args.out)
    run = common.read_encoded(out)
    config = model_config(PRESET)

    def scores(state, ref, rate) -> dict:
        model = INR(config)
        model.load_state_dict(state)
        heads = synthesize_model(model, len(ref), rate)
        r = metric_scores(ref=ref, est=reconstruct(heads, rate, "siamese"), sample_rate=rate, kind="speech",
                          metrics=["pesq", "visqol"])
        return {"pesq": r["pesq"].value, "visqol": r["visqol"].value}

    def coded_bytes(codes: dict) -> int:
        total = 0
        for c in codes.values():
            c = c.numpy()
            bits = next(b for b in range(2, 9) if np.abs(c).max() <= 2 ** (b - 1) - 1)
            total += len(encode_codes(c.astype(np.int8), bits, "entropy").data)
        return total

    rows = []
    for clip in sorted({e["clip"] for e in run["entries"]}):
        ref, rate = sf.read(out / f"{clip}.wav", dtype="float32")
        plain = torch.load(out / f"{clip}-plain.pt", weights_only=True)["state"]
        rows.append({"clip": clip, "design": "unquantized", "bits": 32, **scores(plain, ref, rate)})
        for bits in sorted({e["bits"] for e in run["entries"] if e["clip"] == clip}):
            ptq, codes = {}, {}
            for n, w in plain.items():
                ptq[n], codes[n] = straight_through(w, per_row(bits)) if is_weight(n, w) else (w, None)
            codes = {n: c for n, c in codes.items() if c is not None}
            rows.append({"clip": clip, "design": "ptq", "bits": bits, "code_bytes": coded_bytes(codes),
                         **scores(ptq, ref, rate)})
        for e in (e for e in run["entries"] if e["clip"] == clip):
            saved = torch.load(out / f"{clip}-{e['design']}-{e['bits']}.pt", weights_only=True)
            rows.append({**e, "code_bytes": coded_bytes(saved["codes"]), **scores(saved["state"], ref, rate)})
        print(f"{clip}: scored", flush=True)
    df = pd.DataFrame(rows)
    df.to_json(out / "rows.jsonl", orient="records", lines=True)
    mean = df.groupby(["design", "bits"])[["pesq", "visqol", "code_bytes"]].mean()
    reference = mean.loc[("unquantized", 32)]
    lines = [f"Budget per fit: {run['budget']}; fits on {run['device']}; {df['clip'].nunique()} clip(s), mean over clips. "
             f"Unquantized: PESQ-WB {reference.pesq:.2f}, ViSQOL {reference.visqol:.2f}.", "",
             "| bits | design | weight codes (kB) | PESQ-WB | recovered | ViSQOL | recovered |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for bits in sorted(b for b in df.bits.unique() if b != 32):
        ptq = mean.loc[("ptq", bits)]
        for design in ["ptq", *[d for d in DESIGNS if (d, bits) in mean.index]]:
            r = mean.loc[(design, bits)]
            rec = {m: (r[m] - ptq[m]) / (reference[m] - ptq[m]) for m in ("pesq", "visqol")}
            lines.append(f"| {bits} | {design} | {r.code_bytes / 1000:.1f} | {r.pesq:.2f} | {100 * rec['pesq']:.0f}% | "
                         f"{r.visqol:.2f} | {100 * rec['visqol']:.0f}% |")
    common.write_score_summary(args, NAME, TITLE, "\n".join(lines), run["provenance"])


if __name__ == "__main__":
    common.run_step(parse, encode, score)
