"""The workflow's stages as plain functions of paths and settings.

Each Snakemake script only unpacks snakemake.input/output/params and calls one of these, so
the stages can be run and tested without Snakemake. Every output is written atomically.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from . import __version__
from .atomic import atomic_path
from .audio import load_clip, write_wav
from .codec import QuantConfig, compress, decompress, stream_sizes, synthesize
from .denoise import reconstruct
from .errors import SirenpipeError
from .fit import FitConfig, fit, fit_many
from .models import INR, INRConfig, model_config


@contextlib.contextmanager
def job_log(path: str | None):
    """Send this job's stdout/stderr (progress bars included) to its log file."""
    if not path:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        yield


def write_json(path, data: dict) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def read_json(path) -> dict:
    return json.loads(Path(path).read_text())


def resolve_ablation(ablation: dict, defaults: dict, clip_samples: int | None = None) -> dict:
    """An ablation with the defaults filled in and its model config resolved: everything a
    job needs, and exactly what its params (and so its rerun trigger) contain.

    clips_per_fit (a workflow setting, not the fit's) is resolved here: "auto" batches short
    clips on GPUs only (see auto_clips_per_fit); clip_samples is the clips' length.
    """
    fit_settings = {**defaults.get("fit", {}), **ablation.get("fit", {})}
    together = fit_settings.pop("clips_per_fit", "auto")
    fit_config = FitConfig(**fit_settings)
    if together == "auto":
        sizes = [n for n in (fit_config.batch_size, clip_samples) if n]  # samples per step
        together = auto_clips_per_fit(fit_config.device, min(sizes) if sizes else None)
    quant = {**defaults.get("quant", {}), **ablation.get("quant", {})}
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in ablation.get("model", {}).items()}
    model = model_config(ablation["preset"], **overrides).to_dict()
    variants = ablation.get("variants") or (["siamese"] if model["num_heads"] >= 2 else ["f0"])
    return {
        "name": ablation["name"],
        "preset": ablation["preset"],
        "model": model,
        "fit": fit_config.to_dict(),
        "clips_per_fit": int(together),
        "quant": QuantConfig(**quant).to_dict(),
        "variants": list(variants),
        "alpha": float(ablation.get("alpha", 2.0)),
    }


def auto_clips_per_fit(device: str, samples_per_step: int | None) -> int:
    """How many clips of one ablation to fit together in one batched model (fit_many).

    On CPU the step is matmul-bound and batching gains nothing (measured: benchmarks/fit_step.py
    --variants naive,sirenpipe,sirenpipe+many4), so 1. On a GPU a short clip's step leaves the
    card mostly idle: batch clips up to ~2^18 samples per step (a 10 s full-batch clip already
    has 220,500: 1; 3 s full batch: 3; mini-batches of 16384: 16, the cap). The device is known
    only when the ablation names it (cuda); "auto" ablations get 1.
    """
    if not device.startswith("cuda") or not samples_per_step:
        return 1
    return max(1, min(16, 2**18 // samples_per_step))


# --- prepare -----------------------------------------------------------------------------
def prepare(clip, sample_rate: int, duration: float, out_wav, out_json, load=None) -> None:
    """Read a source, write the clip at its original level (float WAV) and its metadata."""
    from .datasets import load_source

    loaded = (load or load_source)(clip, sample_rate, duration)
    write_wav(out_wav, loaded.samples * loaded.peak_scale, loaded.sample_rate)
    write_json(out_json, {**clip.to_dict(), "peak_scale": loaded.peak_scale, "source_rate": loaded.source_rate,
                          "sample_rate": loaded.sample_rate, "duration_s": loaded.duration, "library_version": __version__})


# --- fit ---------------------------------------------------------------------------------
def fit_clip(clip_wav, ablation: dict, out_checkpoint, out_history, threads: int = 1) -> None:
    torch.set_num_threads(max(1, threads))
    clip = load_clip(clip_wav)
    config = INRConfig.from_dict(ablation["model"])
    result = fit(clip.samples, config, FitConfig(**ablation["fit"]), progress=True)
    entry = _fit_entry(result, ablation)
    _save_fit(config.to_dict(), entry, out_checkpoint, out_history)
    print(f"fit: {result.steps} steps in {result.seconds:.1f} s on {result.device}, final loss {result.final_loss:.3e}")


def fit_clips(clip_wavs: list, ablation: dict, out_batch, threads: int = 1) -> None:
    """Fit several clips of one ablation together (fit_many: one batched model per group of
    equal-length clips) and store every clip's weights and history in one file, which
    split_fit() unpacks into the per-clip files fit_clip() would have written."""
    torch.set_num_threads(max(1, threads))
    config = INRConfig.from_dict(ablation["model"])
    clips = {Path(w).stem: load_clip(w).samples for w in clip_wavs}
    by_length = {}
    for name, samples in clips.items():
        by_length.setdefault(len(samples), []).append(name)
    entries = {}
    for names in by_length.values():
        results = fit_many([clips[n] for n in names], config, FitConfig(**ablation["fit"]), progress=True)
        for name, result in zip(names, results):
            entries[name] = _fit_entry(result, ablation, together=len(names))
        print(f"fit: {len(names)} clips together, {results[0].steps} steps in {results[0].seconds:.1f} s "
              f"on {results[0].device}")
    with atomic_path(out_batch) as tmp:
        torch.save({"model": config.to_dict(), "clips": entries}, tmp)


def split_fit(batch, clip: str, out_checkpoint, out_history) -> None:
    saved = torch.load(batch, map_location="cpu", weights_only=True)
    _save_fit(saved["model"], saved["clips"][clip], out_checkpoint, out_history)


def _fit_entry(result, ablation: dict, together: int = 1) -> dict:
    """A fit's weights and its history. `seconds` is this clip's share of the wall time
    (the batched fit's time over the clips fitted together)."""
    history = {"seed": result.seed, "steps": result.steps, "seconds": result.seconds / together,
               "clips_together": together, "device": result.device, "final_loss": result.final_loss,
               "loss_history": result.loss_history, "fit": ablation["fit"], "library_version": __version__}
    return {"state_dict": result.model.state_dict(), "history": history}


def _save_fit(model: dict, entry: dict, out_checkpoint, out_history) -> None:
    with atomic_path(out_checkpoint) as tmp:
        torch.save({"model": model, "state_dict": entry["state_dict"]}, tmp)
    write_json(out_history, entry["history"])


# --- quantize ----------------------------------------------------------------------------
def quantize_clip(checkpoint, clip_wav, ablation: dict, out_sirn) -> None:
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model = INR(INRConfig.from_dict(saved["model"]))
    model.load_state_dict(saved["state_dict"])
    clip = load_clip(clip_wav)  # the same normalization the fit saw: same peak scale
    data = compress(model, sample_rate=clip.sample_rate, num_samples=len(clip.samples), peak_scale=clip.peak_scale,
                    quant=QuantConfig(**ablation["quant"]), preset=ablation["preset"])
    with atomic_path(out_sirn) as tmp:
        Path(tmp).write_bytes(data)
    print(f"quantize: {len(data)} bytes")


# --- decode ------------------------------------------------------------------------------
def decode_clip(sirn, variant: str, alpha: float, out_wav) -> None:
    """Decode the stored bitstream (not the training-time model) with one decoder variant."""
    stream = decompress(Path(sirn).read_bytes())
    heads = synthesize(stream)
    write_wav(out_wav, reconstruct(heads, stream.header.sample_rate, variant, alpha), stream.header.sample_rate)


# --- score -------------------------------------------------------------------------------
def score_clip(*, dataset: str, kind: str, clip_json, clip_wav, sirn, fit_history, decoded: dict, ablation: dict,
               metrics: list[str], out_parquet) -> None:
    """One row per decoder variant: sizes from the real file, scores from the decoded wavs."""
    from .evaluation.tables import write_parquet_atomic

    meta, history = read_json(clip_json), read_json(fit_history)
    data = Path(sirn).read_bytes()
    stream = decompress(data)
    sizes = stream_sizes(data, stream.header, stream.model)
    ref, rate = sf.read(clip_wav, dtype="float64")
    base = _row_base(dataset, kind, meta, ablation, sizes, history, stream)
    rows = []
    for variant, wav in decoded.items():
        est, est_rate = sf.read(wav, dtype="float64")
        if est_rate != rate:
            raise SirenpipeError(f"{wav}: decoded at {est_rate} Hz, the clip is {rate} Hz")
        rows.append({**base, "variant": variant, **_scored(ref, est, rate, kind, metrics, variant)})
    write_parquet_atomic(pd.DataFrame(rows), out_parquet)


def _scored(ref, est, rate, kind, metrics, label) -> dict:
    """Metric columns (value, mode, reason) of one decoded signal, logged."""
    from .metrics import score

    start = time.perf_counter()
    results = score(ref=ref, est=est, sample_rate=rate, kind=kind, metrics=metrics)
    print(f"score {label}: " + ", ".join(f"{n}={r.value}" for n, r in results.items()) + f" ({time.perf_counter() - start:.1f} s)")
    columns = {}
    for name, r in results.items():
        columns.update({name: r.value, f"{name}_mode": r.mode, f"{name}_reason": r.reason})
    return columns


def _source_columns(meta: dict) -> dict:
    return {"source": meta["source"], "offset_s": meta["offset"], "license": meta["license"], "library_version": __version__}


def baseline_clip(*, dataset: str, kind: str, clip_json, clip_wav, codec: str, levels: list[float], metrics: list[str],
                  out_parquet) -> None:
    """A classical codec at several compression levels: real byte sizes, same metric code."""
    from .baselines import code
    from .evaluation.tables import write_parquet_atomic

    meta = read_json(clip_json)
    ref, rate = sf.read(clip_wav, dtype="float64")
    peak = float(np.max(np.abs(ref)))
    rows = []
    for level in levels:
        coded = code(ref / peak, rate, codec, level)
        kbps = coded.num_bytes * 8 / (len(ref) / rate) / 1000
        rows.append({"dataset": dataset, "clip": meta["clip_id"], "kind": kind, "ablation": codec, "variant": f"level {level:g}",
                     "status": "ok", "error": None, "preset": f"{codec}-{level:g}", "arch": codec, "bytes": coded.num_bytes,
                     "kbps": kbps, "sample_rate": rate, "codec_rate": coded.codec_rate, "duration_s": len(ref) / rate, **_source_columns(meta),
                     **_scored(ref, coded.decoded * peak, rate, kind, metrics, f"{codec} level {level:g} ({kbps:.1f} kbps)")})
    write_parquet_atomic(pd.DataFrame(rows), out_parquet)


def _row_base(dataset, kind, meta, ablation, sizes, history, stream) -> dict:
    h = stream.header
    return {
        "dataset": dataset, "clip": meta["clip_id"], "kind": kind, "ablation": ablation["name"],
        "status": "ok", "error": None, "preset": ablation["preset"], "arch": h.model.arch,
        "params": sizes.parameters, "paper_params": sizes.paper_style_parameters, "bytes": sizes.bytes,
        "kbps": sizes.kbps, "paper_bytes": sizes.paper_style_bytes, "bits": h.quant.bits,
        "per_channel": h.quant.per_channel, "steps": history["steps"], "batch_size": history["fit"]["batch_size"],
        "lr": history["fit"]["lr"], "seed": history["seed"], "fit_seconds": history["seconds"],
        "fit_clips_together": history.get("clips_together", 1),
        "device": history["device"], "final_loss": history["final_loss"], "sample_rate": h.sample_rate,
        "duration_s": h.duration, **_source_columns(meta),
    }


# --- collect and figures -----------------------------------------------------------------
def failure_rows(failures: list[dict]) -> pd.DataFrame:
    """Rows naming clips that could not be read (found at workflow parse time)."""
    return pd.DataFrame([{"dataset": f["dataset"], "clip": f["clip_id"], "kind": f["kind"], "status": "failed",
                          "error": f["error"], "source": f["source"], "library_version": __version__} for f in failures])


def collect_tables(score_files: list, failures: list[dict], out_scores, out_summary, out_markdown) -> None:
    from .evaluation.tables import failed_rows, summarize, summary_markdown, write_parquet_atomic

    parts = [pd.read_parquet(f) for f in score_files]
    if failures:
        parts.append(failure_rows(failures))
    scores = pd.concat(parts, ignore_index=True)
    summary = summarize(scores)
    write_parquet_atomic(scores, out_scores)
    write_parquet_atomic(summary, out_summary)
    with atomic_path(out_markdown) as tmp:
        Path(tmp).write_text(summary_markdown(summary, failed_rows(scores)))
    print(f"collect: {len(scores)} rows ({len(failures)} failed clips), {len(summary)} summary rows")


def summary_figures(scores_path, summary_path, histories: list, out_bars, out_loss, out_rate_quality: list) -> None:
    from .evaluation.figures import plot_loss_curves, plot_metric_bars, plot_rate_quality

    from .baselines import CODECS

    scores, summary = pd.read_parquet(scores_path), pd.read_parquet(summary_path)
    plot_metric_bars(summary, out_bars)
    plot_loss_curves(mean_loss_curves(histories), out_loss, "Training loss, mean over clips")
    # one series per INR ablation / variant; one curve per classical codec through its levels
    is_codec = scores["arch"].isin(list(CODECS))
    scores["series"] = scores["ablation"].where(is_codec, scores["ablation"] + " / " + scores["variant"])
    for out in out_rate_quality:
        plot_rate_quality(scores, out, Path(out).stem.removeprefix("rate_quality_"), series=("series",))


def mean_loss_curves(histories: list) -> dict[str, list[float]]:
    """Geometric-mean loss per step over the clips of each dataset / ablation."""
    curves: dict[str, list] = {}
    for path in histories:
        parts = Path(path).parts  # results/<dataset>/<ablation>/fit/<clip>.json
        curves.setdefault(f"{parts[-4]} / {parts[-3]}", []).append(read_json(path)["loss_history"])
    return {label: np.exp(np.mean(np.log(np.array(runs)), axis=0)).tolist() for label, runs in curves.items()}


def spectrogram_figure(reference_wav, decoded: dict, out_png, title: str) -> None:
    from .evaluation.figures import plot_spectrograms

    ref, rate = sf.read(reference_wav, dtype="float64")
    recons = {label: sf.read(path, dtype="float64")[0] for label, path in decoded.items()}
    plot_spectrograms(ref, recons, rate, out_png, title)


def main_guard(fn, *args, **kwargs) -> None:
    """Run a stage; a bad-input error becomes a one-line message and exit status 1."""
    try:
        fn(*args, **kwargs)
    except SirenpipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


# --- the paper -----------------------------------------------------------------------------
def paper_comparison(scores_path, summary_md, run_config: dict, started_files: list, out_parquet, out_markdown,
                     out_results) -> None:
    """The paper's values beside ours (Parquet + Markdown) and RESULTS.md."""
    from .evaluation.paper import compare_with_paper, comparison_markdown, results_markdown
    from .evaluation.tables import write_parquet_atomic

    scores = pd.read_parquet(scores_path)
    comparison = compare_with_paper(scores)
    write_parquet_atomic(comparison, out_parquet)
    with atomic_path(out_markdown) as tmp:
        Path(tmp).write_text(comparison_markdown(comparison))
    start = min(Path(f).stat().st_mtime for f in started_files)
    end = Path(scores_path).stat().st_mtime
    run = {"description": describe_run(run_config, scores), "differences": paper_differences(run_config, scores),
           "wall_time": f"{(end - start) / 60:.1f} min from the first prepared clip to the final table", "version": __version__}
    with atomic_path(out_results) as tmp:
        Path(tmp).write_text(results_markdown(comparison, Path(summary_md).read_text(), run))


def describe_run(config: dict, scores: pd.DataFrame) -> str:
    """The datasets the table holds (configured ones that were absent are named as skipped)."""
    parts = []
    for name, spec in config["datasets"].items():
        rows = scores[scores.dataset == name]
        if rows.empty:
            parts.append(f"{name} ({spec['type']}: not present, skipped)")
            continue
        ok, failed = (rows[rows.status == status]["clip"].nunique() for status in ("ok", "failed"))
        parts.append(f"{name} ({spec['type']}, {ok} clip{'s' * (ok != 1)}" + (f", {failed} failed" if failed else "") + ")")
    fit = config.get("defaults", {}).get("fit", {})
    return (f"{', '.join(parts)}; {config['clip']['duration']:g} s clips at {config['clip']['sample_rate']} Hz; "
            f"{fit.get('steps', 2500)} steps, batch {fit.get('batch_size') or 'full'}; "
            f"{len(config['ablations'])} ablations")


def paper_differences(config: dict, scores: pd.DataFrame) -> list[str]:
    fit = config.get("defaults", {}).get("fit", {})
    out = []
    if config["clip"]["duration"] != 10:
        out.append(f"clips of {config['clip']['duration']:g} s, not 10 s (a shorter clip is easier to fit at equal size)")
    if config["clip"]["sample_rate"] != 22050:
        out.append(f"{config['clip']['sample_rate']} Hz, not 22050 Hz")
    if fit.get("steps", 2500) != 2500:
        out.append(f"{fit['steps']} training steps, not 2500 (less converged: lower scores expected)")
    if fit.get("batch_size"):
        out.append(f"random mini-batches of {fit['batch_size']} samples, not the full batch")
    speech = scores[(scores.kind == "speech") & (scores.status == "ok")]
    types = sorted({config["datasets"][d]["type"] for d in speech.dataset.unique()})
    if types != ["librispeech"]:
        out.append(f"speech from {', '.join(types) or 'no'} datasets (the demo's are telephone-band G.722 prompts and "
                   "Dutch voice actors), not LibriSpeech")
    floored = speech[speech.visqol <= 1.0 + 1e-6] if "visqol" in speech else speech.iloc[0:0]
    if len(floored):
        out.append(f"ViSQOL's speech model returns its floor, 1.0, for {len(floored)} of {len(speech)} speech scores "
                   "(strongly degraded clips); a mean at 1.00 means every clip hit the floor")
    out.append("the paper's CDPAM column needs the optional cdpam package (off unless metrics lists cdpam)")
    return out
