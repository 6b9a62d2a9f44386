"""Stage `quantize`: a fit's checkpoint -> the `.sirn` bitstream (encoder.api.compress_within)."""

from __future__ import annotations

from ..atomic import write_bytes
from ..audio import load_clip
from ..codec.quantize import QuantConfig
from ..encoder.api import compress_within
from ..encoder.ratecontrol import budget_bytes
from .fit import load_checkpoint


def quantize_clip(checkpoint, clip_wav, ablation: dict, out_sirn) -> None:
    """Quantize the fitted model with the ablation's settings; the stream names the decoder
    variant closest to the clip at the ablation's alpha. An ablation with a target_kbps is re-quantized at fewer bits
    if its stream is over the target."""
    model, _ = load_checkpoint(checkpoint)
    clip = load_clip(clip_wav)  # as the fit loaded it: the same samples and peak scale
    target = ablation.get("target_kbps")
    budget = budget_bytes(target, len(clip.samples), clip.sample_rate) if target else None
    quant = QuantConfig(**ablation["quant"])
    data, used, variant = compress_within(model, clip, quant, budget, preset=ablation["preset"], alpha=ablation["alpha"])
    write_bytes(out_sirn, data)
    lowered = f", re-quantized from {quant.bits} bits to fit {budget} bytes" if used.bits != quant.bits else ""
    print(f"quantize: {len(data)} bytes at {used.bits} bits, decoder variant {variant}{lowered}")
