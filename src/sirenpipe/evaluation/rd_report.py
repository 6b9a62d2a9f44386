"""results/RATE_DISTORTION.md: the rate–distortion sweep's results document, from its score table.

Stage `rate_distortion` (:mod:`sirenpipe.pipeline.rate_distortion`) writes it beside the BD-rate
table (:mod:`.bdrate`); researchers copy it to the repository root to publish it, like RESULTS.md.
Its sections: what was run (clips, datasets, fit budget, each curve's settings), every point's mean
rate and quality per dataset, the BD-rate table, the rate-controlled points and how it was
generated. Every number comes from the score rows (``pipeline/rows.py``) or the BD-rate table
computed from them; the run's config only gives the datasets' types (and names datasets that were
absent), the command line its config files.
"""

from __future__ import annotations

import datetime
import math
import os
from collections import Counter

import pandas as pd

from .. import __version__
from ..baselines import CODECS
from ..families import FAMILIES
from ..metrics import METRIC_INFO
from . import markdown as md
from .bdrate import BD_METRICS, bd_rate_markdown, curve_labels, curve_variants
from .tables import axis_label, numeric, ok_rows, summarize

__all__ = [
    "fit_budgets",
    "fit_time",
    "point_table",
    "rate_controlled_table",
    "rate_distortion_markdown",
    "snakemake_command",
]

# Relative slack of the within-target test (kbps <= target): the float error of kbps = bytes·8/duration.
_TARGET_SLACK = 1e-9

READING = (
    "How to read it: each cell is the bitrate the row's curve needs at the same quality as the column's "
    "reference curve, as a change in percent; negative = fewer bits than the reference at equal quality "
    "(better), positive = more. n/a: no BD-rate, e.g. when the two curves' quality ranges do not overlap "
    "(no quality that both reach) or a curve has too few points."
)


# ------------------------------------------------------------------------------------------ helpers
def _input_layer_note(settings: pd.Series) -> str:
    """" (input layer 6)" where the input layer's bits differ from the curve's bits."""
    first = [v for v in settings.get("first_layer_bits", []) if v not in settings["bits"]]
    return f" (input layer {md.joined(first)})" if first else ""


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    """The column as objects, or all None when the table has no such column."""
    return df[name].astype(object) if name in df.columns else pd.Series(None, index=df.index, dtype=object)


def _most_common(values):
    """The most frequent non-missing value (ties: the first seen), None when there is none."""
    counts = Counter(v for v in values if not md.missing(v))
    return counts.most_common(1)[0][0] if counts else None


def _is_codec(rows: pd.DataFrame) -> pd.Series:
    return _column(rows, "arch").isin(list(CODECS))


def _inr_rows(scores: pd.DataFrame) -> pd.DataFrame:
    """The "ok" rows of INR ablations (not a classical codec's)."""
    ok = ok_rows(scores)
    return ok[~_is_codec(ok)]


def _metrics(scores: pd.DataFrame, metrics=None) -> list[str]:
    """The requested metrics (default :data:`BD_METRICS`) that have a value in the "ok" rows."""
    ok = ok_rows(scores)
    return [m for m in (metrics or BD_METRICS) if m in ok.columns and numeric(ok[m]).notna().any()]


def _label(metric: str) -> str:
    return METRIC_INFO[metric].label if metric in METRIC_INFO else metric


def _stats(summary: pd.DataFrame) -> dict:
    """{(dataset, kind, ablation, variant): that summary row as a dict} of :func:`.tables.summarize`."""
    return {tuple(r[k] for k in ("dataset", "kind", "ablation", "variant")): r for r in summary.to_dict("records")}


def _metric_stats(s: dict, metrics: list[str]) -> dict:
    """M_mean, M_ci95, M_n of each metric from a summary row (NaN, NaN, 0 where it has none)."""
    empty = {"mean": math.nan, "ci95": math.nan, "n": 0}
    return {f"{m}_{stat}": s.get(f"{m}_{stat}", empty[stat]) for m in metrics for stat in empty}


# ------------------------------------------------------------------------------------- what was run
def fit_budgets(scores: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """The fit budgets of the INR ablations, from their rows: [(description, ablations)], one entry
    per distinct budget (steps, batch, learning rate, seed, devices), in the table's order."""
    rows = _inr_rows(scores)
    budgets: dict[str, list[str]] = {}
    for ablation, group in rows.groupby(_column(rows, "ablation"), sort=False):
        if _column(group, "steps").isna().all():
            continue
        batch = md.distinct(_column(group, "batch_size"))
        parts = [
            f"{md.joined(group['steps'])} steps",
            "full batch" if not batch or batch == [0] else f"mini-batches of {md.joined(batch)} samples",
            f"lr {md.joined(_column(group, 'lr'))}",
            f"seed {md.joined(_column(group, 'seed'))}",
            f"on {md.joined(_column(group, 'device'))}",
        ]
        budgets.setdefault(", ".join(parts), []).append(ablation)
    return list(budgets.items())


def fit_time(scores: pd.DataFrame) -> dict:
    """Total fitting time of the run: {"seconds", "fits", "pairs"}. ``pairs``: distinct (dataset, clip,
    ablation); ``fits``: distinct fits among them. Ablations that share a fit (equal model and fit
    settings, e.g. the PTQ bit widths of one size) carry that fit's history, so rows agreeing on
    dataset, clip, model, fit settings and fit_seconds are one fit, counted once. A fit of several
    clips together records each clip's share of its time, so the sum is the fitting time."""
    rows = _inr_rows(scores)
    seconds = numeric(_column(rows, "fit_seconds"))
    rows = rows[seconds.notna()].assign(fit_seconds=seconds[seconds.notna()])
    if rows.empty:
        return {"seconds": 0.0, "fits": 0, "pairs": 0}
    pairs = rows.assign(ablation=_column(rows, "ablation")).drop_duplicates(["dataset", "clip", "ablation"])
    keys = "dataset clip preset arch params quant_aware rate_weight steps batch_size lr seed fit_seconds".split()
    fits = pd.DataFrame({k: _column(pairs, k).map(lambda v: None if md.missing(v) else v) for k in keys})
    fits = fits.drop_duplicates()
    return {"seconds": float(fits["fit_seconds"].astype(float).sum()), "fits": len(fits), "pairs": len(pairs)}


def _datasets_line(scores: pd.DataFrame, run_config: dict | None) -> str:
    configured = (run_config or {}).get("datasets", {})
    ok = ok_rows(scores)
    parts = []
    for name in md.distinct([*_column(scores, "dataset"), *configured]):
        spec, rows = configured.get(name, {}), scores[_column(scores, "dataset") == name]
        kind = md.joined(_column(rows, "kind")) if len(rows) else spec.get("kind", "—")
        if rows.empty:
            parts.append(f"{name} ({', '.join(md.distinct([spec.get('type'), kind]))}: not present, skipped)")
            continue
        clips = ok[_column(ok, "dataset") == name]["clip"].nunique()
        failed = rows[_column(rows, "status") == "failed"]["clip"].nunique()
        facts = md.distinct([spec.get("type"), kind]) + [
            md.plural(clips, "clip") + (f", {failed} failed" if failed else "")
        ]
        parts.append(f"{name} ({'; '.join(facts)})")
    return ", ".join(parts) or "none"


def _clips_line(scores: pd.DataFrame, run_config: dict | None) -> str:
    ok = ok_rows(scores)
    durations, rates = md.distinct(_column(ok, "duration_s")), md.distinct(_column(ok, "sample_rate"))
    clip = (run_config or {}).get("clip", {})
    durations = durations or md.distinct([clip.get("duration")])
    rates = rates or md.distinct([clip.get("sample_rate")])
    return f"{md.joined(durations, lambda d: f'{d:g} s')} at {md.joined(rates, lambda r: f'{md.value(r)} Hz')}"


def _codecs_line(scores: pd.DataFrame) -> str:
    ok = ok_rows(scores)
    codecs = ok[_is_codec(ok)]
    parts = []
    for codec, group in codecs.groupby(_column(codecs, "arch"), sort=False):
        levels = [str(v).removeprefix("level ") for v in md.distinct(_column(group, "variant"))]
        parts.append(f"{codec} (levels {', '.join(levels)})" if levels else str(codec))
    return ", ".join(parts) or "none"


def curve_settings(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per INR curve (an ablation on no curve is its own row, curve None) with its ablations'
    settings from the rows: ablations, params (per ablation, in order), bits, quant_aware, rate_weight,
    objectives ("lpc (64)"; "mse" for rows from before the objective was recorded), per_channel, coding, float_bits, variants (scored), target_kbps; each a list of distinct values."""
    rows = _inr_rows(scores)
    rows = rows.assign(curve=curve_labels(rows), ablation=_column(rows, "ablation"))
    curves: dict = {}
    for ablation, group in rows.groupby("ablation", sort=False):
        curve = _most_common(group["curve"])
        curves.setdefault(curve if curve is not None else ("", ablation), []).append(group)
    out = []
    for key, groups in curves.items():
        both = pd.concat(groups)
        row = {
            "curve": None if isinstance(key, tuple) else key,
            "ablations": [g["ablation"].iloc[0] for g in groups],
            "params": [md.distinct(_column(g, "params")) for g in groups],
        }
        for name in ("family", "bits", "first_layer_bits", "quant_aware", "rate_weight", "per_channel", "coding",
                     "float_bits", "target_kbps"):
            row[name] = md.distinct(_column(both, name))
        losses = both.get("loss", pd.Series(["mse"] * len(both), index=both.index)).fillna("mse")
        weights = both.get("loss_weight", pd.Series([0.0] * len(both), index=both.index)).fillna(0.0)
        row["objectives"] = md.distinct([loss if loss == "mse" else f"{loss} ({weight:g})"
                                         for loss, weight in zip(losses, weights)])
        row["variants"] = md.distinct(_column(both, "variant"))
        out.append(row)
    return pd.DataFrame(out)


def _rate_weight_cell(s) -> str:
    """The curve's rate weights; where each fit adapted its own to a target, their range."""
    weights = [float(w) for w in s["rate_weight"]]
    if len(weights) > 1 and len(s["target_kbps"]):
        return f"adapted, {min(weights):.2g}–{max(weights):.2g}"
    return md.joined(weights)


def _curve_settings_markdown(settings: pd.DataFrame) -> list[str]:
    if settings.empty:
        return ["No INR ablation was scored."]
    targets = any(len(t) for t in settings["target_kbps"])
    header = ["Curve", "Family", "Ablations", "Params", "Bits", "Fitting", "Rate weight", "Objective", "Scales",
              "Coding", "Float bits"]
    header += ["Variants scored"] + (["Target kbps"] if targets else [])
    body = []
    for _, s in settings.iterrows():
        fitting = ", ".join({True: "QAT", False: "PTQ"}.get(bool(v), "—") for v in s["quant_aware"]) or "—"
        scales = ", ".join("per channel" if v else "per tensor" for v in s["per_channel"]) or "—"
        cells = [
            md.escape(s["curve"]),
            md.joined([FAMILIES[f].label if f in FAMILIES else f for f in s["family"]]),
            ", ".join(md.escape(a) for a in s["ablations"]),
            " / ".join(", ".join(md.integer(p) for p in ps) or "—" for ps in s["params"]),
            md.joined(s["bits"]) + _input_layer_note(s),
            fitting,
            _rate_weight_cell(s),
            md.escape(md.joined(s["objectives"])),
            scales,
            md.escape(md.joined(s["coding"])),
            md.joined(s["float_bits"]),
            md.escape(md.joined(s["variants"])),
        ] + ([md.joined(s["target_kbps"])] if targets else [])
        body.append(cells)
    align = ["l", "l", "l", "r", "r", "l", "r", "l", "l", "l", "r", "l"] + ["r"] * int(targets)
    return md.table(header, body, align) + [
        "",
        "Params: each ablation's parameter count (the latent grid's: its networks'), in the order of the ablations. "
        "Bits, Fitting, Scales, Coding and Float bits are the SIREN's quantization (the latent grid quantizes its own "
        "networks; its rate weight adapts to each target). Fitting: PTQ = post-training "
        "quantization, QAT = quantization-aware fitting. Objective: the training objective (fit.loss) and its "
        "weight. Scales: quantization scales per output channel or per "
        "tensor. Float bits: the width of the tensors stored as floats (biases).",
    ]


# --------------------------------------------------------------------------------------- the points
def point_table(scores: pd.DataFrame, metrics=None, reference_curves=()) -> pd.DataFrame:
    """Every point of the sweep, per dataset: a classical codec's level, or an INR ablation decoded
    with the variant its curve's BD-rate uses (:func:`.bdrate.curve_variants`; a row per variant
    where metrics choose different ones; an ablation on no curve: the stream's variant if scored,
    else the first scored). Columns: dataset, kind, curve, point, ablation, variant, bd_metrics (the
    metrics whose BD-rate uses this variant), params, n (clips), kbps_mean, per metric M_mean, M_ci95,
    M_n (:func:`.tables.summarize`), stream_variant (the stream's default, most common over clips),
    stream_scores ({metric: mean} of decoding with it; None when it was not scored), target_kbps.
    Sorted by dataset, curve (reference curves first, then the table's order, no curve last), kbps."""
    metrics = _metrics(scores, metrics)
    ok = ok_rows(scores)
    ok = ok.assign(curve=curve_labels(ok), ablation=_column(ok, "ablation"), variant=_column(ok, "variant"))
    stats = _stats(summarize(ok))
    scored_variants: dict = {}
    for key in stats:
        scored_variants.setdefault(key[:3], []).append(key[3])
    chosen: dict = {}
    for _, r in curve_variants(ok, metrics).iterrows():
        chosen.setdefault((r["dataset"], r["curve"]), {}).setdefault(r["variant"], []).append(r["metric"])

    rows = []
    for (dataset, kind, ablation), group in ok.groupby(["dataset", "kind", "ablation"], sort=False, dropna=False):
        curve, codec = _most_common(group["curve"]), bool(_is_codec(group).all())
        stream_variant = None if codec else _most_common(_column(group, "stream_variant"))
        scored = scored_variants.get((dataset, kind, ablation), [])
        if codec:
            picks = [(v, None) for v in scored]
        elif (dataset, curve) in chosen:
            picks = [(v, ms) for v, ms in chosen[(dataset, curve)].items() if v in scored]
        else:
            picks = []
        if not picks and scored:  # on no curve (None), or none of the curve's BD-rate variants scored ([])
            fallback = stream_variant if stream_variant in scored else scored[0]
            picks = [(fallback, [] if (dataset, curve) in chosen else None)]
        for variant, bd_metrics in picks:
            s = stats[(dataset, kind, ablation, variant)]
            mine = group[group["variant"] == variant]
            row = {
                "dataset": dataset,
                "kind": kind,
                "curve": curve,
                "point": _most_common(_column(mine, "preset")) if codec else ablation,
                "ablation": ablation,
                "variant": None if codec else variant,
                "bd_metrics": bd_metrics,
                "params": None if codec else s["params"],
                "n": int(s["n"]),
                "kbps_mean": s["kbps_mean"],
                **_metric_stats(s, metrics),
            }
            row["stream_variant"] = stream_variant
            row["stream_scores"] = None
            if stream_variant is not None and stream_variant in scored:
                own = stats[(dataset, kind, ablation, stream_variant)]
                row["stream_scores"] = {m: own[f"{m}_mean"] for m in metrics if f"{m}_mean" in own}
            row["target_kbps"] = _most_common(numeric(_column(mine, "target_kbps")))
            rows.append(row)
    columns = ["dataset", "kind", "curve", "point", "ablation", "variant", "bd_metrics", "params", "n", "kbps_mean"]
    columns += [f"{m}_{s}" for m in metrics for s in ("mean", "ci95", "n")]
    table = pd.DataFrame(rows, columns=columns + ["stream_variant", "stream_scores", "target_kbps"])
    if table.empty:
        return table
    curves = list(dict.fromkeys([*reference_curves, *table["curve"].dropna()]))
    order = pd.DataFrame(
        {
            "dataset": table["dataset"].map({d: i for i, d in enumerate(dict.fromkeys(table["dataset"]))}),
            "curve": table["curve"].map(lambda c: curves.index(c) if c in curves else len(curves)),
            "kbps": table["kbps_mean"].astype(float),
        }
    )
    return table.loc[order.sort_values(["dataset", "curve", "kbps"], kind="stable").index].reset_index(drop=True)


def _stream_cells(row: pd.Series, metrics: list[str]) -> list[str]:
    if row["variant"] is None or md.missing(row["variant"]):  # a codec
        return ["—", "—"]
    variant = row["stream_variant"]
    if md.missing(variant):
        return ["—", "—"]
    if variant == row["variant"]:
        return [md.escape(variant), "same"]
    if not row["stream_scores"]:
        return [md.escape(variant), "not scored"]
    scores = [f"{_label(m)} {md.number(v, md.decimals(m))}" for m, v in row["stream_scores"].items()]
    return [md.escape(variant), ", ".join(scores)]


def _points_markdown(points: pd.DataFrame, metrics: list[str]) -> list[str]:
    if points.empty:
        return ["No scored points."]
    lines = []
    header = ["Curve", "Point", "Variant", "Params", "n", "kbps"] + [axis_label(m) for m in metrics]
    header += ["Stream's variant", "Decoded with it"]
    align = ["l", "l", "l", "r", "r", "r"] + ["r"] * len(metrics) + ["l", "l"]
    for (dataset, kind), group in points.groupby(["dataset", "kind"], sort=False, dropna=False):
        lines += [f"### {md.escape(dataset)} ({md.escape(kind)})", ""]
        clips = md.distinct(group["n"])
        lines += [
            f"Means over {' / '.join(map(str, clips))} clip{'s' * (clips != [1])} (column n: clips per point).",
            "",
        ]
        body = []
        for _, row in group.iterrows():
            variant = md.escape(row["variant"])
            if isinstance(row["bd_metrics"], list) and not row["bd_metrics"]:
                variant += " (not in the BD-rate)"
            elif (
                row["bd_metrics"]
                and len(points[(points.dataset == dataset) & (points.ablation == row["ablation"])]) > 1
            ):
                variant += f" (BD-rate: {', '.join(row['bd_metrics'])})"
            body.append(
                [
                    md.escape(row["curve"]),
                    md.escape(row["point"]),
                    variant,
                    md.integer(row["params"]),
                    str(row["n"]),
                    md.number(row["kbps_mean"], 1),
                ]
                + [md.cell(row, m) for m in metrics]
                + _stream_cells(row, metrics)
            )
        lines += md.table(header, body, align) + [""]
    lines.append(
        'Cells: mean ± 95 % CI half-width (Student t) over clips; "(n=k)" where only k clips have a value. '
        "Point: the ablation, or the codec's level. Variant: the decoder variant the curve's BD-rate uses "
        "(of the variants scored, the one with the most points, then the best mean quality); where metrics "
        "choose different variants a point has a row per variant, marked with the metrics that use it. "
        "Stream's variant: the variant the bitstream names as its default (most common over clips); "
        '"Decoded with it": the means of decoding with that variant, "same" when it is the variant shown, '
        '"not scored" when the run did not decode with it.'
    )
    return lines


# ----------------------------------------------------------------------------- rate-controlled points
def rate_controlled_table(scores: pd.DataFrame, metrics=None) -> pd.DataFrame:
    """The ablations with a target_kbps, per dataset and scored variant: target_kbps, kbps_mean,
    kbps_max (over clips), clips, within (clips whose stream is at most the target), bits (distinct),
    params, and the variant's M_mean, M_ci95, M_n per metric. A stream is within its target when its
    rate is at most the target (its bytes within the target's byte budget)."""
    metrics = _metrics(scores, metrics)
    ok = ok_rows(scores)
    targets = numeric(_column(ok, "target_kbps"))
    ok = ok[targets.notna()].assign(target_kbps=targets[targets.notna()], ablation=_column(ok, "ablation"))
    columns = [
        "dataset",
        "kind",
        "ablation",
        "curve",
        "target_kbps",
        "kbps_mean",
        "kbps_max",
        "clips",
        "within",
        "bits",
        "params",
        "variant",
        "stream_variant",
        "n",
    ]
    columns += [f"{m}_{s}" for m in metrics for s in ("mean", "ci95", "n")]
    if ok.empty:
        return pd.DataFrame(columns=columns)
    ok = ok.assign(curve=curve_labels(ok), kbps=numeric(ok["kbps"]))
    stats = _stats(summarize(ok))
    rows = []
    for (dataset, kind, ablation), group in ok.groupby(["dataset", "kind", "ablation"], sort=False):
        streams = group.drop_duplicates("clip")  # one stream per clip, decoded with each variant
        target = float(streams["target_kbps"].iloc[0])
        within = int((streams["kbps"] <= target * (1 + _TARGET_SLACK)).sum())
        common = {
            "dataset": dataset,
            "kind": kind,
            "ablation": ablation,
            "curve": _most_common(group["curve"]),
            "target_kbps": target,
            "kbps_mean": streams["kbps"].mean(),
            "kbps_max": streams["kbps"].max(),
            "clips": len(streams),
            "within": within,
            "bits": md.distinct(_column(streams, "bits")),
            "params": _most_common(_column(streams, "params")),
            "stream_variant": _most_common(_column(streams, "stream_variant")),
        }
        for variant in md.distinct(group["variant"]):
            s = stats[(dataset, kind, ablation, variant)]
            rows.append({**common, "variant": variant, "n": int(s["n"]), **_metric_stats(s, metrics)})
    return pd.DataFrame(rows, columns=columns)


def _rate_controlled_markdown(table: pd.DataFrame, metrics: list[str]) -> list[str]:
    if table.empty:
        return ["No ablation of this run sets a target_kbps."]
    header = [
        "Dataset",
        "Ablation",
        "Curve",
        "Target kbps",
        "kbps (mean)",
        "kbps (max)",
        "Within target",
        "Bits",
        "Params",
        "Variant",
        "n",
    ] + [axis_label(m) for m in metrics]
    body = []
    for _, r in table.iterrows():
        over = r["clips"] - r["within"]
        verdict = (
            f"yes ({r['within']} of {md.plural(r['clips'], 'stream')})"
            if over == 0
            else f"no ({over} of {md.plural(r['clips'], 'stream')} over)"
        )
        variant = md.escape(r["variant"]) + (" (stream's)" if r["variant"] == r["stream_variant"] else "")
        body.append(
            [
                md.escape(r["dataset"]),
                md.escape(r["ablation"]),
                md.escape(r["curve"]),
                f"{r['target_kbps']:g}",
                md.number(r["kbps_mean"], 2),
                md.number(r["kbps_max"], 2),
                verdict,
                md.joined(r["bits"]),
                md.integer(r["params"]),
                variant,
                str(r["n"]),
            ]
            + [md.cell(r, m) for m in metrics]
        )
    align = ["l", "l", "l", "r", "r", "r", "l", "r", "r", "l", "r"] + ["r"] * len(metrics)
    return md.table(header, body, align) + [
        "",
        "Rate control chose each stream's model and recipe for its target (ablations with a target_kbps). "
        "A stream is within its target when its real rate is at most the target (its size within the target's "
        'byte budget); kbps (max) is the largest over the clips. A row per decoder variant scored; "(stream\'s)" '
        "marks the variant the streams name as their default.",
    ]


# ---------------------------------------------------------------------------------- the document
def snakemake_command(configfiles=()) -> str:
    """The command that runs the sweep: ``snakemake --configfile FILE…`` (paths relative to the
    working directory; without config files, the workflow's default config). It names no cores: the
    workflow's profile (profiles/default) sets them for the machine it runs on."""
    files = [os.path.relpath(f) if os.path.isabs(str(f)) else str(f) for f in configfiles]
    return "snakemake" + (f" --configfile {' '.join(files)}" if files else "")


def rate_distortion_markdown(
    scores: pd.DataFrame,
    table: pd.DataFrame,
    settings: dict | None = None,
    run_config: dict | None = None,
    command: str | None = None,
    version: str = __version__,
) -> str:
    """RATE_DISTORTION.md from the score table and its BD-rate table (:func:`.bdrate.bd_rate_table`).

    ``settings``: the config's rate_distortion section (reference curves, metrics, method);
    ``run_config``: the run's config (only its datasets' types and its clip section, a fallback for
    the rows' duration and sample rate, are read); ``command``: the command line that ran it."""
    settings = settings or {}
    references = list(settings.get("reference_curves") or [])
    metrics = _metrics(scores, settings.get("metrics"))
    lines = [
        "# Rate and distortion",
        "",
        "Generated by the workflow's `rate_distortion` rule from `results/tables/scores.parquet` (as "
        "`results/RATE_DISTORTION.md`; copied to docs/results/ to publish it); do not edit by hand.",
        "",
        "## What was run",
        "",
        f"- library version: {version}"
        + (
            f" (scores written by {md.joined(_column(scores, 'library_version'))})"
            if md.distinct(_column(scores, "library_version")) not in ([], [version])
            else ""
        ),
        f"- clips: {_clips_line(scores, run_config)}",
        f"- datasets: {_datasets_line(scores, run_config)}",
    ]
    budgets = fit_budgets(scores)
    if len(budgets) == 1:
        lines.append(f"- fit budget, the same for every ablation: {budgets[0][0]}")
    elif budgets:
        lines.append("- fit budget, which differs between ablations:")
        lines += [f"  - {text}: {', '.join(ablations)}" for text, ablations in budgets]
    else:
        lines.append("- fit budget: no INR ablation was scored")
    lines += [
        f"- classical codecs on the same clips: {_codecs_line(scores)}",
        f"- BD-rate: against {', '.join(references) or 'no reference curve'}, method "
        f"{settings.get('method', 'pchip')}, metrics {', '.join(axis_label(m) for m in metrics) or 'none'}",
        "",
        "### Curves",
        "",
        *_curve_settings_markdown(curve_settings(scores)),
        "",
        "## Points",
        "",
        *_points_markdown(point_table(scores, metrics, references), metrics),
        "",
        "## BD-rate",
        "",
        READING,
        "",
        bd_rate_markdown(table).replace("## BD-rate\n\n", "", 1).rstrip("\n"),
        "",
        "## Rate-controlled points",
        "",
        *_rate_controlled_markdown(rate_controlled_table(scores, metrics), metrics),
        "",
        "## How this was generated",
        "",
    ]
    from ..device import describe_machine  # torch, only now

    time = fit_time(scores)
    devices = md.joined(_column(_inr_rows(scores), "device"))
    lines.append(
        f"`{command or snakemake_command()}`, written {datetime.date.today().isoformat()} on {describe_machine()} "
        f"(fits on: {devices}). Fitting took {time['seconds'] / 60:.1f} min in all "
        f"({time['seconds']:.0f} s): the sum of the fit times of {md.plural(time['fits'], 'distinct fit')} behind "
        f"{time['pairs']} ablation × clip pairs (ablations that share a fit report the same fit, counted once; "
        "clips fitted together count their share)."
    )
    return "\n".join(lines) + "\n"
