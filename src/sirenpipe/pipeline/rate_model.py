"""Stage `rate_model`: the sweep's scores -> rate control's model (codec.ratecontrol.RATE_MODEL).

One row per recipe (bits, the input layer's bits, quantization-aware, rate weight, per-channel,
float bits) and model
size: parameters per second of audio, the weights' coded bits per weight, and each quality
metric, averaged over the clips: PESQ over the speech clips only (it is a speech measure),
ViSQOL and PSNR over all. A clip's quality is that of its best decoder variant. Only
entropy-coded ablations of a curve count (what rate control can produce); ablations that were
themselves rate-controlled do not.
"""

from __future__ import annotations

import pandas as pd

from .io import write_text

RECIPE = ["bits", "first_layer_bits", "quant_aware", "rate_weight", "per_channel", "float_bits"]
QUALITY = ["psnr", "pesq", "visqol"]


def rate_model(scores: pd.DataFrame) -> pd.DataFrame:
    rows = scores[(scores["status"] == "ok") & scores["curve"].notna() & scores["target_kbps"].isna()
                  & (scores["coding"] == "entropy")]
    # scores from before the input layer had its own bit width: it had `bits`
    first = rows["first_layer_bits"].fillna(rows["bits"]) if "first_layer_bits" in rows else rows["bits"]
    rows = rows.assign(first_layer_bits=first.astype(int))
    quality = [m for m in QUALITY if m in rows]
    if "pesq" in quality and "kind" in rows:
        rows = rows.assign(pesq=rows["pesq"].where(rows["kind"] == "speech"))
    per_clip = rows.groupby(["ablation", "dataset", "clip", *RECIPE, "params", "weights", "duration_s",
                             "coded_weight_bytes"], dropna=False)[quality].max().reset_index()
    per_clip["params_per_second"] = per_clip["params"] / per_clip["duration_s"]
    per_clip["bits_per_weight"] = per_clip["coded_weight_bytes"] * 8 / per_clip["weights"]
    model = per_clip.groupby([*RECIPE, "params"])[["params_per_second", "bits_per_weight", *quality]].mean()
    model["clips"] = per_clip.groupby([*RECIPE, "params"]).size()
    return model.reset_index().sort_values([*RECIPE, "params"])


def write_rate_model(scores_parquet, out_csv) -> None:
    table = rate_model(pd.read_parquet(scores_parquet))
    write_text(out_csv, table.to_csv(index=False, float_format="%.6g"))
    print(f"rate_model: {len(table)} rows, {table.groupby(RECIPE).ngroups} recipes")
