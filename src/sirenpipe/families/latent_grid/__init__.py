"""The latent-grid family (Cool-chic / C3 in one dimension): integer latent grids over time, a
small synthesis network, and an autoregressive entropy model; the latents are range-coded.

Its parts: the config, presets and contexts (models/latent_config.py), the model
(models/latent.py), the fit and its schedule (fit/latent_trainer.py, fit/latent_config.py), the
stream (codec/bitstream_v4.py, codec/latent_coding.py: format version 4), the networks'
quantization (:mod:`.networks`), and its rows of the rate model and its plans (:mod:`.rate`).
"""

from __future__ import annotations

from dataclasses import fields, replace

from ...errors import SirenpipeError
from ...fit.latent_config import LatentFitConfig
from ..base import ModelFamily, refuse
from .rate import LatentGridRates, latent_rate_target

REFITS = 3  # fits in all before an encode over its budget gives up


class LatentGridFamily(LatentGridRates, ModelFamily):
    name = "latent_grid"
    label = "latent grid"
    fit_options = tuple(f.name for f in fields(LatentFitConfig))
    rate_controlled = {"fit": ("rate_weight", "loss_weight")}
    fits_to_rate = True
    versions = (4,)
    legacy_versions = (4,)  # version-4 streams written before the header named its family

    def fit_config(self, settings: dict) -> LatentFitConfig:
        refuse(self, settings, self.fit_options, "fit")
        return LatentFitConfig(**settings)

    # --- encoding -----------------------------------------------------------------------------
    def fit(self, clip, config, fit_config, stream_config, budget_bytes, progress):
        """A fit whose rate weight adapts to the latents' share of budget_bytes (None: a fixed rate weight)."""
        target = None if budget_bytes is None else latent_rate_target(config, budget_bytes, len(clip.samples))
        return _fit(clip, config, fit_config, target, progress)

    def fit_within(self, clip, config, fit_config, stream_config, budget_bytes, preset=None, progress=True):
        """A fit whose stream (sized with the longest variant name) fits budget_bytes: a stream
        still over it is refitted at a proportionally lower rate target, starting from a rate
        weight raised as far, at most REFITS fits in all; then the encode fails in one line."""
        from ...codec.variants import allowed_variants

        if budget_bytes is None:
            return self.fit(clip, config, fit_config, stream_config, None, progress), None
        longest = max(allowed_variants(config.num_heads), key=len)
        target = latent_rate_target(config, budget_bytes, len(clip.samples))
        for _ in range(REFITS):
            result = _fit(clip, config, fit_config, target, progress)
            frozen = self.freeze(result, clip, stream_config, budget_bytes, preset)
            size = len(self.serialize(frozen[0], clip, preset, longest))
            if size <= budget_bytes:
                return result, frozen
            shortfall = 0.97 * budget_bytes / size
            target *= shortfall
            fit_config = replace(fit_config, rate_weight=result.config.rate_weight / shortfall**2)
        raise SirenpipeError(f"the stream is {size} bytes after {REFITS} fits, over its budget of {budget_bytes} bytes")

    def freeze(self, result, clip, stream_config, budget_bytes, preset):
        """The networks quantized (networks.quantize_networks, scored by the fit's objective at its
        final rate weight): ((payload, the decoder's model), None, the quantization's report)."""
        import torch

        from ...fit.loss import build_objective
        from .networks import quantize_networks

        objective = build_objective(result.config, [clip.samples], clip.sample_rate, "cpu")
        target = torch.as_tensor(clip.samples, dtype=torch.float32)[None, :, None]
        payload, decoder_model, report = quantize_networks(
            result.model, lambda pred: float(objective(pred[None], target, None)[0]), result.config.rate_weight)
        return (payload, decoder_model), None, report

    def serialize(self, frozen, clip, preset, variant):
        from ...codec.bitstream_v4 import compress_latent

        payload, model = frozen
        return compress_latent(payload, model.config, sample_rate=clip.sample_rate, num_samples=len(clip.samples),
                               peak_scale=clip.peak_scale, preset=preset, variant=variant, family=self.name)

    def decoded_fit(self, result, frozen):
        result.model = frozen[1]
        return result

    def describe_encoded(self, encoded):
        r, n = encoded.fit, encoded.report
        return [f"code lengths: latents {n['latent_bits'] / 8:,.0f} bytes, networks "
                f"{(n['arm_bits'] + n['synthesis_bits']) / 8:,.0f} bytes",
                f"rate weight {r.config.rate_weight:.3g}", f"loss {r.config.loss}"]

    def build_model(self, config, num_samples):
        from ...models.latent import LatentGridModel

        return LatentGridModel(config, num_samples)

    # --- the stream ---------------------------------------------------------------------------
    def parse_header(self, fields, version):
        from ...codec.bitstream_v4 import parse_header

        return parse_header(fields)

    def read_payload(self, view, header, version):
        from ...codec.bitstream_v4 import read_payload

        return read_payload(view, header.model, header.num_samples)

    def synthesize(self, stream, sample_rate=None):
        import torch

        from ...codec.synthesis import resample_heads

        h = stream.header
        with torch.no_grad():
            heads = decoder_model(stream).eval()("hard").T.cpu().numpy()
        return resample_heads(heads, h.sample_rate, sample_rate, h.peak_scale)

    def info(self, stream):
        h, payload = stream.header, stream.payload
        return {"latents": [len(v) for v in payload.latents], "strides": list(h.model.strides()),
                "part_bytes": payload.sizes, "shifts": {m: [s.weight, s.bias] for m, s in payload.shifts.items()},
                "macs_per_sample": h.model.macs_per_sample()}

    def info_lines(self, stream, info):
        m = stream.header.model
        return [f"model:       {m.num_grids} grids, strides {m.strides()[0]}..{m.strides()[-1]}, {m.num_heads} heads, "
                f"{info['parameters']:,} network parameters",
                f"size:        {info['bytes']:,} bytes, {info['kbps']:.1f} kbps (format version {stream.version})",
                "parts:       " + ", ".join(f"{k} {v:,} bytes" for k, v in info["part_bytes"].items()),
                f"decoding:    {info['macs_per_sample']['total']:,.0f} MACs per sample"]

    def setup_columns(self, stream, history):
        h, sizes, fit = stream.header, stream.payload.sizes, history["fit"]
        return {"stream_variant": h.variant, "grids": h.model.num_grids,
                "latents": sum(len(v) for v in stream.payload.latents), "latent_bytes": sizes["latents"],
                "network_bytes": sizes["arm"] + sizes["synthesis"], "rate_weight": fit["rate_weight"],
                "loss": fit["loss"], "loss_weight": fit["loss_weight"], "steps": history["steps"], "lr": fit["lr"]}


def _fit(clip, config, fit_config, rate_target, progress):
    from ...codec.bitstream_v4 import MAX_SAMPLES_V4
    from ...fit.latent_trainer import fit_latent

    if len(clip.samples) > MAX_SAMPLES_V4:
        raise SirenpipeError(f"a latent-grid stream holds at most {MAX_SAMPLES_V4:,} samples, the clip has "
                             f"{len(clip.samples):,}")
    return fit_latent(clip.samples, config, fit_config, progress, clip.sample_rate, rate_target)


def decoder_model(stream):
    """The latent-grid model a version-4 stream holds: its decoded latents and dequantized networks."""
    import torch

    from ...models.latent import LatentGridModel

    h = stream.header
    model = LatentGridModel(h.model, h.num_samples)
    state = {k: torch.as_tensor(v) for k, v in stream.payload.network_state().items()}
    model.load_state_dict({**model.state_dict(), **state})
    model.set_latents(stream.payload.latents)
    return model.eval()

