"""Stage `paper_comparison`: the paper's values beside ours (Parquet + Markdown) and RESULTS.md
(written under results/; docs/paper.md says how to publish it). The paper's logic is in
evaluation/paper.py."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import __version__
from ..evaluation.paper import (
    compare_with_paper,
    comparison_markdown,
    describe_run,
    paper_differences,
    results_markdown,
)
from ..atomic import write_parquet
from ..atomic import write_text


def paper_comparison(scores_path, summary_md, run_config: dict, started_files: list, out_parquet, out_markdown,
                     out_results) -> None:
    """started_files: the run's first outputs (the prepared clips' metadata): the wall time
    runs from the oldest of them to the scores table."""
    scores = pd.read_parquet(scores_path)
    comparison = compare_with_paper(scores)
    write_parquet(comparison, out_parquet)
    write_text(out_markdown, comparison_markdown(comparison))
    start = min(Path(f).stat().st_mtime for f in started_files)
    end = Path(scores_path).stat().st_mtime
    run = {"description": describe_run(run_config, scores), "differences": paper_differences(run_config, scores),
           "wall_time": f"{(end - start) / 60:.1f} min from the first prepared clip to the final table",
           "version": __version__}
    write_text(out_results, results_markdown(comparison, Path(summary_md).read_text(), run))
