"""Synthesis: evaluate a decoded INR on a time grid at any sample rate."""

from __future__ import annotations

import numpy as np
import torch

from .bitstream import DecodedStream


def output_length(stream: DecodedStream, sample_rate: int | None) -> int:
    h = stream.header
    rate = sample_rate or h.sample_rate
    return h.num_samples if rate == h.sample_rate else max(1, int(round(h.num_samples * rate / h.sample_rate)))


@torch.no_grad()
def synthesize(stream: DecodedStream, sample_rate: int | None = None, chunk: int = 1 << 16) -> np.ndarray:
    """All heads' outputs at `sample_rate` (default: the clip's), level restored: (heads, M).

    Sample k of the output sits at k / sample_rate seconds, on the same time axis as the
    encoded clip (whose N samples span t = -1..1), so at twice the rate every other output
    sample falls exactly on an encoded one. Evaluated in chunks to bound memory.
    """
    if sample_rate is not None and sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    n = output_length(stream, sample_rate)
    t = time_axis(stream.header.num_samples, stream.header.sample_rate, n, sample_rate or stream.header.sample_rate)
    parts = [stream.model(t[i : i + chunk]) for i in range(0, n, chunk)]
    heads = torch.cat(parts).T.numpy().astype(np.float32)
    return heads * np.float32(stream.header.peak_scale)


def time_axis(num_samples: int, clip_rate: int, n: int, rate: int) -> torch.Tensor:
    """INR inputs (n, 1) of n samples at `rate` on the time axis of the encoded clip."""
    if rate == clip_rate:
        return torch.linspace(-1.0, 1.0, n).unsqueeze(-1)  # exactly the training grid
    seconds_per_unit = (num_samples - 1) / clip_rate / 2 if num_samples > 1 else 1.0
    k = torch.arange(n, dtype=torch.float64)
    return (-1.0 + k / rate / seconds_per_unit).float().unsqueeze(-1)
