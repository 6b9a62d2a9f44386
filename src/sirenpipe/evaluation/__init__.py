"""Evaluation summaries: tables (:mod:`.tables`) and figures (:mod:`.figures`) from the per-clip scores.

The table helpers are re-exported here; import :mod:`sirenpipe.evaluation.figures` for the plots (it
selects matplotlib's Agg backend on import).
"""

from .tables import (
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    METRIC_COLUMNS,
    axis_label,
    ci95,
    failed_rows,
    ok_rows,
    summarize,
    summary_markdown,
    write_parquet_atomic,
)

__all__ = [
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "METRIC_COLUMNS",
    "axis_label",
    "ci95",
    "failed_rows",
    "ok_rows",
    "summarize",
    "summary_markdown",
    "write_parquet_atomic",
]
