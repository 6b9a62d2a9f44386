"""The SIREN family (the paper's): an INR of time whose quantized weights are the stream.

Its parts: the config and presets (models/config.py), the network (models/inr.py), the fit
(fit/trainer.py, fit/config.py's FitConfig), the stream (codec/bitstream.py, format versions
1-3, with codec/quantize.py's QuantConfig), synthesis on a time grid (codec/synthesis.py), and
its rows of the rate model and its plans (:mod:`.rate`).
"""

from __future__ import annotations

from dataclasses import fields, replace

from ...codec.quantize import QuantConfig
from ...errors import SirenpipeError
from ...fit.config import FitConfig
from ..base import ModelFamily, refuse
from .rate import SirenRates


class SirenFamily(SirenRates, ModelFamily):
    name = "siren"
    label = "SIREN"
    fit_options = tuple(f.name for f in fields(FitConfig))
    stream_options = tuple(f.name for f in fields(QuantConfig))
    rate_controlled = {
        "model": ("shared", "head_widths"),
        "quant": ("bits", "per_channel", "coding", "float_bits", "first_layer_bits"),
        "fit": ("quant_aware", "rate_weight", "loss_weight"),
    }
    batches_clips = True
    versions = (1, 2, 3)
    legacy_versions = (1, 2, 3)

    # --- settings -----------------------------------------------------------------------------
    def fit_config(self, settings: dict) -> FitConfig:
        refuse(self, settings, self.fit_options, "fit")
        return FitConfig(**settings)

    def fit_sees_stream(self, fit_config) -> bool:
        return fit_config.sees_quantizer

    def auto_clips_per_fit(self, fit_config, clip_samples):
        sizes = [n for n in (fit_config.batch_size, clip_samples) if n]  # samples per step
        return auto_clips_per_fit(fit_config.device, min(sizes) if sizes else None)

    def stream_config(self, settings: dict, encoder_defaults: bool = False) -> QuantConfig:
        """QuantConfig from settings; encoder_defaults: `sirenpipe encode`'s (the input layer at
        no fewer than 6 bits unless first_layer_bits is given: QuantConfig.for_encoder)."""
        refuse(self, settings, self.stream_options, "stream")
        return QuantConfig.for_encoder(**settings) if encoder_defaults else QuantConfig(**settings)

    # --- encoding -----------------------------------------------------------------------------
    def fit(self, clip, config, fit_config, stream_config, budget_bytes, progress):
        from ...fit.trainer import fit

        return fit(clip.samples, config, fit_config, progress=progress, quant=stream_config, sample_rate=clip.sample_rate)

    def fit_many(self, clips, config, fit_config, stream_config, progress=True):
        from ...fit.trainer import fit_many

        return fit_many([c.samples for c in clips], config, fit_config, progress=progress, quant=stream_config,
                        sample_rate=clips[0].sample_rate)

    def freeze(self, result, clip, stream_config, budget_bytes, preset):
        """The fitted model at stream_config's bits, or with a budget at the most bits at which its
        stream (sized with the longest variant name) fits."""
        from ...codec.variants import allowed_variants

        model, quant = result.model, stream_config
        longest = max(allowed_variants(model.config.num_heads), key=len)
        while budget_bytes is not None:
            size = len(self.serialize((model, quant), clip, preset, longest))
            if size <= budget_bytes:
                break
            if quant.bits <= 2:
                raise SirenpipeError(f"the stream is {size} bytes at {quant.bits} bits, over its budget of {budget_bytes} bytes")
            quant = replace(quant, bits=quant.bits - 1)
        report = {"requantized_from": stream_config.bits, "budget_bytes": budget_bytes} if quant != stream_config else {}
        return (model, quant), quant, report

    def serialize(self, frozen, clip, preset, variant) -> bytes:
        from ...codec.bitstream import compress

        model, quant = frozen
        return compress(model, quant=quant, sample_rate=clip.sample_rate, num_samples=len(clip.samples),
                        peak_scale=clip.peak_scale, preset=preset, variant=variant)

    def describe_encoded(self, encoded) -> list[str]:
        r, q = encoded.fit, encoded.stream_config
        parts = [f"{q.label} {q.coding} codes"]
        parts += [f"quantization-aware ({r.config.qat_steps} steps)"] if r.config.quant_aware else []
        parts += ([f"rate weight {r.config.rate_weight:g} (estimated {r.rate_bits / 8:,.0f} bytes of weight codes)"]
                  if r.rate_bits else [])
        parts += [f"loss {r.config.loss} (weight {r.config.loss_weight:g})"] if r.config.loss != "mse" else []
        if "requantized_from" in encoded.report:
            parts += [f"re-quantized from {encoded.report['requantized_from']} to {q.bits} bits to fit "
                      f"{encoded.report['budget_bytes']} bytes"]
        return parts

    def build_model(self, config, num_samples):
        from ...models import INR

        return INR(config)

    # --- the stream ---------------------------------------------------------------------------
    def parse_header(self, fields, version):
        from ...codec.bitstream import parse_header

        return parse_header(fields, version)

    def read_payload(self, view, header, version):
        from ...codec.bitstream import read_payload

        return read_payload(view, header, version)

    def synthesize(self, stream, sample_rate=None):
        from ...codec.synthesis import synthesize_model

        h = stream.header
        return synthesize_model(stream.payload.model, h.num_samples, h.sample_rate, sample_rate, h.peak_scale)

    def info(self, stream):
        h, model = stream.header, stream.payload.model
        return {
            "paper_style_parameters": paper_style_parameters(model),
            "paper_style_bytes": paper_style_bytes(model, h.quant.bits),
            "bits": h.quant.bits,
            "first_layer_bits": h.quant.for_layer(True).bits,
            "per_channel": h.quant.per_channel,
            "coding": h.quant.coding,
            "float_bits": h.quant.float_bits,
            "tensors": [t.to_dict() for t in stream.payload.tensors],
        }

    def info_lines(self, stream, info):
        h, m = stream.header, stream.header.model
        lines = [f"model:       {m.arch}: shared {list(m.shared)}, heads {m.num_heads} x {list(m.head_widths)}, "
                 f"PE {m.pe_frequencies}, omega_0 {m.omega_0:g}, omega {m.omega:g}",
                 f"parameters:  {info['parameters']:,} (paper-style count {info['paper_style_parameters']:,})",
                 f"size:        {info['bytes']:,} bytes, {info['kbps']:.1f} kbps (paper-style size "
                 f"{info['paper_style_bytes'] / 1000:.1f} kB)",
                 f"quantized:   {h.quant.label} {'per-channel' if h.quant.per_channel else 'per-tensor'} weights, "
                 f"{h.quant.coding} codes, fp{h.quant.float_bits} biases and scales (format version {stream.version})",
                 f"{'tensor':30s} {'count':>8s} {'bits':>5s} {'coding':>9s} {'bytes':>8s} {'coded bits/value':>17s}"]
        return lines + [f"{t.name:30s} {t.count:8,d} {t.bits:5d} {t.coding:>9s} {t.bytes:8,d} "
                        f"{t.coded_bits_per_value:17.3f}" for t in stream.payload.tensors]

    def setup_columns(self, stream, history):
        h, model, tensors = stream.header, stream.payload.model, stream.payload.tensors
        fit = history["fit"]
        return {
            "paper_params": paper_style_parameters(model), "paper_bytes": paper_style_bytes(model, h.quant.bits),
            "bits": h.quant.bits, "first_layer_bits": h.quant.for_layer(True).bits,
            "weights": sum(t.count for t in tensors if t.coding != "float"), "per_channel": h.quant.per_channel,
            "stream_variant": h.variant, "coding": h.quant.coding, "float_bits": h.quant.float_bits,
            "quant_aware": fit.get("quant_aware", False), "rate_weight": fit.get("rate_weight", 0.0),
            "loss": fit.get("loss", "mse"), "loss_weight": fit.get("loss_weight", 0.0),
            "estimated_weight_bytes": None if history.get("estimated_weight_bits") is None
            else history["estimated_weight_bits"] / 8,
            "coded_weight_bytes": sum(t.bytes for t in tensors if t.coding != "float"),
            "steps": history["steps"], "batch_size": fit["batch_size"], "lr": fit["lr"],
        }


def auto_clips_per_fit(device: str, samples_per_step: int | None) -> int:
    """How many clips of one ablation to fit together in one batched model (fit_many).

    On CPU the step is matmul-bound and batching gains nothing (measured: python -m benchmarks.fit_step
    --variants naive,sirenpipe,sirenpipe+many4), so 1. On a GPU a short clip's step leaves the
    card mostly idle: batch clips up to ~2^18 samples per step (a 10 s full-batch clip already
    has 220,500: 1; 3 s full batch: 3; mini-batches of 16384: 16, the cap). The device is known
    only when the ablation names it (cuda); "auto" ablations get 1.
    """
    if not device.startswith("cuda") or not samples_per_step:
        return 1
    return max(1, min(16, 2**18 // samples_per_step))


# --- the paper's size conventions ------------------------------------------------------------
# Reverse-engineered from every row of the paper's Tables 1-3, for comparison with the paper
# only: the true figures are INR.num_parameters() and the length of the .sirn file.
def paper_style_parameters(model) -> int:
    """The paper's '#Params' column: the trunk counted six times, each head once (e.g. Siamese
    SIREN 513,026 = 6 x 74,496 + 66,050). A one-head model counts as all trunk (843,270 for a
    3x256 PE-SIREN)."""
    total = model.num_parameters()
    if model.config.num_heads == 1:
        return 6 * total
    trunk = model.trunk_parameters()
    return 6 * trunk + (total - trunk)


def paper_style_bytes(model, bits: int | None) -> int:
    """The paper's file-size convention: the trunk stored three times (a pickled state_dict
    holding it under both heads), weights at `bits` (None: fp32), biases fp32, no container
    overhead. A one-head model counts as all trunk. Matches Table 1 within the paper's
    pickle overhead (Siamese SIREN int8: 294.9 kB here vs 303.7 kB; fp32 1158 vs 1165 kB).
    """
    from ...codec.quantize import is_quantized, packed_size

    def size(params) -> int:
        return sum(packed_size(p.numel(), bits) if bits and is_quantized(name, p.ndim) else 4 * p.numel()
                   for name, p in params)

    everything = size(model.named_parameters())
    if model.config.num_heads == 1:
        return 3 * everything
    trunk = size(model.trunk.named_parameters())
    return 3 * trunk + (everything - trunk)

