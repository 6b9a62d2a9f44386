"""Everything specific to the paper (Lanzendörfer & Wattenhofer 2023): its size conventions, its
published values (data/paper_values.csv) beside ours, RESULTS.md, and the prose that says what a
run was and how it differs from the paper's setting."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from ..codec.variants import default_variant
from ..families.siren import paper_style_bytes, paper_style_parameters  # noqa: F401 (the paper's size conventions)
from . import markdown as md
from .tables import ci95, ok_rows

# --- the paper's rows beside ours ------------------------------------------------------------
PAPER_METRICS = ["visqol", "pesq", "stoi", "cdpam"]
PAPER_FAMILY = "siren"  # the paper's models are the SIREN family's
# The paper's operating point (Section 4): what a run is compared against in paper_differences.
PAPER_SETTINGS = {"duration": 10, "sample_rate": 22050, "steps": 2500, "batch_size": None,
                  "speech_dataset": "librispeech"}
CITATION = ("Lanzendörfer & Wattenhofer, \"Siamese SIREN: Audio Compression with Implicit Neural "
            "Representations\", ICML 2023 Neural Compression Workshop, Tables 1-3 (LibriSpeech)")


def paper_values() -> pd.DataFrame:
    with resources.files("sirenpipe.data").joinpath("paper_values.csv").open() as f:
        return pd.read_csv(f, comment="#")


def compare_with_paper(scores: pd.DataFrame, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per paper row: the matching ablation's speech scores (int8, reference decoder:
    siamese denoising for two heads, head 0 otherwise), mean and 95% CI, beside the paper."""
    from ..models import build_model

    paper = paper_values() if paper is None else paper
    ok = ok_rows(scores)
    ok = ok[(ok["kind"] == "speech") & (ok["bits"] == 8)]
    rows = []
    for _, p in paper.iterrows():
        model = build_model(p["preset"])
        variant = default_variant(model.config.num_heads)  # the paper's decoder for this row
        size = model.num_parameters()  # ablations that change the model are not this row
        ours = ok[(ok["preset"] == p["preset"]) & (ok["variant"] == variant) & (ok["params"] == size)]
        row = {"table": p["table"], "row": p["row"], "preset": p["preset"], "variant": variant, "n": len(ours),
               "ablation": ", ".join(sorted(ours["ablation"].unique())) or None,
               "params": ours["params"].iloc[0] if len(ours) else np.nan, "paper_params_k": p["paper_params_k"],
               "kbps": ours["kbps"].mean(), "bytes": ours["bytes"].mean(),
               "paper_style_kB": ours["paper_bytes"].mean() / 1000 if "paper_bytes" in ours else np.nan,
               "paper_quantized_kB": p["quantized_kB"]}
        for m in PAPER_METRICS:
            values = ours[m].dropna() if m in ours else pd.Series(dtype=float)
            row.update({f"{m}": values.mean() if len(values) else np.nan, f"{m}_ci95": ci95(values),
                        f"{m}_paper": p[m]})
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(mean, ci, paper) -> str:
    ours = "—" if pd.isna(mean) else f"{mean:.2f}" + ("" if pd.isna(ci) else f" ± {ci:.2f}")
    return f"{ours} ({paper:.2f})" if not pd.isna(paper) else ours


COMPARISON_HEADER = ["table", "paper row", "ablation", "n", "params (true / paper)", "kbps",
                     "paper-style kB (ours / paper)", "ViSQOL", "PESQ", "STOI", "CDPAM"]


def comparison_markdown(comparison: pd.DataFrame) -> str:
    lines = [f"Ours: mean ± 95% CI over speech clips; in brackets: the paper ({CITATION}).", "",
             "kbps: from the real file size. Paper-style kB: our model sized the way the paper counts (the trunk "
             "three times, no container), beside the paper's quantized kB: equal values mean the same operating point.",
             ""]
    rows = []
    for _, r in comparison.iterrows():
        ablation = "(not run)" if pd.isna(r["ablation"]) else r["ablation"]
        rows.append([str(r["table"]), str(r["row"]), str(ablation), str(r["n"]),
                     f"{md.integer(r['params'])} / {r['paper_params_k']}k", md.number(r["kbps"], 1),
                     f"{md.number(r.get('paper_style_kB', np.nan), 1)} / {md.number(r['paper_quantized_kB'], 1)}"]
                    + [_cell(r[m], r[f"{m}_ci95"], r[f"{m}_paper"]) for m in PAPER_METRICS])
    align = ["-", "-", "-", "r", "-", "r", "-", "-", "-", "-", "-"]
    return "\n".join(lines + md.table(COMPARISON_HEADER, rows, align)) + "\n"


# How far ours may lie from the paper's value and still agree, on each metric's own scale.
AGREEMENT_TOLERANCE = {"visqol": 0.15, "pesq": 0.15, "stoi": 0.03, "cdpam": 0.05}
AGREEMENT_RULE = (
    "A value **agrees** when it lies within the tolerance of the paper's (ViSQOL and PESQ ±0.15, STOI ±0.03, "
    "CDPAM ±0.05) and the paper's value lies inside our 95% CI. It is **higher** or **lower** when the paper's "
    "value lies outside our CI and farther than the tolerance; **higher (within tolerance)** or **lower (within "
    "tolerance)** when outside our CI but within the tolerance. It is **inconclusive** when the paper's value lies "
    "inside our CI but farther than the tolerance (our CI is too wide to resolve the difference), or when fewer "
    "than two clips were scored."
)


def verdict(ours: float, ci: float, paper: float, tolerance: float) -> str:
    """One of agrees, higher, lower, higher (within tolerance), lower (within tolerance),
    inconclusive: see AGREEMENT_RULE. `ci` is our 95% CI half-width (NaN with fewer than two values)."""
    if pd.isna(ci):
        return "inconclusive"
    difference = ours - paper
    close = abs(difference) <= tolerance
    if abs(difference) <= ci:
        return "agrees" if close else "inconclusive"
    direction = "higher" if difference > 0 else "lower"
    return f"{direction} (within tolerance)" if close else direction


def agreement(comparison: pd.DataFrame) -> list[str]:
    """Sentences saying, per paper row and metric, how ours compares (verdict, AGREEMENT_RULE)."""
    out = []
    for _, r in comparison[comparison["n"] > 0].iterrows():
        parts = []
        for m in PAPER_METRICS:
            ours, paper = r[m], r[f"{m}_paper"]
            if pd.isna(ours) or pd.isna(paper):
                continue
            parts.append(f"{m} {ours:.2f} vs {paper:.2f} ({verdict(ours, r[f'{m}_ci95'], paper, AGREEMENT_TOLERANCE[m])})")
        out.append(f"Table {r['table']}, {r['row']} (n = {r['n']}): " + "; ".join(parts) + ".")
    return out


def results_markdown(comparison: pd.DataFrame, summary_md: str, run: dict) -> str:
    """RESULTS.md: what was run, its wall time, our numbers beside the paper's, and why they differ."""
    differences = [f"- {d}" for d in run.get("differences", [])] or ["- none: the run used the paper's settings"]
    return "\n".join([
        "# Results", "",
        "Generated by the workflow's `paper_comparison` rule from `results/tables/` (as `results/RESULTS.md`; "
        "copied to docs/results/ to publish it); do not edit by hand.", "",
        "## What was run", "",
        f"- configuration: {run['description']}",
        f"- wall time: {run['wall_time']}",
        f"- library version: {run['version']}", "",
        "## Beside the paper", "", comparison_markdown(comparison),
        "## Where we agree and where we do not", "",
        AGREEMENT_RULE, "",
        *[f"- {s}" for s in agreement(comparison)], "",
        "Settings of this run that differ from the paper's (reasons for disagreement):", "", *differences, "",
        "## All ablations, decoder variants and classical codecs", "", summary_md.replace("## Summary\n", "", 1),
    ])


# --- what was run, and how it differs from the paper ---------------------------------------------
def describe_run(config: dict, scores: pd.DataFrame) -> str:
    """The datasets the table holds (configured ones that were absent are named as skipped), the
    clips' length and rate, the fit's steps and batch, the number of ablations."""
    parts = []
    for name, spec in config["datasets"].items():
        rows = scores[scores.dataset == name]
        if rows.empty:
            parts.append(f"{name} ({spec['type']}: not present, skipped)")
            continue
        ok, failed = (rows[rows.status == status]["clip"].nunique() for status in ("ok", "failed"))
        parts.append(f"{name} ({spec['type']}, {md.plural(ok, 'clip')}" + (f", {failed} failed" if failed else "") + ")")
    fit = paper_fit_defaults(config)
    return (f"{', '.join(parts)}; {config['clip']['duration']:g} s clips at {config['clip']['sample_rate']} Hz; "
            f"{fit.get('steps', PAPER_SETTINGS['steps'])} steps, batch {fit.get('batch_size') or 'full'}; "
            f"{len(config['ablations'])} ablations")


def paper_fit_defaults(config: dict) -> dict:
    """The fit settings a run's ablations of the paper's model family start from."""
    return config.get("defaults", {}).get(PAPER_FAMILY, {}).get("fit", {})


def paper_differences(config: dict, scores: pd.DataFrame) -> list[str]:
    """The settings of a run (its config) and facts of its scores that differ from the paper's:
    the reasons our numbers may disagree. Says only what the config and the scores show."""
    paper = PAPER_SETTINGS
    fit = paper_fit_defaults(config)
    out = []
    if config["clip"]["duration"] != paper["duration"]:
        out.append(f"clips of {config['clip']['duration']:g} s, not {paper['duration']} s "
                   "(a shorter clip is easier to fit at equal size)")
    if config["clip"]["sample_rate"] != paper["sample_rate"]:
        out.append(f"{config['clip']['sample_rate']} Hz, not {paper['sample_rate']} Hz")
    if fit.get("steps", paper["steps"]) != paper["steps"]:
        out.append(f"{fit['steps']} training steps, not {paper['steps']} (less converged: lower scores expected)")
    if fit.get("batch_size"):
        out.append(f"random mini-batches of {fit['batch_size']} samples, not the full batch")
    speech = scores[(scores.kind == "speech") & (scores.status == "ok")]
    types = sorted({config["datasets"][d]["type"] for d in speech.dataset.unique()})
    if types != [paper["speech_dataset"]]:
        out.append(f"speech from {', '.join(types) or 'no'} datasets, not LibriSpeech")
    floored = speech[speech.visqol <= 1.0 + 1e-6] if "visqol" in speech else speech.iloc[0:0]
    if len(floored):
        out.append(f"ViSQOL's speech model returns its floor, 1.0, for {len(floored)} of {len(speech)} speech scores "
                   "(strongly degraded clips); a mean at 1.00 means every clip hit the floor")
    if "cdpam" not in config.get("metrics", []):
        out.append("no CDPAM column: the config's metrics do not list cdpam (it needs the optional cdpam package)")
    elif "cdpam" in speech and len(speech) and speech["cdpam"].isna().all():
        reasons = speech["cdpam_reason"].dropna().unique() if "cdpam_reason" in speech else []
        out.append("no CDPAM values" + (f": {reasons[0]}" if len(reasons) else ""))
    return out
