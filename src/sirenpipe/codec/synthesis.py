"""Synthesis at any sample rate: an INR evaluated on a time grid (synthesize_model, the SIREN
family's decoder and any float model that was never quantized), and the polyphase resampling of
a model that renders only the clip's own samples (resample_heads, the latent grid's)."""

from __future__ import annotations

import numpy as np
import torch

from ..models import INR


def output_length(num_samples: int, clip_rate: int, sample_rate: int | None) -> int:
    """Samples of a clip of num_samples at clip_rate when rendered at sample_rate (default: clip_rate)."""
    rate = sample_rate or clip_rate
    return num_samples if rate == clip_rate else max(1, int(round(num_samples * rate / clip_rate)))


@torch.no_grad()
def synthesize_model(model: INR, num_samples: int, clip_rate: int, sample_rate: int | None = None,
                     peak_scale: float = 1.0, chunk: int = 1 << 16) -> np.ndarray:
    """All heads' outputs (heads, M) of an INR fitted to a clip of num_samples at clip_rate, at
    `sample_rate` (default: clip_rate), times peak_scale.

    Sample k of the output sits at k / sample_rate seconds, on the same time axis as the
    fitted clip (whose N samples span t = -1..1), so at twice the rate every other output
    sample falls exactly on a fitted one. Evaluated in chunks to bound memory.
    """
    if sample_rate is not None and sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    n = output_length(num_samples, clip_rate, sample_rate)
    t = time_axis(num_samples, clip_rate, n, sample_rate or clip_rate)
    model = model.eval()
    parts = [model(t[i : i + chunk]) for i in range(0, n, chunk)]
    heads = torch.cat(parts).T.cpu().numpy().astype(np.float32)
    return heads * np.float32(peak_scale)


def resample_heads(heads: np.ndarray, clip_rate: int, sample_rate: int | None, peak_scale: float = 1.0) -> np.ndarray:
    """Heads (heads, N) rendered at the clip's rate, at `sample_rate` (default: clip_rate; polyphase
    resampling), times peak_scale, as float32."""
    if sample_rate is not None and sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    heads = np.asarray(heads, dtype=np.float64)
    rate = sample_rate or clip_rate
    if rate != clip_rate:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(rate, clip_rate)
        num_samples = heads.shape[1]
        heads = resample_poly(heads, rate // g, clip_rate // g, axis=1)[:, : output_length(num_samples, clip_rate, rate)]
    return heads.astype(np.float32) * np.float32(peak_scale)


def time_axis(num_samples: int, clip_rate: int, n: int, rate: int) -> torch.Tensor:
    """INR inputs (n, 1) of n samples at `rate` on the time axis of the encoded clip."""
    if rate == clip_rate:
        return torch.linspace(-1.0, 1.0, n).unsqueeze(-1)  # exactly the training grid
    seconds_per_unit = (num_samples - 1) / clip_rate / 2 if num_samples > 1 else 1.0
    k = torch.arange(n, dtype=torch.float64)
    return (-1.0 + k / rate / seconds_per_unit).float().unsqueeze(-1)
