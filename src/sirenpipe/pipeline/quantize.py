"""Stage `quantize`: a fit's checkpoint -> the `.sirn` bitstream (codec.compress)."""

from __future__ import annotations

from ..codec import compress
from ..codec.quantize import QuantConfig
from .fit import load_checkpoint
from .io import write_bytes


def quantize_clip(checkpoint, ablation: dict, out_sirn) -> None:
    """Quantize the fitted model with the ablation's settings; the clip's peak scale, rate and
    length come from the checkpoint (the normalization the fit saw)."""
    model, clip = load_checkpoint(checkpoint)
    data = compress(model, sample_rate=clip["sample_rate"], num_samples=clip["num_samples"],
                    peak_scale=clip["peak_scale"], quant=QuantConfig(**ablation["quant"]), preset=ablation["preset"])
    write_bytes(out_sirn, data)
    print(f"quantize: {len(data)} bytes")
