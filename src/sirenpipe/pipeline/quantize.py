"""Stage `quantize`: a fit's checkpoint -> the `.sirn` bitstream (encoder.api.encode_fitted: the
family freezes the fitted model and serializes it)."""

from __future__ import annotations

from ..atomic import write_bytes
from ..audio import load_clip
from ..encoder.api import encode_fitted
from ..families import budget_bytes
from .fit import load_checkpoint


def quantize_clip(checkpoint, clip_wav, ablation: dict, out_sirn) -> None:
    """Freeze the fitted model with the ablation's stream settings; the stream names the decoder
    variant closest to the clip at the ablation's alpha. An ablation with a target_kbps stays
    within it (the SIREN re-quantizes at fewer bits; the latent grid's fit already aimed there)."""
    fitted, _ = load_checkpoint(checkpoint)
    clip = load_clip(clip_wav)  # as the fit loaded it: the same samples and peak scale
    target = ablation.get("target_kbps")
    budget = budget_bytes(target, len(clip.samples), clip.sample_rate) if target else None
    encoded = encode_fitted(fitted, clip, ablation["quant"], budget, ablation["preset"], ablation["alpha"])
    write_bytes(out_sirn, encoded.data)
    settings = f", {encoded.stream_config}" if encoded.stream_config is not None else ""
    print(f"quantize: {len(encoded.data)} bytes, decoder variant {encoded.variant}{settings}")
