"""Stage `collect`: every per-clip table (and the clips that could not be used) -> scores.parquet,
the summary (Parquet and Markdown)."""

from __future__ import annotations

import pandas as pd

from ..atomic import write_parquet, write_text
from ..evaluation.tables import failed_rows, summarize, summary_markdown
from .rows import failure_row


def failure_rows(failures: list[dict]) -> pd.DataFrame:
    """Rows naming clips that could not be read (found at workflow parse time)."""
    return pd.DataFrame([failure_row(f) for f in failures])


def collect_tables(score_files: list, failures: list[dict], out_scores, out_summary, out_markdown) -> None:
    parts = [pd.read_parquet(f) for f in score_files]
    if failures:
        parts.append(failure_rows(failures))
    scores = pd.concat(parts, ignore_index=True)
    summary = summarize(scores)
    write_parquet(scores, out_scores)
    write_parquet(summary, out_summary)
    write_text(out_markdown, summary_markdown(summary, failed_rows(scores)))
    print(f"collect: {len(scores)} rows ({len(failures)} failed clips), {len(summary)} summary rows")
