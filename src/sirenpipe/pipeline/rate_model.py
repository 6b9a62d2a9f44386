"""Stage `rate_model`: the sweep's scores -> rate control's model (encoder.rate_model, its schema).

Each model family measures its own rows from the score rows of its curves (ModelFamily.rate_rows:
the SIREN's recipes at each model size, the latent grid's presets at each rate target). The
provenance comes from the same rows: the presets, the clip duration and rate, the clips, and each
family's fit budget.
"""

from __future__ import annotations

import datetime

import pandas as pd

from ..encoder.rate_model import SELECT_BY, write_rate_model
from ..errors import SirenpipeError
from ..evaluation.rd_report import snakemake_command
from ..families import FAMILIES
from ..families.base import QUALITY_COLUMNS

FIT_BUDGET = ("steps", "batch_size", "lr", "seed")  # the fit settings the provenance names, where a family has them


def rate_model(scores: pd.DataFrame) -> list[dict]:
    """Every family's rows of the rate model, each with its family's columns and the quality columns."""
    return [{"family": name, **{k: row[k] for k in (*family.rate_columns, *QUALITY_COLUMNS, "clips")}}
            for name, family in FAMILIES.items() for row in family.rate_rows(scores)]


def provenance(scores: pd.DataFrame, families, source: str) -> dict:
    """What the rate model was measured with (the score rows its families' rows come from): presets,
    clip duration and rate, clips, each family's fit budget."""
    rows = pd.concat([FAMILIES[name].rate_sources(scores).assign(family=name) for name in families])

    def distinct(frame, column):
        values = {v.item() if hasattr(v, "item") else v for v in frame[column].dropna()} if column in frame else set()
        return sorted(int(v) if isinstance(v, float) and v.is_integer() else v for v in values)  # 1000, not 1000.0

    def one(frame, column):
        values = distinct(frame, column)
        return values[0] if len(values) == 1 else values

    fit = {}
    for name in families:
        own = rows[rows["family"] == name]
        fit[name] = {k: one(own, k) for k in FIT_BUDGET if k in own and own[k].notna().any()}
    return {
        "presets": distinct(rows, "preset"),
        "duration_s": one(rows, "duration_s"),
        "sample_rate": one(rows, "sample_rate"),
        "clips": sorted(set(rows["dataset"] + "/" + rows["clip"])),
        "fit": fit,
        "sirenpipe_version": one(rows, "library_version"),
        "created": datetime.date.today().isoformat(),
        "source": source,
    }


def write_rate_model_stage(scores_parquet, out_json, configfiles=()) -> None:
    """The rate model of a sweep's scores; `configfiles`: the run's --configfile paths, for the
    provenance's source command."""
    scores = pd.read_parquet(scores_parquet)
    rows = rate_model(scores)
    if not any(pd.notna(row[SELECT_BY]) for row in rows):
        raise SirenpipeError(f"rate_model: no curve point has {SELECT_BY} (it needs speech clips), "
                             "so rate control could not plan from it")
    families = list(dict.fromkeys(row["family"] for row in rows))
    write_rate_model(out_json, rows, provenance(scores, families, snakemake_command(configfiles)))
    counts = ", ".join(f"{sum(r['family'] == f for r in rows)} {FAMILIES[f].label} rows" for f in families)
    print(f"rate_model: {counts} -> {out_json}; install it as the packaged model with: "
          f"sirenpipe rate-model install {out_json}")
