"""Stage `rate_distortion`: the BD-rate table (Parquet + Markdown) and results/RATE_DISTORTION.md
from the score table. The table is computed in evaluation/bdrate.py, the document written in
evaluation/rd_report.py; this module reads the inputs and writes the outputs."""

from __future__ import annotations

import pandas as pd

from .. import __version__
from ..atomic import write_parquet, write_text
from ..errors import SirenpipeError
from ..evaluation.bdrate import bd_rate_markdown, bd_rate_table
from ..evaluation.rd_report import rate_distortion_markdown, snakemake_command


def write_rate_distortion(scores_path, settings: dict, out_parquet, out_markdown, out_document=None, *,
                          run_config: dict | None = None, configfiles=(), version: str = __version__) -> pd.DataFrame:
    """bd_rate.{parquet,md} from the config's ``rate_distortion`` section (reference curves, metrics,
    method) and, when ``out_document`` is given, RATE_DISTORTION.md; ``configfiles``: the run's
    ``--configfile`` paths, for the command the document shows. Returns the BD-rate table."""
    if not settings or not settings.get("reference_curves"):
        raise SirenpipeError("rate_distortion: the config names no reference_curves")
    scores = pd.read_parquet(scores_path)
    table = bd_rate_table(scores, settings.get("metrics"), settings["reference_curves"], settings.get("method", "pchip"))
    write_parquet(table, out_parquet)
    write_text(out_markdown, bd_rate_markdown(table))
    print(f"rate_distortion: {len(table)} comparisons, {int(table['bd_rate_pct'].notna().sum())} with a BD-rate")
    if out_document is not None:
        command = snakemake_command(configfiles)
        write_text(out_document, rate_distortion_markdown(scores, table, settings, run_config, command, version))
        print(f"rate_distortion: wrote {out_document}")
    return table
