"""The encoder's front door, for the CLI and the workflow alike: a clip to .sirn bytes (fit,
choose the stream's decoder variant, quantize within a budget, serialize). Decoding is the
codec's (codec.decoder.decode)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..codec.bitstream import compress
from ..codec.quantize import QuantConfig
from ..codec.variants import DEFAULT_ALPHA, allowed_variants
from ..errors import SirenpipeError
from ..fit import FitConfig, FitResult, fit
from ..models import INR, INRConfig, model_config
from .choice import choose_variant
from .ratecontrol import RatePlan, lower_bits, plan_rate
from .rate_model import RateModel

if TYPE_CHECKING:
    from ..audio import Clip


@dataclass
class Encoded:
    data: bytes  # the .sirn bitstream
    fit: FitResult
    quant: QuantConfig  # what the stream was quantized with
    variant: str  # the decoder variant the stream names as its default
    plan: RatePlan | None = None  # rate control's choice (encode_at_rate)


def encode_clip(
    clip: Clip,
    preset: str | None = "siamese-siren",
    model: INRConfig | None = None,
    fit_config: FitConfig = FitConfig(),
    quant: QuantConfig = QuantConfig(),
    progress: bool = True,
    budget_bytes: int | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> Encoded:
    """Fit an INR (a preset, or an explicit config) to the clip and compress it. A quantization-
    or rate-aware fit trains with `quant`, the settings it is compressed with. With a byte
    budget, a stream over it is re-quantized at fewer bits until it fits (compress_within).
    `alpha` is the noise-estimate amplitude the stream's decoder variant is chosen at."""
    config = model if model is not None else model_config(preset)
    result = fit(clip.samples, config, fit_config, progress=progress, quant=quant, sample_rate=clip.sample_rate)
    stream_preset = preset if model is None else None
    data, used, variant = compress_within(result.model, clip, quant, budget_bytes, preset=stream_preset, alpha=alpha)
    return Encoded(data, result, used, variant)


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
