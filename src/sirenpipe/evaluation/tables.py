"""Summary tables from the per-clip score rows (one row per clip × ablation × decoder variant).

``summarize`` turns the combined ``scores.parquet`` table into one row per dataset × kind × ablation ×
variant with the mean and a Student-t 95 % confidence half-width per metric; ``summary_markdown``
renders it (plus the failed clips) for a report.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ..codec.variants import VARIANTS
from ..metrics import METRIC_INFO, available_metrics
from . import markdown as md

__all__ = [
    "GROUP_KEYS",
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "METRIC_COLUMNS",
    "METRIC_LABELS",
    "VARIANT_ORDER",
    "axis_label",
    "ci95",
    "failed_rows",
    "numeric",
    "ok_rows",
    "summarize",
    "summary_markdown",
    "summary_metrics",
]

# Metric names, directions, labels and decimals come from the metric registry (metrics/*.py);
# these are views of it, in the registry's order (default metrics first, then optional ones).
METRIC_COLUMNS: list[str] = available_metrics()
HIGHER_IS_BETTER: set[str] = {m for m, info in METRIC_INFO.items() if info.higher_is_better}
LOWER_IS_BETTER: set[str] = {m for m, info in METRIC_INFO.items() if not info.higher_is_better}
# Display name and unit (None = unitless) of each metric.
METRIC_LABELS: dict[str, tuple[str, str | None]] = {m: (info.label, info.unit) for m, info in METRIC_INFO.items()}

GROUP_KEYS: list[str] = ["dataset", "kind", "ablation", "variant"]
# Decoder variants in their vocabulary's order; any other value (e.g. a classical codec's level) sorts after them.
VARIANT_ORDER: list[str] = list(VARIANTS)


def arrow(metric: str) -> str:
    """ "↑" (higher is better), "↓" (lower is better) or "" for an unknown column."""
    return METRIC_INFO[metric].arrow if metric in METRIC_INFO else ""


def axis_label(metric: str) -> str:
    """Axis/column label with unit and direction, e.g. "ViSQOL MOS ↑", "SNR (dB) ↑", "LSD (dB) ↓"."""
    return METRIC_INFO[metric].axis_label() if metric in METRIC_INFO else metric


def ci95(values) -> float:
    """Half-width of the Student-t 95 % confidence interval of the mean of the finite ``values``.

    t.ppf(0.975, n-1) · std(ddof=1) / sqrt(n); NaN when fewer than two finite values.
    """
    x = np.asarray(pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce"), dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    if n < 2:
        return math.nan
    return float(stats.t.ppf(0.975, n - 1) * np.std(x, ddof=1) / math.sqrt(n))


def ok_rows(scores: pd.DataFrame) -> pd.DataFrame:
    """Rows with status "ok" (all rows when there is no status column)."""
    if "status" not in scores.columns:
        return scores
    return scores[scores["status"].astype("object").eq("ok")]


def failed_rows(scores: pd.DataFrame) -> pd.DataFrame:
    """Rows whose status is not "ok" (failed, or missing status); empty without a status column."""
    if "status" not in scores.columns:
        return scores.iloc[0:0]
    return scores[~scores["status"].astype("object").eq("ok")]


def numeric(column: pd.Series) -> pd.Series:
    """Float view of a column that may be object-typed (all None) or nullable; non-finite -> NaN."""
    values = pd.to_numeric(column, errors="coerce").astype(float)
    return values.where(np.isfinite(values))


def _first_valid(column: pd.Series):
    valid = column.dropna()
    return valid.iloc[0] if len(valid) else None


def _order(values: pd.Series, preferred: list[str] | None = None) -> pd.Series:
    """Rank of each value: preferred values first (in that order), then others by first appearance."""
    seen: list = list(preferred or [])
    for value in values:
        if value not in seen:
            seen.append(value)
    rank = {value: i for i, value in enumerate(seen)}
    return values.map(lambda v: rank[v])


def summarize(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset × kind × ablation × variant over the rows with status "ok".

    Columns: dataset, kind, ablation, variant, ``n`` (clips), ``kbps_mean``, ``bytes_mean``,
    ``params`` (first non-null in the group), then for each metric M of :data:`METRIC_COLUMNS` that has
    at least one non-null value: ``M_mean``, ``M_ci95`` (Student-t half-width over the non-null values,
    NaN when fewer than two) and ``M_n`` (number of non-null values); finally ``visqol_mode`` (the first
    non-null ``visqol_mode`` of the group, None if none). Groups keep the table's order of datasets and
    ablations; variants follow :data:`VARIANT_ORDER`, then any other name.
    """
    ok = ok_rows(scores).copy()
    for key in GROUP_KEYS:
        if key not in ok.columns:
            ok[key] = None
    metrics = [m for m in METRIC_COLUMNS if m in ok.columns and numeric(ok[m]).notna().any()]
    for m in metrics:
        ok[m] = numeric(ok[m])
    for column in ("kbps", "bytes"):
        ok[column] = numeric(ok[column]) if column in ok.columns else np.nan

    rows = []
    for keys, group in ok.groupby(GROUP_KEYS, sort=False, dropna=False):
        row = dict(zip(GROUP_KEYS, keys))
        row["n"] = len(group)
        row["kbps_mean"] = group["kbps"].mean()
        row["bytes_mean"] = group["bytes"].mean()
        row["params"] = _first_valid(group["params"]) if "params" in group.columns else None
        for m in metrics:
            values = group[m].dropna()
            row[f"{m}_mean"] = values.mean() if len(values) else math.nan
            row[f"{m}_ci95"] = ci95(values)
            row[f"{m}_n"] = len(values)
        row["visqol_mode"] = _first_valid(group["visqol_mode"]) if "visqol_mode" in group.columns else None
        rows.append(row)

    columns = GROUP_KEYS + ["n", "kbps_mean", "bytes_mean", "params"]
    columns += [f"{m}_{s}" for m in metrics for s in ("mean", "ci95", "n")] + ["visqol_mode"]
    summary = pd.DataFrame(rows, columns=columns)
    summary["n"] = summary["n"].astype("int64")
    summary["params"] = pd.array(pd.to_numeric(summary["params"], errors="coerce"), dtype="Int64")
    for m in metrics:
        summary[f"{m}_n"] = summary[f"{m}_n"].astype("int64")
    if summary.empty:
        return summary

    order = pd.DataFrame(
        {
            "dataset": _order(summary["dataset"]),
            "ablation": _order(summary["ablation"]),
            "variant": _order(summary["variant"], VARIANT_ORDER),
        }
    )
    index = order.sort_values(["dataset", "ablation", "variant"], kind="stable").index
    return summary.loc[index].reset_index(drop=True)


def summary_metrics(summary: pd.DataFrame) -> list[str]:
    """Metrics of :data:`METRIC_COLUMNS` present in a summary (``M_mean`` columns), in that order."""
    return [m for m in METRIC_COLUMNS if f"{m}_mean" in summary.columns]


def summary_markdown(summary: pd.DataFrame, failed: pd.DataFrame | None = None) -> str:
    """Markdown report: the summary table ("mean ± 95 % CI" per metric), a legend, and the failed clips.

    ``failed`` may be the failed rows or the whole scores table (rows with status "ok" are ignored).
    A metric cell shows "(n=k)" when only k of the group's clips have a value, "—" when none do.
    """
    lines = ["## Summary", ""]
    metrics = summary_metrics(summary)
    if summary.empty:
        lines.append("No successfully scored clips.")
    else:
        header = ["Dataset", "Kind", "Ablation", "Variant", "n", "kbps", "Params"] + [axis_label(m) for m in metrics]
        align = ["l", "l", "l", "l", "r", "r", "r"] + ["r"] * len(metrics)
        rows = []
        for _, row in summary.iterrows():
            rows.append(
                [md.escape(row[k]) for k in ("dataset", "kind", "ablation", "variant")]
                + [
                    str(int(row["n"])),
                    md.number(row["kbps_mean"], 1),
                    md.integer(row.get("params")),
                ]
                + [md.cell(row, m) for m in metrics]
            )
        lines += md.table(header, rows, align)
        lines.append("")
        up = ", ".join(axis_label(m).rstrip(" ↑") for m in metrics if m in HIGHER_IS_BETTER)
        down = ", ".join(axis_label(m).rstrip(" ↓") for m in metrics if m in LOWER_IS_BETTER)
        legend = ["mean ± 95 % CI half-width (Student t) over clips"]
        if up:
            legend.append(f"↑ higher is better: {up}")
        if down:
            legend.append(f"↓ lower is better: {down}")
        lines.append("Legend: " + "; ".join(legend) + ".")
        if "visqol" in metrics and "visqol_mode" in summary.columns:
            modes = summary.dropna(subset=["visqol_mode"]).groupby("dataset", sort=False)["visqol_mode"]
            described = [f"{md.escape(d)}: {', '.join(dict.fromkeys(m))}" for d, m in modes]
            lines.append("ViSQOL mode: " + ("; ".join(described) if described else "not recorded") + ".")

    failed = failed_rows(failed) if failed is not None else None
    if failed is not None and len(failed):
        lines += ["", f"## Failed clips ({len(failed)})", ""]
        keys = [k for k in ("dataset", "clip", "ablation", "variant") if k in failed.columns]
        header = [k.capitalize() for k in keys] + ["Error"]
        rows = [
            [md.escape(row[k]) for k in keys] + [md.escape(row.get("error"), limit=300)]
            for _, row in failed.iterrows()
        ]
        lines += md.table(header, rows, ["l"] * len(header))
    return "\n".join(lines) + "\n"

