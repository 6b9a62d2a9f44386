"""Summary tables and figures built from a small, realistic per-clip scores table."""

from __future__ import annotations

import math
import os

import matplotlib.collections
import matplotlib.figure
import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pyarrow
import pytest

from conftest import speech_like
from sirenpipe.atomic import write_parquet
from sirenpipe.evaluation import figures
from sirenpipe.evaluation.tables import (
    axis_label,
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    METRIC_COLUMNS,
    ci95,
    failed_rows,
    summarize,
    summary_markdown,
)

T975_DF2 = 4.302652729911275  # scipy.stats.t.ppf(0.975, 2), from a t table
T975_DF1 = 12.706204736174698  # scipy.stats.t.ppf(0.975, 1)

ABLATIONS = {  # name -> (preset, params, kbps, variants)
    "siamese-siren": ("siamese-siren", 75_010, 150.0, ["f0", "mean", "siamese", "blind"]),
    "optimized-siren": ("optimized-siren", 37_506, 75.0, ["f0", "blind"]),
}
DATASETS = {"demo-speech": "speech", "demo-music": "music"}
VARIANT_OFFSET = {"f0": 0.0, "mean": 0.1, "siamese": 0.3, "blind": -0.2}
FAILED_ERROR = "FitDivergedError: fit diverged: loss is nan at step 12 | see log"


def _row(dataset, kind, clip, ablation, variant, c, rng) -> dict:
    preset, params, kbps, _ = ABLATIONS[ablation]
    kbps = kbps + 0.01 * c
    duration = 3.0
    quality = VARIANT_OFFSET[variant] + (0.4 if ablation == "siamese-siren" else 0.0) + 0.1 * c
    row = dict(
        dataset=dataset,
        clip=clip,
        kind=kind,
        ablation=ablation,
        variant=variant,
        status="ok",
        error=None,
        preset=preset,
        arch="siren",
        params=params,
        paper_params=params,
        bytes=int(kbps * 1000 / 8 * duration),
        kbps=kbps,
        paper_bytes=int(kbps * 1000 / 8 * duration),
        bits=8,
        per_channel=False,
        steps=300,
        batch_size=16384,
        lr=1e-4,
        seed=0,
        fit_seconds=30.0 + c,
        device="cpu",
        final_loss=1e-3 / (1 + c),
        sample_rate=22050,
        duration_s=duration,
        library_version="0.1.0",
        source=f"{clip}.flac",
        offset_s=0.0,
        license="GPL-2+",
    )
    visqol_mode = "speech-16k-lattice" if kind == "speech" else "audio-48k"
    values = {
        "visqol": (2.5 + quality, visqol_mode),
        "pesq": (1.5 + quality, "wb-16k"),
        "stoi": (0.7 + quality / 10, "10k-from-22050"),
        "estoi": (0.5 + quality / 10, "10k-from-22050"),
        "snr": (8.0 + 5 * quality + rng.normal(0, 0.5), "22050"),
        "lsd": (6.0 - quality + rng.normal(0, 0.1), "22050"),
        "mel_distance": (0.9 - quality / 5, "22050"),
        "cdpam": (None, None),
    }
    for metric, (value, mode) in values.items():
        row[metric], row[f"{metric}_mode"], row[f"{metric}_reason"] = value, mode, None
    row["cdpam_reason"] = "cdpam not installed (pip install sirenpipe[cdpam])"
    return row


def make_scores() -> pd.DataFrame:
    """2 datasets × 2 ablations (4 + 2 variants) × 3 clips, a few null metrics, one failed clip."""
    rng = np.random.default_rng(0)
    rows = []
    for dataset, kind in DATASETS.items():
        for c in range(3):
            clip = f"{kind}-{c:02d}"
            for ablation, (_, _, _, variants) in ABLATIONS.items():
                for variant in variants:
                    rows.append(_row(dataset, kind, clip, ablation, variant, c, rng))
    scores = pd.DataFrame(rows)
    group = (scores.dataset == "demo-speech") & (scores.ablation == "siamese-siren") & (scores.variant == "siamese")
    scores.loc[group, "visqol"] = [1.0, 2.0, 3.0]  # the hand-checked group
    scores.loc[group, "snr"] = [10.0, 12.0, np.nan]
    last = scores.index[group][-1]
    scores.loc[last, ["snr_mode", "snr_reason"]] = [None, "est contains NaN or inf (3 of 66150 samples)"]
    # PESQ could not be computed for one music clip of every variant
    short = (scores.dataset == "demo-music") & (scores["clip"] == "music-01")
    scores.loc[short, "pesq"] = np.nan
    scores.loc[short, "pesq_mode"] = None
    scores.loc[short, "pesq_reason"] = "too short: 4000 samples = 0.181 s at 22050 Hz (need >= 0.25 s)"
    failed = {column: None for column in scores.columns}
    failed.update(dataset="demo-music", clip="music-03", kind="music", status="failed", error=FAILED_ERROR)
    scores = pd.concat([scores, pd.DataFrame([failed])], ignore_index=True).infer_objects()
    for column in ["params", "paper_params", "bytes", "paper_bytes", "bits", "steps", "batch_size", "seed"]:
        scores[column] = scores[column].astype("Int64")  # integer columns with a null in the failed row
    return scores


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    return make_scores()


@pytest.fixture(scope="module")
def summary(scores) -> pd.DataFrame:
    return summarize(scores)


def _group(summary, dataset="demo-speech", ablation="siamese-siren", variant="siamese") -> pd.Series:
    match = summary[(summary.dataset == dataset) & (summary.ablation == ablation) & (summary.variant == variant)]
    assert len(match) == 1
    return match.iloc[0]


# ---------------------------------------------------------------------------------------------- tables
def test_metric_constants():
    """Derived from the metric registry: same names, order and directions as the tables always had."""
    assert METRIC_COLUMNS == ["visqol", "pesq", "stoi", "estoi", "snr", "psnr", "lsd", "mel_distance", "cdpam"]
    assert HIGHER_IS_BETTER == {"visqol", "pesq", "stoi", "estoi", "snr", "psnr"}
    assert LOWER_IS_BETTER == {"lsd", "mel_distance", "cdpam"}


def test_summary_mean_and_ci_by_hand(summary):
    row = _group(summary)
    assert row["n"] == 3
    assert row["visqol_mean"] == pytest.approx(2.0)
    assert row["visqol_ci95"] == pytest.approx(T975_DF2 * 1.0 / math.sqrt(3))
    assert row["visqol_ci95"] == pytest.approx(2.484, abs=5e-4)
    assert row["visqol_n"] == 3
    # snr 10, 12, null: mean 11 over the two values, std 1.414.., ci = t(0.975, 1) * std / sqrt(2)
    assert row["snr_mean"] == pytest.approx(11.0)
    assert row["snr_n"] == 2
    assert row["snr_ci95"] == pytest.approx(T975_DF1 * math.sqrt(2) / math.sqrt(2))
    assert row["visqol_mode"] == "speech-16k-lattice"
    assert row["kbps_mean"] == pytest.approx(150.01)
    assert row["params"] == 75_010


def test_summary_shape_and_null_counts(summary):
    assert len(summary) == 2 * (4 + 2)
    assert list(summary.columns[:8]) == [
        "dataset",
        "kind",
        "ablation",
        "variant",
        "n",
        "kbps_mean",
        "bytes_mean",
        "params",
    ]
    for m in ["visqol", "pesq", "stoi", "estoi", "snr", "lsd", "mel_distance"]:
        assert {f"{m}_mean", f"{m}_ci95", f"{m}_n"} <= set(summary.columns)
    assert not any(c.startswith("cdpam") for c in summary.columns)  # never computed
    music = summary[summary.dataset == "demo-music"]
    assert (music["pesq_n"] == 2).all() and (music["visqol_n"] == 3).all()
    assert set(music["visqol_mode"]) == {"audio-48k"}
    # paper variant order within each ablation, ablations in table order
    speech = summary[summary.dataset == "demo-speech"]
    assert list(zip(speech.ablation, speech.variant)) == [
        ("siamese-siren", "f0"),
        ("siamese-siren", "mean"),
        ("siamese-siren", "siamese"),
        ("siamese-siren", "blind"),
        ("optimized-siren", "f0"),
        ("optimized-siren", "blind"),
    ]


def test_failed_clip_is_excluded(scores, summary):
    assert summary["n"].sum() == (scores.status == "ok").sum() == 36
    assert summary["ablation"].notna().all() and summary["variant"].notna().all()
    assert (summary[summary.dataset == "demo-music"]["n"] == 3).all()
    assert list(failed_rows(scores)["clip"]) == ["music-03"]


def test_single_clip_has_no_ci(scores):
    one = summarize(scores[(scores["clip"] == "speech-00") & (scores.variant == "f0")])
    assert len(one) == 2 and (one["n"] == 1).all()
    assert one["visqol_ci95"].isna().all() and one["visqol_mean"].notna().all()
    assert math.isnan(ci95([1.0])) and math.isnan(ci95([])) and math.isnan(ci95([1.0, None, float("nan")]))
    assert ci95([1.0, 2.0, 3.0]) == pytest.approx(2.484, abs=5e-4)


def test_summary_of_nothing_ok(scores):
    empty = summarize(scores[scores.status == "failed"])
    assert empty.empty
    assert "No successfully scored clips" in summary_markdown(empty, scores)


def test_summary_markdown(scores, summary):
    text = summary_markdown(summary, failed_rows(scores))
    assert "| Dataset | Kind | Ablation | Variant |" in text
    assert "2.00 ± 2.48" in text  # the hand-checked group's ViSQOL
    assert "11.00 ± 12.71 (n=2)" in text  # SNR with one null
    assert "ViSQOL MOS ↑" in text and "LSD (dB) ↓" in text
    assert "↑ higher is better" in text and "↓ lower is better" in text
    assert "speech-16k-lattice" in text and "audio-48k" in text
    failed_part = text.split("## Failed clips", 1)[1]
    assert "demo-music" in failed_part and "music-03" in failed_part
    assert "fit diverged: loss is nan at step 12 \\| see log" in failed_part  # the pipe is escaped
    assert "music-03" not in text.split("## Failed clips", 1)[0]
    # whole scores table accepted as `failed`; no section when nothing failed
    assert summary_markdown(summary, scores) == text
    assert "Failed clips" not in summary_markdown(summary, None)
    assert "Failed clips" not in summary_markdown(summary, failed_rows(scores).iloc[0:0])


def test_write_parquet_round_trip(tmp_path, scores, summary):
    for name, df in {"scores.parquet": scores, "summary.parquet": summary}.items():
        path = write_parquet(df, tmp_path / "tables" / name)
        pd.testing.assert_frame_equal(pd.read_parquet(path), df.reset_index(drop=True))
    write_parquet(summary.head(2), tmp_path / "tables" / "summary.parquet")  # overwrite in place
    assert len(pd.read_parquet(tmp_path / "tables" / "summary.parquet")) == 2
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["scores.parquet", "summary.parquet"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "tables" / "summary.parquet").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_write_parquet_failure_leaves_nothing(tmp_path):
    bad = pd.DataFrame({"x": [1, "not an int", object()]})  # pyarrow cannot convert this column
    with pytest.raises(pyarrow.ArrowInvalid, match="Could not convert 'not an int' with type str"):
        write_parquet(bad, tmp_path / "bad.parquet")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------- figures
@pytest.fixture
def saved(monkeypatch):
    """Every Figure saved during the test, captured at savefig (its axes, labels and artists are
    inspected after the PNG is written and the figure closed)."""
    figs = []
    original = matplotlib.figure.Figure.savefig

    def spy(self, *args, **kwargs):
        figs.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    return figs


def _assert_png(path, min_width=200, min_height=150, min_std=0.05, min_ink=0.02):
    """A complete PNG that is not blank: pixel spread (std of RGB values) and the fraction of
    non-background pixels above floors (a white canvas has 0 and 0)."""
    assert path.exists() and path.stat().st_size > 0
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] >= min_height and image.shape[1] >= min_width
    rgb = image[..., :3]
    assert rgb.std() > min_std, f"{path.name}: pixel std {rgb.std():.4f}: blank?"
    ink = np.mean(np.any(np.abs(rgb - rgb[0, 0]) > 0.1, axis=-1))
    assert ink > min_ink, f"{path.name}: {ink:.2%} of pixels differ from the background"
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    return image


def _texts(artists) -> list[str]:
    return [t.get_text() for t in artists]


def _visible_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


def test_log_mel_spectrogram_peak_at_tone():
    sr = 16000
    t = np.arange(sr) / sr
    spec = figures.log_mel_spectrogram(np.sin(2 * np.pi * 1000 * t), sr, n_mels=64, n_fft=1024, hop=256)
    assert spec.shape == (64, sr // 256 + 1)
    mel_top = 2595 * np.log10(1 + 8000 / 700)
    centres_hz = 700 * (10 ** (np.arange(1, 65) * mel_top / 65 / 2595) - 1)
    assert abs(centres_hz[np.argmax(spec[:, 30])] - 1000) < 100
    assert spec.max() > 0 > spec.min() >= -100.0  # dB, floored at 1e-10 power
    silent = figures.log_mel_spectrogram(np.zeros(100), sr)
    assert np.all(silent == -100.0)


def test_plot_spectrograms(tmp_path, saved):
    ref = speech_like(16000, 1.0)
    recons = {"siamese": ref + 0.01 * np.sin(np.arange(ref.size)), "f0": ref * 0.5, "failed": None}
    out = figures.plot_spectrograms(ref, recons, 16000, tmp_path / "spec.png", "demo-speech / speech-00")
    image = _assert_png(out, min_std=0.1, min_ink=0.3)  # mostly dark magma panels
    assert image.shape[0] > image.shape[1] * 0.5  # four stacked panels
    (fig,) = saved
    *panels, cbar = fig.axes
    assert [ax.get_title(loc="left") for ax in panels] == ["Original", "siamese", "f0", "failed"]
    assert fig._suptitle.get_text() == "demo-speech / speech-00"
    assert all(ax.get_ylabel() == "Frequency (Hz)" for ax in panels)
    assert panels[-1].get_xlabel() == "Time (s)"
    assert _texts(panels[0].get_yticklabels()) == ["0", "500", "1000", "2000", "4000", "8000"]  # Hz on a mel axis
    assert cbar.get_ylabel() == "Level (dB re. original peak)"
    # one colour scale, 0 dB = the original's peak: the original peaks at 0 dB, f0 = ref / 2 at -6.02 dB
    levels = [ax.images[0].get_array() for ax in panels[:3]]
    assert levels[0].max() == pytest.approx(0.0, abs=1e-9)
    assert levels[2].max() == pytest.approx(20 * np.log10(0.5), abs=0.01)
    assert levels[1].max() == pytest.approx(0.0, abs=0.5)
    assert levels[0].shape == (128, 16000 // 256 + 1)
    assert panels[0].images[0].get_extent() == pytest.approx([0.0, 1.0, 0.0, figures._hz_to_mel(8000.0)])
    assert not panels[3].images and "not available" in _texts(panels[3].texts)  # the None reconstruction


def test_plot_loss_curves(tmp_path, saved):
    histories = {"siamese-siren": list(np.geomspace(0.1, 1e-4, 50)), "optimized-siren": [0.1, np.nan, 0.01, 0.0]}
    _assert_png(figures.plot_loss_curves(histories, tmp_path / "loss.png", "Training loss"))
    _assert_png(figures.plot_loss_curves({"x": [float("nan")]}, tmp_path / "none.png", "nothing"),
                min_std=0.01, min_ink=0.005)
    (ax,), (empty,) = saved[0].axes, saved[1].axes
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("Step", "Training loss (MSE, log scale)",
                                                                  "Training loss")
    assert ax.get_yscale() == "log"
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "Run" and _texts(legend.get_texts()) == ["siamese-siren", "optimized-siren"]
    full, gappy = ax.get_lines()
    assert list(full.get_xdata()) == list(range(1, 51)) and full.get_ydata() == pytest.approx(np.geomspace(0.1, 1e-4, 50))
    assert list(gappy.get_xdata()) == [1.0, 3.0] and list(gappy.get_ydata()) == [0.1, 0.01]  # NaN and 0 skipped, steps kept
    assert not empty.get_lines() and empty.get_legend() is None
    assert _texts(empty.texts) == ["no finite loss values"] and empty.get_title() == "nothing"


SERIES = ["siamese-siren / f0", "siamese-siren / mean", "siamese-siren / siamese", "siamese-siren / blind",
          "optimized-siren / f0", "optimized-siren / blind"]  # paper variant order within each ablation
BAR_METRICS = ["visqol", "pesq", "stoi", "estoi", "snr", "lsd", "mel_distance"]  # cdpam: never computed


def _with_codecs(scores) -> pd.DataFrame:
    """The scores plus Opus, Vorbis and MP3 at four levels each on every clip (the first level the highest
    bitrate, and the best), and a spread-out group whose Student-t intervals leave STOI's and PESQ's range."""
    base = scores[(scores.status == "ok") & (scores.ablation == "optimized-siren") & (scores.variant == "f0")]
    rows = [scores]
    for codec, levels in CODEC_LEVELS.items():
        for i, level in enumerate(levels):
            kbps = 32.0 / (i + 1) + len(codec)
            rows.append(base.assign(ablation=codec, arch=codec, variant=f"level {level:g}", preset=f"{codec}-{level:g}",
                                    kbps=kbps, visqol=base.visqol - 1.5 + kbps / 16, pesq=base.pesq - 1 + kbps / 20))
    out = pd.concat(rows, ignore_index=True)
    spread = (out.dataset == "demo-speech") & (out.ablation == "optimized-siren") & (out.variant == "blind")
    out.loc[spread, "stoi"], out.loc[spread, "pesq"] = SPREAD_STOI, SPREAD_PESQ
    return out


CODEC_LEVELS = {"opus": [0.9, 0.95, 0.97, 0.98], "vorbis": [0.3, 0.6, 0.9, 1.0], "mp3": [0.3, 0.6, 0.9, 0.99]}
SPREAD_STOI, SPREAD_PESQ = [0.2, 0.9, 0.95], [1.05, 1.1, 4.4]


def test_plot_metric_bars(tmp_path, scores, summary, saved):
    _assert_png(figures.plot_metric_bars(summary, scores, tmp_path / "bars.png"), min_width=600)
    _assert_png(figures.plot_metric_bars(summary, scores, tmp_path / "two.png", metrics=["visqol", "cdpam", "snr"]))
    _assert_png(figures.plot_metric_bars(summary.iloc[0:0], scores, tmp_path / "empty.png"), min_width=100,
                min_height=50, min_std=0.01, min_ink=0.005)
    bars, two, empty = saved
    axes = _visible_axes(bars)
    assert [ax.get_ylabel() for ax in axes] == [axis_label(m) for m in BAR_METRICS]
    assert axes[0].get_ylabel() == "ViSQOL MOS ↑" and axes[4].get_ylabel() == "SNR (dB) ↑"
    assert axes[5].get_ylabel() == "LSD (dB) ↓"
    assert [ax.get_title() for ax in axes] == [axis_label(m).rstrip(" ↑↓") for m in BAR_METRICS]
    assert _texts(axes[0].get_xticklabels()) == ["demo-speech\n(speech)", "demo-music\n(music)"]
    (legend,) = bars.legends
    assert legend.get_title().get_text() == "Ablation / variant" and _texts(legend.get_texts()) == [*SERIES, "a clip"]
    assert "95 % bootstrap CI" in bars._suptitle.get_text()
    assert _texts(bars.texts)[-1] == figures.BARS_NOTE and "percentile-bootstrap" in figures.BARS_NOTE  # no codecs
    # every bar's height is its group's mean, at its series' slot in its dataset's group
    width = 0.8 / len(SERIES)
    heights = {round(p.get_x() + p.get_width() / 2, 6): p.get_height() for p in axes[0].patches}
    assert len(heights) == len(SERIES) * 2
    for d, dataset in enumerate(DATASETS):
        for s, label in enumerate(SERIES):
            ablation, variant = label.split(" / ")
            x = round(d - 0.4 + width * (s + 0.5), 6)
            assert heights[x] == pytest.approx(_group(summary, dataset, ablation, variant)["visqol_mean"])
    assert heights[round(-0.4 + width * 2.5, 6)] == pytest.approx(2.0)  # the hand-checked group
    assert [ax.get_title() for ax in _visible_axes(two)] == ["ViSQOL MOS", "SNR (dB)"]  # cdpam has no values
    assert "no metric values to plot" in _texts(empty.axes[0].texts)


def _clip_points(ax) -> np.ndarray:
    """The (x, y) of every dot drawn by scatter (PathCollections; error bars are LineCollections)."""
    dots = [c.get_offsets() for c in ax.collections if isinstance(c, matplotlib.collections.PathCollection)]
    return np.concatenate(dots) if dots else np.empty((0, 2))


def test_metric_bars_draw_every_clip(tmp_path, scores, summary, saved):
    figures.plot_metric_bars(summary, scores, tmp_path / "bars.png", metrics=["visqol", "pesq", "snr"])
    visqol, pesq, snr = _visible_axes(saved[0])
    ok = scores[scores.status == "ok"]
    for ax, metric in ((visqol, "visqol"), (pesq, "pesq"), (snr, "snr")):
        points = _clip_points(ax)
        assert len(points) == ok[metric].notna().sum()  # one dot per clip with a value (NaNs: none)
        assert sorted(points[:, 1]) == pytest.approx(sorted(ok[metric].dropna()))
    # the hand-checked group's dots lie over its bar (x within the bar), at its clips' values
    width = 0.8 / len(SERIES)
    x = -0.4 + width * 2.5
    near = _clip_points(visqol)[np.abs(_clip_points(visqol)[:, 0] - x) < width / 2]
    assert sorted(near[:, 1]) == [1.0, 2.0, 3.0]


def test_metric_bars_show_each_codec_once(tmp_path, saved):
    scores = _with_codecs(make_scores())
    summary = summarize(scores)
    figures.plot_metric_bars(summary, scores, tmp_path / "bars.png", metrics=["visqol"])
    (ax,) = _visible_axes(saved[0])
    labels = _texts(saved[0].legends[0].get_texts())
    codecs = [label for label in labels if label.split(",")[0] in CODEC_LEVELS]
    assert [c.split(",")[0] for c in codecs] == list(CODEC_LEVELS)  # once each, in the table's order
    assert codecs[0] == "opus, highest bitrate (level 0.9, 36 kbps)"  # which level, said in the legend
    assert _texts(saved[0].texts)[-1] == figures.BARS_NOTE + figures.CODECS_NOTE
    assert len(ax.patches) == (len(SERIES) + len(CODEC_LEVELS)) * len(DATASETS)  # one bar per codec and dataset
    top = summary[(summary.ablation == "opus") & (summary.variant == "level 0.9") & (summary.dataset == "demo-music")]
    x = 1 - 0.4 + 0.8 / 9 * (len(SERIES) + 0.5)  # opus: the first bar after the ablations'
    (bar,) = [p for p in ax.patches if p.get_x() + p.get_width() / 2 == pytest.approx(x)]
    assert bar.get_height() == pytest.approx(top["visqol_mean"].iloc[0])
    assert len(_clip_points(ax)) == 36 + 3 * 2 * 3  # the ablations' clips, each codec's top level's clips


def test_bootstrap_interval_stays_in_the_metric_range():
    """Three clips that a Student-t interval carries outside the metric's range (STOI above 1, PESQ
    below 0); the percentile bootstrap stays within the clips' values, and so within the range."""
    for metric, values in (("stoi", SPREAD_STOI), ("pesq", SPREAD_PESQ)):
        low, high = figures.metric_range(metric)
        mean, t = np.mean(values), ci95(values)
        assert mean - t < low or mean + t > high  # the t-interval leaves the range
        lo, hi = figures.bootstrap_interval(values, metric)
        assert low <= min(values) <= lo < mean < hi <= max(values) <= high
        assert (lo, hi) == figures.bootstrap_interval(values, metric)  # seeded: deterministic
    assert np.mean(SPREAD_STOI) + ci95(SPREAD_STOI) > 1 and np.mean(SPREAD_PESQ) - ci95(SPREAD_PESQ) < 0
    # clipped to the range even where the values are not (a ViSQOL above 5 cannot be, so is not shown)
    assert figures.bootstrap_interval([5.0, 5.2, 5.4], "visqol")[1] == 5.0
    assert figures.metric_range("snr") == (-math.inf, 100.0) and figures.metric_range("x") == (-math.inf, math.inf)
    assert all(math.isnan(v) for v in figures.bootstrap_interval([0.5, float("nan")], "stoi"))  # one clip: none


def test_plot_rate_quality(tmp_path, scores, saved):
    _assert_png(figures.plot_rate_quality(scores, tmp_path / "rq.png", "visqol"), min_width=600)
    # a classical codec with several bitrates (presets) joins the table as an extra series
    opus = scores[(scores.status == "ok") & (scores.variant == "f0") & (scores.ablation == "optimized-siren")]
    opus = pd.concat(
        [
            opus.assign(
                ablation="classical",
                variant="opus",
                preset=f"opus-{k}k",
                kbps=float(k),
                visqol=opus.visqol - 1 + k / 24,
            )
            for k in (6, 12, 24)
        ]
    )
    _assert_png(figures.plot_rate_quality(pd.concat([scores, opus]), tmp_path / "rq-opus.png", "visqol"))
    _assert_png(figures.plot_rate_quality(scores, tmp_path / "rq-cdpam.png", "cdpam"), min_width=100, min_height=50,
                min_std=0.01, min_ink=0.005)
    one = scores[(scores["clip"] == "speech-00")]
    _assert_png(figures.plot_rate_quality(one, tmp_path / "rq-one.png", "snr"))
    rq, with_opus, cdpam, single = saved

    speech, music = _visible_axes(rq)
    assert speech.get_title() == "demo-speech (speech)\nmode: speech-16k-lattice"
    assert music.get_title() == "demo-music (music)\nmode: audio-48k"
    for ax in (speech, music):
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("Bitrate (kbps)", "ViSQOL MOS ↑")
    assert rq._suptitle.get_text() == "Rate–quality: ViSQOL MOS  (mean ± 95 % CI, cut at the axes; faint: clips)"
    for ax, dataset in ((speech, "demo-speech"), (music, "demo-music")):  # the axes span the points, with a margin
        values = scores[(scores.status == "ok") & (scores.dataset == dataset)].visqol.dropna()
        low, high = ax.get_ylim()
        assert low < values.min() and high > values.max() and high - low < 1.3 * (values.max() - values.min()) + 1.01
    (legend,) = rq.legends
    assert legend.get_title().get_text() == "Ablation / Variant" and _texts(legend.get_texts()) == SERIES
    # the hand-checked group's mean point: ViSQOL 2.0 near its 150.01 kbps (dodged sideways from its
    # ablation's other variants at the same bitrate, which the figure says)
    means = [line for line in speech.get_lines() if len(line.get_xdata()) == 1 and line.get_marker() not in "|_"]
    hand = [line for line in means if line.get_ydata()[0] == pytest.approx(2.0)]
    assert len(hand) == 1 and hand[0].get_xdata()[0] == pytest.approx(150.01, rel=0.05)
    assert "Series at the same bitrate are offset sideways for legibility." in _texts(rq.texts)

    speech, music = _visible_axes(with_opus)
    assert _texts(with_opus.legends[0].get_texts()) == [*SERIES, "classical / opus"]
    assert speech.get_xscale() == "log"  # 6 .. 150 kbps
    curves = [line for line in speech.get_lines() if len(line.get_xdata()) == 3]  # opus's 3 operating points
    assert len(curves) == 1 and list(curves[0].get_xdata()) == pytest.approx([6.0, 12.0, 24.0])
    assert list(curves[0].get_ydata()) == pytest.approx(sorted(curves[0].get_ydata()))  # more bits, better

    (ax,) = cdpam.axes
    assert _texts(ax.texts) == ["no cdpam values with a bitrate"] and ax.get_xlabel() == "Bitrate (kbps)"
    (ax,) = _visible_axes(single)
    assert ax.get_ylabel() == "SNR (dB) ↑" and ax.get_title().startswith("demo-speech (speech)")


def test_plot_rate_quality_draws_curves(tmp_path, scores, saved):
    """With a "curve" column: one line per curve / variant through its ablations, one per codec through
    its levels, in bitrate order; a point with a target bitrate is a star saying so."""
    curves = scores.assign(curve="ptq-int8", target_kbps=np.where(scores.ablation == "optimized-siren", 75.0, np.nan))
    base = scores[(scores.status == "ok") & (scores.variant == "f0") & (scores.ablation == "optimized-siren")]
    opus = pd.concat([base.assign(ablation="opus", arch="opus", variant=f"level {k}", preset=f"opus-{k}", curve=None,
                                  target_kbps=np.nan, kbps=float(k), visqol=base.visqol - 1 + k / 24)
                      for k in (24, 6, 12)])  # levels in any order
    table = pd.concat([curves, opus], ignore_index=True)
    _assert_png(figures.plot_rate_quality(table, tmp_path / "rq-curves.png", "visqol"), min_width=600)
    speech, music = _visible_axes(saved[0])
    (legend,) = saved[0].legends
    assert legend.get_title().get_text() == "Curve / Variant"
    assert _texts(legend.get_texts()) == ["ptq-int8 / f0", "ptq-int8 / mean", "ptq-int8 / siamese",
                                          "ptq-int8 / blind", "opus"]
    assert speech.get_xscale() == "log" and speech.get_xlabel() == "Bitrate (kbps)"
    lines = [line for line in speech.get_lines() if len(line.get_xdata()) > 1]
    assert sorted(len(line.get_xdata()) for line in lines) == [2, 2, 3]  # f0 and blind: both ablations; opus
    for line in lines:
        assert list(line.get_xdata()) == sorted(line.get_xdata())
    opus_line = next(line for line in lines if len(line.get_xdata()) == 3)
    assert list(opus_line.get_xdata()) == pytest.approx([6.0, 12.0, 24.0])
    stars = [line for line in speech.get_lines() if line.get_marker() == "*"]
    assert len(stars) == 2 and all(s.get_xdata()[0] == pytest.approx(75.0, rel=0.05) for s in stars)  # f0, blind
    assert _texts(speech.texts).count("target 75 kbps") == 1  # once per target
    # the workflow's call (one "series" column) and a table from before the curve column still work
    table["series"] = table["ablation"] + " / " + table["variant"]
    figures.plot_rate_quality(table, tmp_path / "rq-series.png", "visqol", series=("series",))
    assert _texts(saved[1].legends[0].get_texts())[-1] == "opus"
    figures.plot_rate_quality(table.drop(columns=["curve", "target_kbps"]), tmp_path / "rq-old.png", "visqol")
    assert saved[2].legends[0].get_title().get_text() == "Ablation / Variant"
