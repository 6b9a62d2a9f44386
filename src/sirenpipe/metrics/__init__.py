"""Quality metrics for codec output, registered by name.

Every metric is called with keyword-only ``ref``, ``est``, ``sample_rate`` and ``kind``
("speech", "music" or "audio") and returns a :class:`MetricResult`; it never raises for a bad
pair (NaN/inf, length mismatch, < 0.25 s, silence, empty, or a failing metric library): the value
is then None and ``reason`` says why.

=============  =====================================================  ========================
name           what                                                   mode
=============  =====================================================  ========================
visqol         ViSQOL MOS-LQO (visqol-python)                         speech-16k-lattice / audio-48k
pesq           PESQ-WB P.862.2 (speech-only, computed for any kind)   wb-16k
stoi, estoi    (extended) STOI, pystoi                                10k-from-<rate>
snr            dB, capped at 100.0 for identical signals              <rate>
psnr           dB of [0,1]-scaled 16 kHz audio (COIN++), cap 100.0    [0,1]-16k
lsd            log-spectral distance, dB (lower is better)            <rate>
mel_distance   L1 of log-mel spectrograms (lower is better)           <rate>
cdpam          CDPAM distance, optional extra, off by default         22050
=============  =====================================================  ========================

Each metric is registered (``_registry.register``) with its direction, display label, unit and
decimals: :data:`METRIC_INFO`, which the tables and figures read. A new metric is one decorated
function in one of these modules (plus its name in the workflow schema's ``metrics`` enum).
"""

from __future__ import annotations

from typing import Iterable

from . import learned, perceptual, spectral  # noqa: F401  (register the metrics)
from ._registry import DEFAULT_METRICS, METRIC_INFO, METRICS, MetricInfo, MetricResult

__all__ = ["METRICS", "METRIC_INFO", "MetricInfo", "MetricResult", "available_metrics", "score"]


def available_metrics() -> list[str]:
    """All registered metric names: the default ones first, then the optional ones (``cdpam``)."""
    return DEFAULT_METRICS + [name for name in METRICS if name not in DEFAULT_METRICS]


def score(
    *, ref, est, sample_rate: int, kind: str = "speech", metrics: Iterable[str] | None = None
) -> dict[str, MetricResult]:
    """Score ``est`` against ``ref`` with the named metrics (default: all but cdpam).

    Never raises for bad signals; raises ValueError only for an unknown metric name.
    """
    names = list(DEFAULT_METRICS if metrics is None else [metrics] if isinstance(metrics, str) else metrics)
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; available: {available_metrics()}")
    return {n: METRICS[n](ref=ref, est=est, sample_rate=sample_rate, kind=kind) for n in names}
