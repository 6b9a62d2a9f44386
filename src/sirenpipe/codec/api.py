"""The codec's front door, for the CLI and the workflow alike: a clip to .sirn bytes (fit,
quantize, serialize) and .sirn bytes to one signal (parse, synthesize, decoder variant)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SirenpipeError
from ..fit import FitConfig, FitResult, fit
from ..models import INR, INRConfig, model_config
from .bitstream import StreamHeader, compress, decompress
from .quantize import QuantConfig
from .ratecontrol import RatePlan, lower_bits, plan_rate
from .synthesis import synthesize
from .variants import allowed_variants, default_variant, reconstruct

if TYPE_CHECKING:
    from ..audio import Clip


@dataclass
class Encoded:
    data: bytes  # the .sirn bitstream
    fit: FitResult
    quant: QuantConfig  # what the stream was quantized with
    variant: str  # the decoder variant the stream names as its default
    plan: RatePlan | None = None  # rate control's choice (encode_at_rate)


@dataclass
class Decoded:
    signal: np.ndarray  # float32, (M,), at the original level
    sample_rate: int
    variant: str  # the decoder variant used
    header: StreamHeader


def encode_clip(
    clip: Clip,
    preset: str | None = "siamese-siren",
    model: INRConfig | None = None,
    fit_config: FitConfig = FitConfig(),
    quant: QuantConfig = QuantConfig(),
    progress: bool = True,
    budget_bytes: int | None = None,
) -> Encoded:
    """Fit an INR (a preset, or an explicit config) to the clip and compress it. A quantization-
    or rate-aware fit trains with `quant`, the settings it is compressed with. With a byte
    budget, a stream over it is re-quantized at fewer bits until it fits (compress_within)."""
    config = model if model is not None else model_config(preset)
    result = fit(clip.samples, config, fit_config, progress=progress, quant=quant)
    stream_preset = preset if model is None else None
    data, used, variant = compress_within(result.model, clip, quant, budget_bytes, preset=stream_preset)
    return Encoded(data, result, used, variant)


def encode_at_rate(clip: Clip, target_kbps: float, preset: str = "siamese-siren", fit_config: FitConfig = FitConfig(),
                   progress: bool = True) -> Encoded:
    """Encode at or below target_kbps for this clip: the model width and recipe come from rate
    control's plan (codec.ratecontrol.plan_rate); the fit's own steps, batch and seed are kept."""
    plan = plan_rate(target_kbps, len(clip.samples), clip.sample_rate, preset)
    fit_config = replace(fit_config, quant_aware=plan.recipe.quant_aware, rate_weight=plan.recipe.rate_weight)
    encoded = encode_clip(clip, model=plan.model, fit_config=fit_config, quant=plan.quant, progress=progress,
                          budget_bytes=plan.budget_bytes)
    encoded.plan = plan
    return encoded


def compress_within(model: INR, clip: Clip, quant: QuantConfig, budget_bytes: int | None = None,
                    preset: str | None = None) -> tuple[bytes, QuantConfig, str]:
    """(stream, quantization used, decoder variant) of a fitted model: the stream names its best
    decoder variant (choose_variant); it is quantized with `quant`, or with a budget, at the most
    bits at which it fits."""
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
    variant = choose_variant(data, clip)
    return compress(model, quant=quant, variant=variant, **facts), quant, variant


CHOICE_METRICS = ("pesq", "visqol")  # choose_variant sums them: both are MOS-scale (1 to about 4.5)


def choose_variant(data: bytes, clip: Clip) -> str:
    """The decoder variant of this stream that scores best against the clip by PESQ-WB plus
    ViSQOL (16 kHz speech mode; on music PESQ sits at its floor for every variant and ViSQOL
    decides); the stream names it as its default. Ties and unscorable clips keep the reference."""
    from ..metrics import score

    stream = decompress(data)
    heads = synthesize(stream, clip.sample_rate)
    reference = default_variant(len(heads))
    signal = clip.samples * np.float32(clip.peak_scale)
    quality = {}
    for v in allowed_variants(len(heads)):
        results = score(ref=signal, est=reconstruct(heads, clip.sample_rate, v), sample_rate=clip.sample_rate,
                        kind="speech", metrics=list(CHOICE_METRICS))
        if all(r.value is not None for r in results.values()):
            quality[v] = sum(r.value for r in results.values())
    if reference in quality:
        quality[reference] += 1e-9  # a tie keeps the reference
    return max(quality, key=quality.get) if quality else reference


def decode(data: bytes, sample_rate: int | None = None, variant: str | None = None, alpha: float = 2.0) -> Decoded:
    """Decode a bitstream to one signal at `sample_rate` (default: the clip's) by `variant`
    (default: the one the stream names, chosen by its encoder; for streams that name none, the
    reference decoder for the head count, see default_variant)."""
    stream = decompress(data)
    header = stream.header
    rate = sample_rate or header.sample_rate
    variant = variant or header.variant or default_variant(header.model.num_heads)
    return Decoded(reconstruct(synthesize(stream, rate), rate, variant, alpha), rate, variant, header)
