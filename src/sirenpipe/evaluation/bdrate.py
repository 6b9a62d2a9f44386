"""Bjøntegaard delta rate and quality between rate–quality curves, and the BD-rate table of a score table.

``bd_rate`` is the mean log-rate difference of two curves over the quality range both cover, as a
percentage (VCEG-M33; "pchip" is the piecewise-cubic variant of the JVET/AV1 tools). Quality is
"higher is better"; negate a lower-is-better metric first (``bd_rate_table`` does).

Each curve is first reduced to its efficient points (:func:`efficient_points`): non-finite points and
rates <= 0 are dropped, then every point that another point matches or beats in quality at no more
rate. What is left is strictly increasing in both rate and quality. Too few points left (pchip: 2,
cubic: 4) raise ValueError; curves whose quality ranges do not overlap give NaN.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator

from ..baselines import CODECS
from ..metrics import METRIC_INFO
from . import markdown as md
from .tables import VARIANT_ORDER, axis_label, numeric, ok_rows

__all__ = [
    "BD_METRICS",
    "METHODS",
    "bd_quality",
    "bd_rate",
    "bd_rate_markdown",
    "bd_rate_table",
    "curve_labels",
    "curve_points",
    "curve_variants",
    "efficient_points",
]

METHODS = {"pchip": 2, "cubic": 4}  # method -> fewest points it needs
BD_METRICS = ("pesq", "visqol", "psnr")


# ------------------------------------------------------------------------------------------ BD-rate
def efficient_points(rate, quality) -> tuple[np.ndarray, np.ndarray]:
    """(rate, quality) of the curve's efficient points, both strictly increasing (see the module doc)."""
    r, q = np.asarray(rate, dtype=float).ravel(), np.asarray(quality, dtype=float).ravel()
    if r.shape != q.shape:
        raise ValueError(f"{r.size} rates but {q.size} quality values")
    keep = np.isfinite(r) & np.isfinite(q) & (r > 0)
    r, q = r[keep], q[keep]
    kept, lowest = [], math.inf
    for i in np.lexsort((r, -q)):  # best quality first, the lower rate first among equals
        if r[i] < lowest:
            kept.append(i)
            lowest = r[i]
    kept.reverse()
    return r[kept], q[kept]


def _mean_value(x: np.ndarray, y: np.ndarray, lo: float, hi: float, method: str) -> float:
    """Mean over [lo, hi] of y(x), interpolated (pchip) or fitted (cubic polynomial, centred x)."""
    if method == "pchip":
        return float(PchipInterpolator(x, y).integrate(lo, hi)) / (hi - lo)
    centre = x.mean()
    antiderivative = np.polyint(np.polyfit(x - centre, y, 3))
    return float(np.polyval(antiderivative, hi - centre) - np.polyval(antiderivative, lo - centre)) / (hi - lo)


def _curves(rate_ref, quality_ref, rate_test, quality_test, method: str):
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    curves = efficient_points(rate_ref, quality_ref), efficient_points(rate_test, quality_test)
    for label, (r, _) in zip(("reference", "test"), curves):
        if r.size < METHODS[method]:
            raise ValueError(f"too few points: {label} has {r.size}, {method} needs {METHODS[method]}")
    return curves


def bd_rate(rate_ref, quality_ref, rate_test, quality_test, method: str = "pchip") -> float:
    """Bjøntegaard delta rate in percent: the test curve's bitrate change at equal quality, averaged
    (in log rate) over the overlapping quality range; negative = the test needs fewer bits.

    ``method``: "pchip" (piecewise cubic Hermite interpolation of log rate against quality, >= 2
    points) or "cubic" (least-squares cubic, VCEG-M33, >= 4 points). NaN when the quality ranges
    do not overlap; ValueError for too few points or an unknown method.
    """
    (r0, q0), (r1, q1) = _curves(rate_ref, quality_ref, rate_test, quality_test, method)
    lo, hi = max(q0[0], q1[0]), min(q0[-1], q1[-1])
    if not hi > lo:
        return math.nan
    delta = _mean_value(q1, np.log(r1), lo, hi, method) - _mean_value(q0, np.log(r0), lo, hi, method)
    return 100.0 * math.expm1(delta)


def bd_quality(rate_ref, quality_ref, rate_test, quality_test, method: str = "pchip") -> float:
    """Bjøntegaard delta quality: the test curve's mean quality change at equal rate over the
    overlapping log-rate range (positive = better). Same methods, NaN and errors as :func:`bd_rate`."""
    (r0, q0), (r1, q1) = _curves(rate_ref, quality_ref, rate_test, quality_test, method)
    x0, x1 = np.log(r0), np.log(r1)
    lo, hi = max(x0[0], x1[0]), min(x0[-1], x1[-1])
    if not hi > lo:
        return math.nan
    return _mean_value(x1, q1, lo, hi, method) - _mean_value(x0, q0, lo, hi, method)


# ----------------------------------------------------------------------------------- the score table
def curve_labels(scores: pd.DataFrame) -> pd.Series:
    """The rate–quality curve of each row: its ``curve`` value, else the codec name for a classical
    codec's row (``arch`` in CODECS), else None (an ablation on no curve)."""
    none = pd.Series(None, index=scores.index, dtype=object)
    curve = scores["curve"].astype(object) if "curve" in scores.columns else none
    codec = scores["arch"].astype(object) if "arch" in scores.columns else none
    codec = codec.where(codec.isin(list(CODECS)), None)
    return curve.where(curve.notna(), codec).where(lambda c: c.notna(), None)


def curve_points(scores: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean kbps and mean ``metric`` per point of each curve, over the "ok" rows with both finite.

    A point is one ablation × variant of an INR curve, or one level (preset) of a classical codec
    (variant None). Columns: dataset, kind, curve, variant, point, kbps, quality, n, target_kbps.
    """
    columns = ["dataset", "kind", "curve", "variant", "point", "kbps", "quality", "n", "target_kbps"]
    ok = ok_rows(scores)
    if metric not in ok.columns or "kbps" not in ok.columns:
        return pd.DataFrame(columns=columns)
    codec = ok["arch"].isin(list(CODECS)) if "arch" in ok.columns else pd.Series(False, index=ok.index)

    def get(name: str) -> pd.Series:
        return ok[name].astype(object) if name in ok.columns else pd.Series(None, index=ok.index, dtype=object)

    rows = pd.DataFrame(
        {
            "dataset": get("dataset"),
            "kind": get("kind"),
            "curve": curve_labels(ok),
            "variant": get("variant").where(~codec, None),
            "point": get("preset").where(codec, get("ablation")),
            "kbps": numeric(ok["kbps"]),
            "quality": numeric(ok[metric]),
            "target_kbps": numeric(ok["target_kbps"]) if "target_kbps" in ok.columns else math.nan,
        }
    )
    rows = rows[rows["curve"].notna() & rows["kbps"].notna() & rows["quality"].notna()]
    keys = ["dataset", "kind", "curve", "variant", "point"]
    points = rows.groupby(keys, sort=False, dropna=False).agg(
        kbps=("kbps", "mean"), quality=("quality", "mean"), n=("kbps", "size"), target_kbps=("target_kbps", "first")
    )
    return points.reset_index()[columns]


def _best_variant(points: pd.DataFrame, sign: float):
    """The variant of a curve with the most points, then the best mean quality, then the paper's order."""
    rank = {v: i for i, v in enumerate(VARIANT_ORDER)}
    variants = points["variant"].fillna("")  # a codec's points have none
    stats = [
        (-len(g), -sign * g["quality"].mean(), rank.get(v, len(rank)), i, v)
        for i, (v, g) in enumerate(points.groupby(variants, sort=False))
    ]
    variant = min(stats)[-1]
    return variant or None, points[variants == variant]


def curve_variants(scores: pd.DataFrame, metrics=None) -> pd.DataFrame:
    """The decoder variant :func:`bd_rate_table` uses for each curve, per dataset and metric (None for
    a codec's curve; see :func:`_best_variant`). Columns: dataset, kind, metric, curve, variant, points."""
    rows = []
    for metric in BD_METRICS if metrics is None else metrics:
        sign = _sign(metric)
        points = curve_points(scores, metric)
        for (dataset, kind), group in points.groupby(["dataset", "kind"], sort=False, dropna=False):
            for name, g in group.groupby("curve", sort=False):
                variant, own = _best_variant(g, sign)
                rows.append(
                    dict(dataset=dataset, kind=kind, metric=metric, curve=name, variant=variant, points=len(own))
                )
    columns = ["dataset", "kind", "metric", "curve", "variant", "points"]
    return pd.DataFrame(rows, columns=columns).astype({"points": "int64"})


def _sign(metric: str) -> float:
    """+1 for a higher-is-better metric (or an unknown one), -1 for a lower-is-better one."""
    return 1.0 if metric not in METRIC_INFO or METRIC_INFO[metric].higher_is_better else -1.0


def bd_rate_table(
    scores: pd.DataFrame,
    metrics=None,
    reference_curves=("opus",),
    method: str = "pchip",
) -> pd.DataFrame:
    """BD-rate (and BD-quality) of every curve against every reference curve, per dataset and metric.

    Curves come from :func:`curve_labels` (ablations on no curve are left out); points from
    :func:`curve_points`. An INR curve uses one decoder variant: the one with the most points, then
    the best mean quality over its points (column ``variant``). ``metrics`` defaults to
    :data:`BD_METRICS`; those without values are skipped. One row per dataset × metric × curve ×
    reference (a curve is not compared with itself): dataset, kind, metric, curve, variant, points,
    reference, reference_variant, reference_points, quality_low, quality_high (the overlap, in the
    metric's units), bd_rate_pct, bd_quality (metric units, positive = higher values), method,
    reason (why bd_rate_pct is NaN, else None).
    """
    columns = [
        "dataset",
        "kind",
        "metric",
        "curve",
        "variant",
        "points",
        "reference",
        "reference_variant",
        "reference_points",
        "quality_low",
        "quality_high",
        "bd_rate_pct",
        "bd_quality",
        "method",
        "reason",
    ]
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    references = list(dict.fromkeys(reference_curves))
    rows = []
    for metric in BD_METRICS if metrics is None else metrics:
        sign = _sign(metric)
        points = curve_points(scores, metric)
        for (dataset, kind), group in points.groupby(["dataset", "kind"], sort=False, dropna=False):
            curves = {name: _best_variant(g, sign) for name, g in group.groupby("curve", sort=False)}
            order = [c for c in references if c in curves] + [c for c in curves if c not in references]
            for name in order:
                variant, own = curves[name]
                for ref in references:
                    if ref == name:
                        continue
                    row = dict(
                        dataset=dataset,
                        kind=kind,
                        metric=metric,
                        curve=name,
                        variant=variant,
                        points=len(own),
                        reference=ref,
                        reference_variant=None,
                        reference_points=0,
                        quality_low=math.nan,
                        quality_high=math.nan,
                        bd_rate_pct=math.nan,
                        bd_quality=math.nan,
                        method=method,
                        reason=None,
                    )
                    if ref not in curves:
                        row["reason"] = "no reference points"
                    else:
                        row["reference_variant"], other = curves[ref]
                        row["reference_points"] = len(other)
                        row.update(_compare(other, own, sign, method))
                    rows.append(row)
    table = pd.DataFrame(rows, columns=columns).astype({"points": "int64", "reference_points": "int64"})
    datasets = {d: i for i, d in enumerate(dict.fromkeys(table["dataset"]))}
    return table.sort_values("dataset", key=lambda d: d.map(datasets), kind="stable").reset_index(drop=True)


def _compare(ref: pd.DataFrame, test: pd.DataFrame, sign: float, method: str) -> dict:
    args = (ref["kbps"], sign * ref["quality"], test["kbps"], sign * test["quality"])
    try:
        rate, quality = bd_rate(*args, method=method), sign * bd_quality(*args, method=method)
    except ValueError as exc:
        return {"reason": str(exc)}
    if math.isnan(rate):
        return {"reason": "no overlap"}
    (_, q0), (_, q1) = efficient_points(*args[:2]), efficient_points(*args[2:])
    low, high = sorted((sign * max(q0[0], q1[0]), sign * min(q0[-1], q1[-1])))
    return {"bd_rate_pct": rate, "bd_quality": quality, "quality_low": low, "quality_high": high}


def bd_rate_markdown(table: pd.DataFrame) -> str:
    """Markdown: one table per dataset × metric, a row per curve, a column per reference curve
    ("+12.3 %"; "n/a (reason)" where there is no BD-rate; "—" against itself)."""
    method = table["method"].iloc[0] if len(table) else "pchip"
    lines = [
        "## BD-rate",
        "",
        "Bitrate change of each curve against each reference curve at equal quality, averaged in log rate "
        f"over the quality range both cover (Bjøntegaard delta rate, {method}); negative = fewer bits than "
        "the reference. A point is one ablation (INR curves, with the variant named) or one codec level.",
    ]
    if table.empty:
        return "\n".join(lines + ["", "No curves to compare."]) + "\n"
    refs = set(table["reference"])  # in the table's order: the reference curves come first as curves
    references = [c for c in dict.fromkeys([*table["curve"], *table["reference"]]) if c in refs]
    for (dataset, kind, metric), group in table.groupby(["dataset", "kind", "metric"], sort=False, dropna=False):
        lines += ["", f"### {md.escape(dataset)} ({md.escape(kind)}): {axis_label(metric)}", ""]
        body = []
        for curve, rows in group.groupby("curve", sort=False):
            first = rows.iloc[0]
            cells = []
            for ref in references:
                match = rows[rows["reference"] == ref]
                if ref == curve or match.empty:
                    cells.append("—")
                elif np.isfinite(match["bd_rate_pct"].iloc[0]):
                    cells.append(f"{match['bd_rate_pct'].iloc[0]:+.1f} %")
                else:
                    cells.append(f"n/a ({md.escape(match['reason'].iloc[0])})")
            body.append([md.escape(curve), md.escape(first["variant"]), str(first["points"])] + cells)
        header = ["Curve", "Variant", "Points"] + [f"vs {md.escape(r)}" for r in references]
        lines += md.table(header, body, ["l", "l", "r"] + ["r"] * len(references))
    return "\n".join(lines) + "\n"
