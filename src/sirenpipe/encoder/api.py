"""The encoder's front door, for the CLI and the workflow alike: a clip to .sirn bytes (fit,
choose the stream's decoder variant, quantize within a budget, serialize). Decoding is the
codec's (codec.decoder.decode)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..codec.bitstream import compress, compress_latent
from ..codec.quantize import QuantConfig
from ..codec.variants import DEFAULT_ALPHA, allowed_variants
from ..errors import SirenpipeError
from ..fit import FitConfig, FitResult, fit
from ..models import INR, LatentGridConfig, ModelConfig, model_config
from .choice import choose_variant
from .ratecontrol import RatePlan, lower_bits, plan_rate
from .rate_model import RateModel

if TYPE_CHECKING:
    from ..audio import Clip


@dataclass
class Encoded:
    data: bytes  # the .sirn bitstream
    fit: FitResult  # for a latent-grid model, .model is the decoder's (networks quantized)
    quant: QuantConfig | None  # what the stream was quantized with (None: a latent-grid model, version 4)
    variant: str  # the decoder variant the stream names as its default
    plan: RatePlan | None = None  # rate control's choice (encode_at_rate)
    networks: dict | None = None  # latent-grid models: the network quantization's report (encoder.latent)


def encode_clip(
    clip: Clip,
    preset: str | None = "siamese-siren",
    model: ModelConfig | None = None,
    fit_config: FitConfig = FitConfig(),
    quant: QuantConfig = QuantConfig(),
    progress: bool = True,
    budget_bytes: int | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> Encoded:
    """Fit an INR (a preset, or an explicit config) to the clip and compress it. A quantization-
    or rate-aware fit trains with `quant`, the settings it is compressed with. With a byte
    budget, a stream over it is re-quantized at fewer bits until it fits (compress_within).
    `alpha` is the noise-estimate amplitude the stream's decoder variant is chosen at.
    A latent-grid config (preset lg-*) is fitted and coded as such (version 4; quant unused)."""
    config = model if model is not None else model_config(preset)
    if config.family == "latent_grid":
        if budget_bytes is not None:
            raise ValueError("a latent-grid model meets a budget through its rate weight: use encode_latent_at_rate")
        if fit_config.batch_size is not None or fit_config.compile or fit_config.precision != "fp32" or fit_config.quant_aware:
            raise ValueError("a latent-grid fit takes the whole clip in fp32 every step, without compile or QAT")
        return encode_latent_clip(clip, config, fit_config, progress, preset if model is None else None, alpha)
    result = fit(clip.samples, config, fit_config, progress=progress, quant=quant, sample_rate=clip.sample_rate)
    stream_preset = preset if model is None else None
    data, used, variant = compress_within(result.model, clip, quant, budget_bytes, preset=stream_preset, alpha=alpha)
    return Encoded(data, result, used, variant)


def encode_latent_clip(clip: Clip, config: LatentGridConfig, fit_config: FitConfig, progress: bool = True,
                       preset: str | None = None, alpha: float = DEFAULT_ALPHA, rate_target: float | None = None) -> Encoded:
    """Fit a latent-grid model, quantize its networks and code it (version 4). rate_target: bits
    per sample the fit's rate weight adapts towards (fit.latent_trainer)."""
    import torch

    from ..fit.latent_trainer import fit_latent
    from ..fit.loss import build_objective
    from ..codec.bitstream_v4 import MAX_SAMPLES_V4
    from .latent import quantize_networks

    if len(clip.samples) > MAX_SAMPLES_V4:
        raise SirenpipeError(f"a latent-grid stream holds at most {MAX_SAMPLES_V4:,} samples, the clip has {len(clip.samples):,}")
    result = fit_latent(clip.samples, config, fit_config, progress, clip.sample_rate, rate_target)
    objective = build_objective(result.config, [clip.samples], clip.sample_rate, "cpu")
    target = torch.as_tensor(clip.samples, dtype=torch.float32)[None, :, None]
    payload, decoder_model, report = quantize_networks(
        result.model, lambda pred: float(objective(pred[None], target, None)[0]), result.config.rate_weight)
    facts = dict(sample_rate=clip.sample_rate, num_samples=len(clip.samples), peak_scale=clip.peak_scale, preset=preset)
    longest = max(allowed_variants(config.num_heads), key=len)  # sizes the header's variant field
    variant = choose_variant(compress_latent(payload, config, variant=longest, **facts), clip, alpha)
    result.model = decoder_model
    return Encoded(compress_latent(payload, config, variant=variant, **facts), result, None, variant, networks=report)


def encode_latent_at_rate(clip: Clip, target_kbps: float, config: LatentGridConfig, fit_config: FitConfig,
                          progress: bool = True, preset: str | None = None, alpha: float = DEFAULT_ALPHA,
                          attempts: int = 3) -> Encoded:
    """A latent-grid stream of at most target_kbps for this clip: the fit's rate weight adapts to a
    latent rate that leaves room for the networks and the header (fit.latent_trainer); a stream
    still over budget is refitted at a proportionally lower target, at most `attempts` fits in all."""
    from ..codec.latent_coding import LATENT_BUDGET_SHARE, side_bytes_estimate

    if not (isinstance(target_kbps, (int, float)) and math.isfinite(target_kbps) and target_kbps > 0):
        raise ValueError(f"the target bitrate must be a positive number of kbps, got {target_kbps!r}")
    budget = int(target_kbps * 1000 * clip.duration / 8)
    bits_per_sample = 8 * (LATENT_BUDGET_SHARE * budget - side_bytes_estimate(config)) / len(clip.samples)
    if bits_per_sample <= 0:
        raise SirenpipeError(f"{target_kbps:g} kbps ({budget} bytes) cannot hold a {config.num_parameters():,}-parameter "
                             f"latent-grid model's networks and header for a {clip.duration:.2f} s clip")
    for _ in range(attempts):
        encoded = encode_latent_clip(clip, config, fit_config, progress, preset, alpha, rate_target=bits_per_sample)
        if len(encoded.data) <= budget:
            return encoded
        shortfall = 0.97 * budget / len(encoded.data)
        bits_per_sample *= shortfall  # and the refit starts from a rate weight that gave too many bits, raised
        fit_config = replace(fit_config, rate_weight=encoded.fit.config.rate_weight / shortfall**2)
    raise SirenpipeError(f"the stream is {len(encoded.data)} bytes after {attempts} fits, over its budget of {budget} bytes")


def encode_at_rate(clip: Clip, target_kbps: float, preset: str = "siamese-siren", fit_config: FitConfig = FitConfig(),
                   progress: bool = True, rate_model: RateModel | None = None,
                   alpha: float = DEFAULT_ALPHA, loss: str | None = None) -> Encoded:
    """Encode at or below target_kbps for this clip: the model width and recipe come from rate
    control's plan (ratecontrol.plan_rate, from `rate_model`, default the packaged one; among
    the recipes of `loss` if given); the fit's own steps, batch and seed are kept."""
    plan = plan_rate(target_kbps, len(clip.samples), clip.sample_rate, preset, rate_model, loss)
    fit_config = replace(fit_config, **plan.recipe.fit_settings())
    encoded = encode_clip(clip, model=plan.model, fit_config=fit_config, quant=plan.quant, progress=progress,
                          budget_bytes=plan.budget_bytes, alpha=alpha)
    encoded.plan = plan
    return encoded


def compress_within(model: INR, clip: Clip, quant: QuantConfig, budget_bytes: int | None = None,
                    preset: str | None = None, alpha: float = DEFAULT_ALPHA) -> tuple[bytes, QuantConfig, str]:
    """(stream, quantization used, decoder variant) of a fitted model: the stream names its best
    decoder variant at `alpha` (choose_variant); it is quantized with `quant`, or with a budget,
    at the most bits at which it fits."""
    facts = dict(sample_rate=clip.sample_rate, num_samples=len(clip.samples), peak_scale=clip.peak_scale, preset=preset)
    longest = max(allowed_variants(model.config.num_heads), key=len)  # sizes the header's variant field
    while True:
        data = compress(model, quant=quant, variant=longest, **facts)
        if budget_bytes is None or len(data) <= budget_bytes:
            break
        smaller = lower_bits(quant)
        if smaller is None:
            raise SirenpipeError(f"the stream is {len(data)} bytes at {quant.bits} bits, over its budget of "
                                 f"{budget_bytes} bytes")
        quant = smaller
    variant = choose_variant(data, clip, alpha)
    return compress(model, quant=quant, variant=variant, **facts), quant, variant
