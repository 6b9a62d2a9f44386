"""The metric registry: result type, shared input validation, and the registering decorator."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Callable

import numpy as np

KINDS = ("speech", "music", "audio")
MIN_SECONDS = 0.25


@dataclasses.dataclass(frozen=True)
class MetricResult:
    """One score. ``value`` is None when the pair cannot be scored; ``reason`` then says why.

    ``mode`` records how it was computed (rate, variant, mapping), e.g. "speech-16k-lattice".
    """

    name: str
    value: float | None
    reason: str | None = None
    mode: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class Unscorable(Exception):
    """Raised inside a metric when a pair cannot be scored; the message becomes the reason verbatim."""


@dataclasses.dataclass(frozen=True)
class MetricInfo:
    """How a metric is read: its direction, display name, unit (None: unitless) and the decimals
    tables show it with."""

    name: str
    higher_is_better: bool
    label: str
    unit: str | None = None
    decimals: int = 2

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    def axis_label(self) -> str:
        """Label with unit and direction, e.g. "ViSQOL MOS ↑", "SNR (dB) ↑", "LSD (dB) ↓"."""
        label = f"{self.label} ({self.unit})" if self.unit else self.label
        return f"{label} {self.arrow}"


MetricFn = Callable[..., MetricResult]
METRICS: dict[str, MetricFn] = {}
METRIC_INFO: dict[str, MetricInfo] = {}
DEFAULT_METRICS: list[str] = []


def check_params(sample_rate, kind) -> None:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral) or sample_rate <= 0:
        raise Unscorable(f"sample_rate must be a positive integer, got {sample_rate!r}")
    if kind not in KINDS:
        raise Unscorable(f"kind must be one of {KINDS}, got {kind!r}")


def as_signal(x, label: str) -> np.ndarray:
    """Convert one input to a contiguous 1-D float64 array or raise Unscorable."""
    try:
        x = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise Unscorable(f"{label} is not a numeric array: {exc}") from None
    if x.ndim != 1:
        raise Unscorable(f"{label} must be a 1-D mono signal, got shape {x.shape}")
    if x.size == 0:
        raise Unscorable(f"{label} is empty")
    bad = np.count_nonzero(~np.isfinite(x))
    if bad:
        raise Unscorable(f"{label} contains NaN or inf ({bad} of {x.size} samples)")
    return x


def prepare_pair(ref, est, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Shared validation run before every metric; raises Unscorable with a readable reason."""
    ref, est = as_signal(ref, "ref"), as_signal(est, "est")
    if ref.size != est.size:
        raise Unscorable(f"length mismatch: ref has {ref.size} samples, est has {est.size}")
    seconds = ref.size / sample_rate
    if seconds < MIN_SECONDS:
        raise Unscorable(
            f"too short: {ref.size} samples = {seconds:.3f} s at {sample_rate} Hz (need >= {MIN_SECONDS} s)"
        )
    for label, x in (("ref", ref), ("est", est)):
        if not np.any(x):
            raise Unscorable(f"{label} is silent (all zeros)")
    return ref, est


def register(
    name: str,
    *,
    mode: str | Callable[[int, str], str],
    higher_is_better: bool,
    label: str,
    unit: str | None = None,
    decimals: int = 2,
    default: bool = True,
):
    """Register ``compute(ref, est, sample_rate, kind) -> float`` as metric ``name``.

    The registered function takes keyword-only ``ref, est, sample_rate, kind`` and never raises:
    invalid input, library exceptions and non-finite values become ``value=None`` with a reason.
    ``mode`` is a string or a function of ``(sample_rate, kind)``. ``higher_is_better``,
    ``label``, ``unit`` and ``decimals`` tell tables and figures how to show it (METRIC_INFO);
    ``default=False`` leaves it out of the metrics scored when none are named.
    """
    info = MetricInfo(name, bool(higher_is_better), label, unit, int(decimals))
    mode_of = mode if callable(mode) else (lambda sample_rate, kind: mode)

    def decorate(compute: Callable[[np.ndarray, np.ndarray, int, str], float]) -> MetricFn:
        def metric(*, ref, est, sample_rate: int, kind: str = "speech") -> MetricResult:
            result_mode = None
            try:
                check_params(sample_rate, kind)
                sample_rate = int(sample_rate)
                result_mode = mode_of(sample_rate, kind)
                value = float(compute(*prepare_pair(ref, est, sample_rate), sample_rate, kind))
            except Unscorable as exc:
                return MetricResult(name, None, str(exc), result_mode)
            except Exception as exc:  # a metric library failed on this pair
                return MetricResult(name, None, f"{type(exc).__name__}: {exc}", result_mode)
            if not math.isfinite(value):
                return MetricResult(name, None, f"{name} returned a non-finite value ({value})", result_mode)
            return MetricResult(name, value, None, result_mode)

        metric.__name__ = metric.__qualname__ = name
        metric.__doc__ = compute.__doc__
        METRICS[name] = metric
        METRIC_INFO[name] = info
        if default:
            DEFAULT_METRICS.append(name)
        return metric

    return decorate
