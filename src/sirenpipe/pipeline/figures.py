"""Stages `figures` (metric bars, mean loss curves, bitrate vs quality per metric) and
`spectrogram` (log-mel spectrograms of a clip and its reconstructions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import soundfile as sf

from ..baselines import CODECS
from .io import read_json


def summary_figures(scores_path, summary_path, histories: list, history_labels: list[str], metrics: list[str],
                    out_bars, out_loss, out_rate_quality: list) -> None:
    """history_labels[i] names the run of histories[i] (e.g. "dataset / ablation"): the loss
    curves average the histories of each label. out_rate_quality[i] plots metrics[i]."""
    from ..evaluation.figures import plot_loss_curves, plot_metric_bars, plot_rate_quality

    if len(histories) != len(history_labels):
        raise ValueError(f"{len(histories)} fit histories but {len(history_labels)} labels")
    if len(metrics) != len(out_rate_quality):
        raise ValueError(f"{len(metrics)} metrics but {len(out_rate_quality)} rate-quality figures")
    scores, summary = pd.read_parquet(scores_path), pd.read_parquet(summary_path)
    plot_metric_bars(summary, scores, out_bars)
    runs: dict[str, list] = {}
    for label, path in zip(history_labels, histories):
        runs.setdefault(label, []).append(path)
    plot_loss_curves(mean_loss_curves(runs), out_loss, "Training loss, mean over clips")
    # one series per INR ablation / variant; one curve per classical codec through its levels
    is_codec = scores["arch"].isin(list(CODECS))
    scores["series"] = scores["ablation"].where(is_codec, scores["ablation"] + " / " + scores["variant"])
    for metric, out in zip(metrics, out_rate_quality):
        plot_rate_quality(scores, out, metric, series=("series",))


def mean_loss_curves(histories: dict[str, list]) -> dict[str, list[float]]:
    """Geometric-mean loss per step over the fit histories (JSON files) of each label."""
    curves = {}
    for label, paths in histories.items():
        runs = np.array([read_json(path)["loss_history"] for path in paths])
        curves[label] = np.exp(np.mean(np.log(runs), axis=0)).tolist()
    return curves


def spectrogram_figure(reference_wav, decoded: dict, out_png, title: str) -> None:
    """decoded: {panel label: WAV}, drawn under the reference in that order."""
    from ..evaluation.figures import plot_spectrograms

    ref, rate = sf.read(reference_wav, dtype="float64")
    recons = {label: sf.read(path, dtype="float64")[0] for label, path in decoded.items()}
    plot_spectrograms(ref, recons, rate, out_png, title)
