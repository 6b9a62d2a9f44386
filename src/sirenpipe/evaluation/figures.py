"""Figures for the evaluation report: log-mel spectrograms, loss curves, metric bars, rate–quality.

Every plotting function draws with the non-interactive Agg backend, labels its axes with units, applies
a tight layout, saves a PNG at 120 dpi atomically (temp file beside the target, then rename) and closes
the figure. Missing or NaN values are skipped; a figure with nothing to draw says so instead of failing,
so a workflow rule always gets its output file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.ticker  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.gridspec import GridSpec  # noqa: E402

from ..atomic import atomic_path  # noqa: E402
from ..baselines import CODECS  # noqa: E402
from ..metrics._signal import _hz_to_mel, mel_filterbank, power_spectrogram  # noqa: E402
from ..metrics.spectral import SNR_CAP_DB  # noqa: E402
from .bdrate import curve_labels  # noqa: E402
from .tables import VARIANT_ORDER, axis_label, ci95, ok_rows, summary_metrics  # noqa: E402

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "DPI",
    "METRIC_RANGES",
    "bootstrap_interval",
    "log_mel_spectrogram",
    "metric_range",
    "plot_loss_curves",
    "plot_metric_bars",
    "plot_rate_quality",
    "plot_spectrograms",
    "save_figure",
]

DPI = 120
DYNAMIC_RANGE_DB = 80.0
POWER_FLOOR = 1e-10
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "p", "8"]  # "*" marks a target bitrate


# ---------------------------------------------------------------------------------------------- helpers
def save_figure(fig, out_png: str | os.PathLike, *, tight: bool = True) -> Path:
    """Tight layout (unless the caller already applied one), save as PNG at :data:`DPI` via a temp file +
    rename, close the figure."""
    out_png = Path(out_png)
    try:
        if tight:
            fig.tight_layout()
        with atomic_path(out_png) as tmp:
            # bbox "tight" grows the canvas to what was drawn: a long legend beside the axes is never cut
            fig.savefig(tmp, dpi=DPI, format="png", bbox_inches="tight", pad_inches=0.1)
    finally:
        plt.close(fig)
    return out_png


def _save_with_legend(fig, out_png, handles: list, labels: list[str], title: str, *, bottom: float = 0.0) -> Path:
    """Lay the panels out leaving a 2.4-inch column on the right (and ``bottom`` of the height, as a
    fraction, below), put the figure's legend in that column, centred, and save."""
    legend_width = 2.4 / fig.get_figwidth()
    fig.tight_layout(rect=(0.0, bottom, 1.0 - legend_width, 1.0))
    fig.legend(
        handles,
        labels,
        title=title,
        loc="center left",
        bbox_to_anchor=(1.0 - legend_width + 0.005, 0.5),
        fontsize=9,
        frameon=False,
    )
    return save_figure(fig, out_png, tight=False)  # laid out above


def _no_data(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _colours(n: int) -> list:
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]


def _series_label(key) -> str:
    parts = key if isinstance(key, tuple) else (key,)
    return " / ".join("—" if p is None or (isinstance(p, float) and math.isnan(p)) else str(p) for p in parts)


def _ordered_keys(df: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """Distinct key tuples in table order, variants in the paper's order first."""
    keys = list(dict.fromkeys(df[columns].astype("object").itertuples(index=False, name=None)))
    if "variant" not in columns:
        return keys
    i = columns.index("variant")
    first_prefix: dict = {}
    for j, key in enumerate(keys):  # keep e.g. each ablation's variants together, ablations in table order
        first_prefix.setdefault(key[:i], j)
    rank = {v: r for r, v in enumerate(VARIANT_ORDER)}
    order = sorted(range(len(keys)), key=lambda j: (first_prefix[keys[j][:i]], rank.get(keys[j][i], len(rank)), j))
    return [keys[j] for j in order]


# ------------------------------------------------------------------------------------------ spectrogram
def log_mel_spectrogram(
    x: np.ndarray, sample_rate: int, n_mels: int = 128, n_fft: int = 1024, hop: int = 256
) -> np.ndarray:
    """Log-mel power spectrogram in dB, shape [n_mels, frames] (low frequencies first).

    Periodic-Hann STFT with centred frames and HTK mel triangles from 0 Hz to Nyquist (the helpers of
    :mod:`sirenpipe.metrics._signal`), 10·log10(max(power, 1e-10)). NaN/inf samples count as zeros.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D mono signal, got shape {x.shape}")
    x = np.where(np.isfinite(x), x, 0.0)
    mel_power = power_spectrogram(x, n_fft=n_fft, hop=hop) @ mel_filterbank(int(sample_rate), n_fft, n_mels).T
    return (10.0 * np.log10(np.maximum(mel_power, POWER_FLOOR))).T


def _mel_ticks(sample_rate: int) -> tuple[np.ndarray, list[str]]:
    nyquist = sample_rate / 2
    candidates = [0, 500, 1000, 2000, 4000, 8000, 16000, 32000]  # 250 would crowd 0 and 500
    hz = [f for f in candidates if f <= nyquist]
    return _hz_to_mel(np.array(hz, dtype=float)), [str(f) for f in hz]


def plot_spectrograms(
    ref: np.ndarray,
    recons: dict[str, np.ndarray | None],
    sample_rate: int,
    out_png: str | os.PathLike,
    title: str,
    *,
    n_mels: int = 128,
    n_fft: int = 1024,
    hop: int = 256,
) -> Path:
    """Stacked log-mel spectrograms: the original on top, then one panel per reconstruction label.

    All panels share one colour scale in dB relative to the original's peak (0 dB) down to -80 dB, with a
    colorbar; the y axis is mel-spaced with ticks labelled in Hz. A reconstruction that is None, empty or
    entirely non-finite is drawn as an empty panel marked "not available".
    """
    panels = [("Original", ref)] + list(recons.items())
    spectra = []
    for _, signal in panels:
        signal = None if signal is None else np.asarray(signal, dtype=np.float64)
        if signal is None or signal.size == 0 or not np.isfinite(signal).any():
            spectra.append(None)
        else:
            spectra.append(log_mel_spectrogram(signal, sample_rate, n_mels=n_mels, n_fft=n_fft, hop=hop))
    # 0 dB = the original's peak; if the original is missing or silent, the loudest panel's
    peaks = [float(s.max()) if s is not None else -np.inf for s in spectra]
    floor_db = 10.0 * np.log10(POWER_FLOOR)
    original_peak = peaks[0] > floor_db
    peak = peaks[0] if original_peak else max(peaks)
    peak = peak if np.isfinite(peak) else 0.0
    vmin, vmax = -DYNAMIC_RANGE_DB, 0.0

    mel_top = float(_hz_to_mel(sample_rate / 2))  # filter centres are equally spaced on the mel axis
    durations = [np.asarray(s).size / sample_rate for _, s in panels if s is not None]
    t_max = max(durations) if durations else 1.0
    ticks, tick_labels = _mel_ticks(sample_rate)

    n = len(panels)
    fig = plt.figure(figsize=(9.0, 1.0 + 1.9 * n))
    grid = GridSpec(n, 2, figure=fig, width_ratios=[1.0, 0.025])  # no local wspace: tight_layout sets it
    axes = [fig.add_subplot(grid[0, 0])]
    axes += [fig.add_subplot(grid[i, 0], sharex=axes[0], sharey=axes[0]) for i in range(1, n)]
    image = None
    for ax, (label, signal), spectrum in zip(axes, panels, spectra):
        if spectrum is None:
            ax.text(0.5, 0.5, "not available", ha="center", va="center", transform=ax.transAxes, color="0.4")
        else:
            t_end = np.asarray(signal).size / sample_rate
            image = ax.imshow(
                spectrum - peak,
                origin="lower",
                aspect="auto",
                cmap="magma",
                vmin=vmin,
                vmax=vmax,
                extent=(0.0, t_end, 0.0, mel_top),  # bands drawn edge to edge (< half a band off)
                interpolation="nearest",
            )
        ax.set_title(str(label), loc="left", fontsize=10)
        ax.set_ylabel("Frequency (Hz)")
        ax.set_yticks(ticks, tick_labels)
        ax.set_ylim(0.0, mel_top)
        ax.set_xlim(0.0, t_max)
        if ax is not axes[-1]:
            ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel("Time (s)")
    fig.suptitle(title)
    # Lay out with a plain axes holding the colorbar's ticks and label (tight_layout cannot handle a
    # colorbar axes), then draw the colorbar into it.
    cbar_label = "Level (dB re. " + ("original peak)" if original_peak else "loudest panel's peak)")
    cax = fig.add_subplot(grid[:, 1])
    cax.set_ylim(vmin, vmax)
    cax.set_xticks([])
    cax.yaxis.tick_right()
    cax.yaxis.set_label_position("right")
    cax.set_ylabel(cbar_label)
    fig.tight_layout()
    if image is None:
        image = plt.cm.ScalarMappable(norm=plt.Normalize(vmin, vmax), cmap="magma")
    fig.colorbar(image, cax=cax, label=cbar_label)
    return save_figure(fig, out_png, tight=False)  # laid out above


# ----------------------------------------------------------------------------------------- loss curves
def plot_loss_curves(histories: dict[str, list[float]], out_png: str | os.PathLike, title: str) -> Path:
    """Training MSE (log scale) against step (1-based), one line per label; non-finite or non-positive
    losses are skipped. A value may also be a pandas Series or dict {step: loss}."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    drawn = 0
    for label, history in histories.items():
        if history is None:
            continue
        if isinstance(history, dict):
            history = pd.Series(history, dtype=float)
        if isinstance(history, pd.Series):
            steps, loss = np.asarray(history.index, dtype=float), np.asarray(history.to_numpy(), dtype=float)
        else:
            loss = np.asarray(history, dtype=float).ravel()
            steps = np.arange(1, loss.size + 1, dtype=float)
        keep = np.isfinite(loss) & (loss > 0)
        if not keep.any():
            continue
        ax.plot(steps[keep], loss[keep], label=str(label), linewidth=1.3)
        drawn += 1
    if drawn:
        ax.set_yscale("log")
        ax.legend(title="Run", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    else:
        _no_data(ax, "no finite loss values")
    ax.set_xlabel("Step")
    ax.set_ylabel("Training loss (MSE, log scale)")
    ax.set_title(title)
    return save_figure(fig, out_png)


# ----------------------------------------------------------------------------------------- metric bars
# The values each metric can take (low, high; None: unbounded), from its definition in metrics/*.py:
# ViSQOL and PESQ-WB are MOS-LQO on the 1–5 scale; STOI and ESTOI are means of correlation
# coefficients (−1..1, in practice 0..1); SNR is capped at 100 dB, PSNR of [0, 1]-scaled audio lies
# in 0..100 dB; LSD, the mel distance and CDPAM are distances (>= 0). An unknown column is unbounded.
METRIC_RANGES: dict[str, tuple[float | None, float | None]] = {
    "visqol": (1.0, 5.0),
    "pesq": (1.0, 5.0),
    "stoi": (-1.0, 1.0),
    "estoi": (-1.0, 1.0),
    "snr": (None, SNR_CAP_DB),
    "psnr": (0.0, 100.0),
    "lsd": (0.0, None),
    "mel_distance": (0.0, None),
    "cdpam": (0.0, None),
}
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
BARS_NOTE = (
    "Bars: mean over clips; dots: the clips; error bars: 95 % percentile-bootstrap interval of the mean "
    f"({BOOTSTRAP_RESAMPLES} resamples of the clips, seed {BOOTSTRAP_SEED}), within the metric's range."
)
CODECS_NOTE = " Classical codecs: each at its highest-bitrate level (all levels: the rate–quality figures)."


def metric_range(metric: str) -> tuple[float, float]:
    """(low, high) of the values ``metric`` can take (:data:`METRIC_RANGES`; ±inf where unbounded)."""
    low, high = METRIC_RANGES.get(metric, (None, None))
    return (-math.inf if low is None else low, math.inf if high is None else high)


def bootstrap_interval(
    values, metric: str | None = None, *, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile-bootstrap ``level`` interval of the mean of the finite ``values``: the clips are
    resampled with replacement ``resamples`` times (``numpy.random.default_rng(seed)``, so equal values
    give equal intervals), and the interval runs between the (1 − level)/2 and (1 + level)/2 quantiles
    of the resampled means, clipped to the metric's range (:func:`metric_range`). It never leaves
    the clips' own range, so never the metric's: a Student-t interval over three clips can (STOI above
    1, PESQ below 0). (NaN, NaN) with fewer than two finite values."""
    x = np.asarray(pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce"), dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    floor, ceiling = metric_range(metric) if metric is not None else (-math.inf, math.inf)
    return (float(np.clip(low, floor, ceiling)), float(np.clip(high, floor, ceiling)))


def _codec_ablations(scores: pd.DataFrame) -> set:
    """The ablations that are classical codecs: ``arch`` in CODECS (by name without an arch column)."""
    if "arch" in scores.columns:
        return set(scores.loc[scores["arch"].astype("object").isin(list(CODECS)), "ablation"])
    return {a for a in scores["ablation"] if a in CODECS} if "ablation" in scores.columns else set()


def _bar_series(summary: pd.DataFrame, codecs: set) -> tuple[dict, list[tuple], dict]:
    """The bars: {(series, dataset): summary row}, the series in order (a key per INR ablation /
    variant, then one per codec) and each series' legend label. A codec is drawn at its
    highest-bitrate level (largest mean kbps) per dataset."""
    codec = summary["ablation"].astype("object").isin(codecs)
    inr, coded = summary[~codec], summary[codec]
    if len(coded):
        kbps = pd.to_numeric(coded["kbps_mean"], errors="coerce").fillna(-math.inf)
        top = kbps.groupby([coded["dataset"].astype("object"), coded["ablation"].astype("object")], sort=False).idxmax()
        coded = coded.loc[list(top)]
    keys = _ordered_keys(inr, ["ablation", "variant"])
    labels = {k: _series_label(k) for k in keys}
    bars = {((r["ablation"], r["variant"]), r["dataset"]): r for _, r in inr.iterrows()}
    for name, rows in coded.groupby(coded["ablation"].astype("object"), sort=False):
        kbps = pd.to_numeric(rows["kbps_mean"], errors="coerce")
        low, high = f"{kbps.min():.0f}", f"{kbps.max():.0f}"
        levels = ", ".join(dict.fromkeys(map(str, rows["variant"])))
        keys.append((name, None))
        labels[(name, None)] = f"{name}, highest bitrate ({levels}, {low if low == high else f'{low}–{high}'} kbps)"
        bars.update({((name, None), r["dataset"]): r for _, r in rows.iterrows()})
    return bars, keys, labels


def plot_metric_bars(
    summary: pd.DataFrame,
    scores: pd.DataFrame,
    out_png: str | os.PathLike,
    metrics: list[str] | None = None,
    title: str = "Quality per ablation / decoder variant",
) -> Path:
    """One subplot per metric (``M_mean`` columns of :func:`~sirenpipe.evaluation.tables.summarize`):
    bars grouped per dataset, one bar (colour) per ablation / variant, its height the summary's mean.

    Over each bar, its clips (the "ok" rows of ``scores``) as dots, jittered sideways (seeded), and
    its 95 % percentile-bootstrap interval of the mean (:func:`bootstrap_interval`: within the
    clips' and so the metric's range; none with fewer than two clips). A classical codec has one
    bar per dataset, at its highest-bitrate level (the legend says which); the rate–quality figures
    show all its levels. Metrics that are absent or all-NaN are skipped; missing bars are left out.
    """
    wanted = summary_metrics(summary) if metrics is None else list(metrics)
    metrics = [
        m for m in wanted if f"{m}_mean" in summary.columns and np.isfinite(summary[f"{m}_mean"].astype(float)).any()
    ]
    if summary.empty or not metrics:
        fig, ax = plt.subplots(figsize=(6, 3))
        _no_data(ax, "no metric values to plot")
        ax.set_title(title)
        return save_figure(fig, out_png)

    ok = ok_rows(scores)
    datasets = list(dict.fromkeys(summary["dataset"].astype("object")))
    bars, series, labels = _bar_series(summary, _codec_ablations(ok))
    kinds = summary.groupby("dataset", sort=False)["kind"].first() if "kind" in summary.columns else {}
    colours = dict(zip(series, _colours(len(series))))
    width = 0.8 / len(series)
    clips = {key: group for key, group in ok.groupby(["dataset", "ablation", "variant"], sort=False)}
    jitter = np.random.default_rng(BOOTSTRAP_SEED)

    ncols = min(3, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols + 2.6, 3.6 * nrows + 0.9), squeeze=False)
    for ax, metric in zip(axes.ravel(), metrics):
        for s, key in enumerate(series):
            for d, dataset in enumerate(datasets):
                row = bars.get((key, dataset))
                if row is None or not np.isfinite(float(row[f"{metric}_mean"])):
                    continue
                x, mean = d - 0.4 + width * (s + 0.5), float(row[f"{metric}_mean"])
                ax.bar(x, mean, width * 0.92, color=colours[key], alpha=0.85)
                group = clips.get((dataset, row["ablation"], row["variant"]))
                values = pd.to_numeric(group[metric], errors="coerce").dropna() if group is not None else []
                if len(values):
                    offsets = jitter.uniform(-0.28, 0.28, len(values)) * width
                    ax.scatter(x + offsets, values, s=10, color="0.1", alpha=0.75, linewidths=0, zorder=3)
                low, high = bootstrap_interval(values, metric)
                if np.isfinite(low) and np.isfinite(high):
                    ax.errorbar(x, mean, yerr=[[max(mean - low, 0.0)], [max(high - mean, 0.0)]], fmt="none",
                                ecolor="0.15", elinewidth=1, capsize=2.5, zorder=4)
        ax.set_xticks(range(len(datasets)))
        ax.set_xticklabels([f"{d}\n({kinds[d]})" if d in kinds else str(d) for d in datasets], fontsize=9)
        ax.set_xlim(-0.5, len(datasets) - 0.5)
        ax.set_ylabel(axis_label(metric))
        ax.set_title(axis_label(metric).rstrip(" ↑↓"), fontsize=10)
        ax.axhline(0.0, color="0.3", linewidth=0.6)
        ax.grid(True, axis="y", alpha=0.3)
    for ax in axes.ravel()[len(metrics) :]:
        ax.set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[k], alpha=0.85) for k in series]
    handles.append(plt.Line2D([], [], marker="o", color="0.1", linestyle="none", markersize=3.5))
    fig.suptitle(title + "  (mean, clips, 95 % bootstrap CI)")
    note = BARS_NOTE + (CODECS_NOTE if any(k[1] is None for k in series) else "")
    fig.text(0.01, 0.01, note, fontsize=8, style="italic", color="0.35", ha="left", va="bottom", wrap=True)
    names = [labels[k] for k in series] + ["a clip"]
    return _save_with_legend(fig, out_png, handles, names, "Ablation / variant", bottom=0.45 / fig.get_figheight())


# ---------------------------------------------------------------------------------------- rate–quality
DODGE_FRACTION = 0.012  # sideways step between coinciding points, as a fraction of the panel's x span


def _limits_from_points(ax, x, y, log_x: bool) -> None:
    """Axes spanning the points (clips and means) with a margin, not the error bars: with two or
    three clips a Student-t interval is many times the spread and would squash every curve."""
    x, y = (np.asarray(pd.to_numeric(v, errors="coerce"), dtype=float) for v in (x, y))
    y = y[np.isfinite(y)]
    if y.size:
        pad = 0.08 * (y.max() - y.min()) or 0.5
        ax.set_ylim(y.min() - pad, y.max() + pad)
    x = x[np.isfinite(x) & ((x > 0) | (not log_x))]
    if x.size:
        if log_x:
            ax.set_xlim(x.min() / 1.25, x.max() * 1.25)
        else:
            pad = 0.08 * (x.max() - x.min()) or 0.5
            ax.set_xlim(x.min() - pad, x.max() + pad)


def _dodge(xs: list[float], log_x: bool) -> list[float]:
    """Sideways shifts (factors on a log axis, offsets on a linear one) that spread points whose x
    values coincide within 1 % symmetrically around their true x; 1.0 / 0.0 for the others."""
    identity = 1.0 if log_x else 0.0
    shifts = [identity] * len(xs)
    if len(xs) < 2:
        return shifts
    x = np.asarray(xs, dtype=float)
    lo, hi = float(x.min()), float(x.max())
    if log_x:
        span = max(math.log10(hi / lo), math.log10(1.5))
    else:
        span = max(hi - lo, 0.2 * max(abs(hi), 1e-9))
    order = np.argsort(x, kind="stable")
    clusters, current = [], [order[0]]
    for i in order[1:]:
        if abs(x[i] - x[current[0]]) <= 0.01 * max(abs(x[current[0]]), 1e-12):
            current.append(i)
        else:
            clusters.append(current)
            current = [i]
    clusters.append(current)
    for cluster in clusters:
        cluster = sorted(cluster)  # series order, so the legend order reads left to right
        for j, i in enumerate(cluster):
            step = (j - (len(cluster) - 1) / 2) * DODGE_FRACTION * span
            shifts[i] = 10.0**step if log_x else step
    return shifts


def plot_rate_quality(
    scores: pd.DataFrame,
    out_png: str | os.PathLike,
    metric: str,
    *,
    series: tuple[str, ...] = ("ablation", "variant"),
    title: str | None = None,
    curves: bool | None = None,
) -> Path:
    """Bitrate (kbps, log scale) against ``metric`` from the per-clip rows (status "ok"), one panel per
    dataset (its kind in the title).

    Each series gets its own colour and marker: faint per-clip points plus the mean with 95 % CI error
    bars in both directions. A series' operating points (distinct ``ablation`` / ``preset`` values not in
    ``series``, e.g. Opus at 6/12/24 kbps) each get a mean point, joined by a line in bitrate order.

    Series are the distinct values of the ``series`` columns (default ablation / variant), or, with
    ``curves`` (default: when the table has a ``curve`` column), rate–quality curves: "curve / variant"
    for INR rows on a curve, the codec name for a classical codec's rows, and the ``series`` values for
    an ablation on no curve. A point whose ``target_kbps`` is set is drawn as a star annotated "target X
    kbps". Rows without a finite kbps or metric value are skipped.
    """
    title = title or f"Rate–quality: {axis_label(metric).rstrip(' ↑↓')}"
    ok = ok_rows(scores).copy()
    has_data = metric in ok.columns and "kbps" in ok.columns
    if has_data:
        ok[metric] = pd.to_numeric(ok[metric], errors="coerce").astype(float)
        ok["kbps"] = pd.to_numeric(ok["kbps"], errors="coerce").astype(float)
        ok = ok[np.isfinite(ok[metric]) & np.isfinite(ok["kbps"])]
        has_data = not ok.empty
    if not has_data:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        _no_data(ax, f"no {metric} values with a bitrate")
        ax.set_xlabel("Bitrate (kbps)")
        ax.set_ylabel(axis_label(metric))
        ax.set_title(title)
        return save_figure(fig, out_png)

    series = list(series)
    for column in ["dataset", *series]:
        if column not in ok.columns:
            ok[column] = None
    legend_title = " / ".join(s.capitalize() for s in series)
    use_curves = "curve" in ok.columns if curves is None else curves
    if use_curves:
        ok["_curve"] = _curve_series(ok, series)
        series, legend_title = ["_curve"], "Curve / Variant"
    point_key = [c for c in ("ablation", "preset") if c in ok.columns and c not in series] or None
    keys = _ordered_keys(ok, series)
    colours = dict(zip(keys, _colours(len(keys))))
    markers = {k: _MARKERS[i % len(_MARKERS)] for i, k in enumerate(keys)}
    datasets = list(dict.fromkeys(ok["dataset"].astype("object")))
    kbps_all = ok["kbps"].to_numpy()
    log_x = kbps_all.min() > 0

    ncols = min(3, len(datasets))
    nrows = math.ceil(len(datasets) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols + 2.6, 4.0 * nrows + 0.4), squeeze=False)
    mode_column = f"{metric}_mode"
    dodged = False
    for ax, dataset in zip(axes.ravel(), datasets):
        rows = ok[ok["dataset"].astype("object") == dataset]
        points = []  # (series key, clip rows) per operating point
        for key in keys:
            match = rows[(rows[series].astype("object") == pd.Series(key, index=series)).all(axis=1)]
            groups = match.groupby(point_key, sort=False, dropna=False) if point_key else [(None, match)]
            points += [(key, group) for _, group in groups if not group.empty]
        shifts = _dodge([group["kbps"].mean() for _, group in points], log_x)
        dodged |= any(shift != (1.0 if log_x else 0.0) for shift in shifts)
        means: dict = {}
        annotated: set = set()
        for (key, group), shift in zip(points, shifts):
            colour, marker = colours[key], markers[key]
            kbps = group["kbps"] * shift if log_x else group["kbps"] + shift
            ax.scatter(kbps, group[metric], s=16, color=colour, marker=marker, alpha=0.3, linewidths=0)
            x, y = kbps.mean(), group[metric].mean()
            xerr, yerr = ci95(group["kbps"]), ci95(group[metric])
            ax.errorbar(
                x,
                y,
                xerr=xerr if np.isfinite(xerr) else None,
                yerr=yerr if np.isfinite(yerr) else None,
                fmt=marker,
                color=colour,
                markersize=7,
                markeredgecolor="black",
                markeredgewidth=0.6,
                elinewidth=1.2,
                capsize=3,
            )
            means.setdefault(key, []).append((x, y))
            target = _first_finite(group["target_kbps"]) if "target_kbps" in group.columns else None
            if target is not None:
                ax.plot(
                    x,
                    y,
                    marker="*",
                    markersize=15,
                    color=colour,
                    markeredgecolor="black",
                    markeredgewidth=0.6,
                    linestyle="none",
                    zorder=3,
                )
                point = tuple(group[point_key].iloc[0]) if point_key else None
                if (point, target) not in annotated:  # once per point, not per decoder variant
                    annotated.add((point, target))
                    ax.annotate(
                        f"target {target:g} kbps",
                        (x, y),
                        xytext=(6, 6),
                        textcoords="offset points",
                        fontsize=8,
                        color="0.2",
                    )
        for key, xy in means.items():
            if len(xy) > 1:  # several operating points of one series: a rate-quality curve
                ax.plot(*zip(*sorted(xy)), color=colours[key], linewidth=1.2)
        _limits_from_points(ax, rows["kbps"], rows[metric], log_x)  # few clips' CIs would flatten the curves
        if log_x:
            ax.set_xscale("log")
            wide = kbps_all.max() / kbps_all.min() > 8
            subs = (1.0, 2.0, 5.0) if wide else (1.0, 1.2, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
            ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=subs))
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        kind = rows["kind"].dropna().iloc[0] if "kind" in rows.columns and rows["kind"].notna().any() else None
        modes = rows[mode_column].dropna().unique() if mode_column in rows.columns else []
        subtitle = str(dataset) + (f" ({kind})" if kind else "")
        if len(modes):
            subtitle += f"\nmode: {', '.join(map(str, modes))}"
        ax.set_title(subtitle, fontsize=10)
        ax.set_xlabel("Bitrate (kbps)")
        ax.set_ylabel(axis_label(metric))
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes.ravel()[len(datasets) :]:
        ax.set_visible(False)

    handles = [
        plt.Line2D(
            [],
            [],
            color=colours[k],
            marker=markers[k],
            markeredgecolor="black",
            markeredgewidth=0.6,
            linestyle="none",
            markersize=7,
        )
        for k in keys
    ]
    fig.suptitle(title + "  (mean ± 95 % CI, cut at the axes; faint: clips)")
    bottom = 0.0
    if dodged:
        note = "Series at the same bitrate are offset sideways for legibility."
        fig.text(0.01, 0.01, note, fontsize=8, style="italic", color="0.35", ha="left", va="bottom")
        bottom = 0.2 / fig.get_figheight()
    return _save_with_legend(fig, out_png, handles, [_series_label(k) for k in keys], legend_title, bottom=bottom)


def _first_finite(values: pd.Series) -> float | None:
    values = pd.to_numeric(values, errors="coerce").astype(float)
    values = values[np.isfinite(values)]
    return float(values.iloc[0]) if len(values) else None


def _curve_series(rows: pd.DataFrame, series: list[str]) -> pd.Series:
    """Series label of each row in curve mode: "curve / variant", the codec name, or the series values."""
    curve = curve_labels(rows)
    own = pd.Series(
        [_series_label(k) for k in rows[series].astype("object").itertuples(index=False, name=None)],
        index=rows.index,
        dtype=object,
    )
    none = pd.Series(None, index=rows.index, dtype=object)
    variant = rows["variant"].astype(object) if "variant" in rows.columns else none
    codec = (rows["arch"] if "arch" in rows.columns else none).isin(list(CODECS))
    on_curve = curve.astype(str) + (" / " + variant.astype(str)).where(variant.notna() & ~codec, "")
    return on_curve.where(curve.notna(), own)
