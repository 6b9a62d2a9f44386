"""Evaluation summaries from the per-clip scores: tables (:mod:`.tables`), BD-rate (:mod:`.bdrate`),
figures (:mod:`.figures`), and the Markdown every report is written with (:mod:`.markdown`).

The table and BD-rate helpers are re-exported here; import :mod:`sirenpipe.evaluation.figures` for the plots (it
selects matplotlib's Agg backend on import).
"""

from .bdrate import bd_quality, bd_rate, bd_rate_markdown, bd_rate_table
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
)

__all__ = [
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "METRIC_COLUMNS",
    "axis_label",
    "bd_quality",
    "bd_rate",
    "bd_rate_markdown",
    "bd_rate_table",
    "ci95",
    "failed_rows",
    "ok_rows",
    "summarize",
    "summary_markdown",
]
