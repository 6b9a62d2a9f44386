"""Stage `rate_model`: the sweep's scores -> rate control's model (encoder.rate_model, its schema).

One row per recipe (bits, the input layer's bits, quantization-aware, rate weight, training
objective and its weight, per-channel, float bits) and model size: parameters per second of audio, the weights' coded bits per weight,
and each quality metric, averaged over the clips: PESQ over the speech clips only (it is a
speech measure), ViSQOL and PSNR over all. A clip's quality is that of its best decoder variant.
Only entropy-coded ablations of a curve count (what rate control can produce); ablations that
were themselves rate-controlled do not. The provenance comes from the same rows.
"""

from __future__ import annotations

import datetime

import pandas as pd

from ..encoder.rate_model import QUALITY_COLUMNS, RECIPE_COLUMNS, SELECT_BY, write_rate_model
from ..errors import SirenpipeError
from ..evaluation.rd_report import snakemake_command

RECIPE = list(RECIPE_COLUMNS)


def curve_rows(scores: pd.DataFrame) -> pd.DataFrame:
    """The score rows the rate model is measured from."""
    rows = scores[(scores["status"] == "ok") & scores["curve"].notna() & scores["target_kbps"].isna()
                  & (scores["coding"] == "entropy")]
    # scores from before the input layer had its own bit width: it had `bits`
    first = rows["first_layer_bits"].fillna(rows["bits"]) if "first_layer_bits" in rows else rows["bits"]
    # integer settings read back as floats where other rows (the codecs') lack them
    rows = rows.assign(first_layer_bits=first.astype(int), bits=rows["bits"].astype(int),
                       float_bits=rows["float_bits"].astype(int))
    # scores from before the training objective was a setting: mse
    return rows.assign(loss=rows["loss"].fillna("mse") if "loss" in rows else "mse",
                       loss_weight=rows["loss_weight"].fillna(0.0) if "loss_weight" in rows else 0.0)


def rate_model(scores: pd.DataFrame) -> pd.DataFrame:
    rows = curve_rows(scores)
    quality = [m for m in QUALITY_COLUMNS if m in rows]
    if "pesq" in quality and "kind" in rows:
        rows = rows.assign(pesq=rows["pesq"].where(rows["kind"] == "speech"))
    per_clip = rows.groupby(["ablation", "dataset", "clip", *RECIPE, "params", "weights", "duration_s",
                             "coded_weight_bytes"], dropna=False)[quality].max().reset_index()
    per_clip["params_per_second"] = per_clip["params"] / per_clip["duration_s"]
    per_clip["bits_per_weight"] = per_clip["coded_weight_bytes"] * 8 / per_clip["weights"]
    model = per_clip.groupby([*RECIPE, "params"])[["params_per_second", "bits_per_weight", *quality]].mean()
    model["clips"] = per_clip.groupby([*RECIPE, "params"]).size()
    for missing in set(QUALITY_COLUMNS) - set(quality):
        model[missing] = float("nan")
    return model.reset_index().sort_values([*RECIPE, "params"])


def provenance(scores: pd.DataFrame, source: str) -> dict:
    """What the rate model was measured with: presets, clip duration and rate, clips, fit budget."""
    rows = curve_rows(scores)

    def distinct(column):
        values = {v.item() if hasattr(v, "item") else v for v in rows[column].dropna()} if column in rows else set()
        return sorted(int(v) if isinstance(v, float) and v.is_integer() else v for v in values)  # 1000, not 1000.0

    def one(column):
        values = distinct(column)
        return values[0] if len(values) == 1 else values

    return {
        "presets": distinct("preset"),
        "duration_s": one("duration_s"),
        "sample_rate": one("sample_rate"),
        "clips": sorted(set(rows["dataset"] + "/" + rows["clip"])),
        "fit": {k: one(k) for k in ("steps", "batch_size", "lr", "seed") if k in rows},
        "sirenpipe_version": one("library_version"),
        "created": datetime.date.today().isoformat(),
        "source": source,
    }


def write_rate_model_stage(scores_parquet, out_json, configfiles=()) -> None:
    """The rate model of a sweep's scores; `configfiles`: the run's --configfile paths, for the
    provenance's source command."""
    scores = pd.read_parquet(scores_parquet)
    table = rate_model(scores)
    if SELECT_BY not in table or table[SELECT_BY].isna().all():
        raise SirenpipeError(f"rate_model: no entropy-coded curve point has {SELECT_BY} (it needs speech clips), "
                             "so rate control could not plan from it")
    write_rate_model(out_json, table.to_dict("records"), provenance(scores, snakemake_command(configfiles)))
    print(f"rate_model: {len(table)} rows, {table.groupby(RECIPE).ngroups} recipes -> {out_json}; "
          f"install it as the packaged model with: sirenpipe rate-model install {out_json}")
