"""BD-rate on curves whose answer is known by hand, the BD-rate table of a score table and the
RATE_DISTORTION.md document written from both."""

from __future__ import annotations

import datetime
import math
import os

import numpy as np
import pandas as pd
import pytest

from sirenpipe.evaluation.bdrate import (
    bd_quality,
    bd_rate,
    bd_rate_markdown,
    bd_rate_table,
    curve_labels,
    efficient_points,
)
from sirenpipe.evaluation.rd_report import (
    _rate_weight_cell,
    fit_time,
    point_table,
    rate_distortion_markdown,
    snakemake_command,
)
from sirenpipe.errors import SirenpipeError
from sirenpipe.pipeline.rate_distortion import write_rate_distortion

METHODS = ["pchip", "cubic"]
Q = np.array([30.0, 33.0, 36.0, 39.0, 42.0])  # e.g. PSNR (dB)
R = np.array([8.0, 12.0, 20.0, 31.0, 52.0])  # kbps, no simple law


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("factor, expected", [(0.5, -50.0), (2.0, 100.0), (1.0, 0.0)])
def test_constant_rate_ratio(method, factor, expected):
    assert bd_rate(R, Q, factor * R, Q, method=method) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_log_linear_curves_by_hand(method):
    """log r = a + b·q (ref) and a + c + b'·q (test): the mean of c + (b' − b)·q over the overlap."""
    a, b, c, b2 = 1.0, 0.08, -0.3, 0.1
    q_ref, q_test = np.linspace(30, 42, 5), np.linspace(34, 48, 6)  # overlap: 34..42
    r_ref, r_test = np.exp(a + b * q_ref), np.exp(a + c + b2 * q_test)
    expected = 100 * math.expm1(c + (b2 - b) * (34 + 42) / 2)
    assert bd_rate(r_ref, q_ref, r_test, q_test, method=method) == pytest.approx(expected, abs=1e-6)
    # same slope: exp(c) − 1 whatever the overlap
    r_same = np.exp(a + c + b * q_test)
    assert bd_rate(r_ref, q_ref, r_same, q_test, method=method) == pytest.approx(100 * math.expm1(c), abs=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_only_the_overlap_counts(method):
    """Points beyond the other curve's range change nothing where the fit is exact (log-linear)."""
    q = np.linspace(30, 45, 6)
    r_ref, r_test = np.exp(0.1 * q), np.exp(0.1 * q - 0.2)
    inside = bd_rate(r_ref, q, r_test, q, method=method)
    extended = bd_rate(np.append(r_ref, [np.exp(6.0)]), np.append(q, [60.0]), r_test, q, method=method)
    assert inside == pytest.approx(100 * math.expm1(-0.2), abs=1e-6)
    assert extended == pytest.approx(inside, abs=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_no_overlap_is_nan(method):
    assert math.isnan(bd_rate(R, Q, R, Q + 20.0, method=method))
    assert math.isnan(bd_rate(R, Q, R, Q + (Q[-1] - Q[0]), method=method))  # touching in one point
    assert math.isnan(bd_quality(R, Q, R * 100.0, Q, method=method))


@pytest.mark.parametrize("method", METHODS)
def test_swapping_the_curves_inverts_the_ratio(method):
    r_test, q_test = R * np.array([0.7, 0.6, 0.65, 0.8, 0.9]), Q + np.array([1.0, 0.5, 0.0, 0.2, 0.1])
    x, y = bd_rate(R, Q, r_test, q_test, method=method) / 100, bd_rate(r_test, q_test, R, Q, method=method) / 100
    assert x < 0 < y and (1 + x) * (1 + y) == pytest.approx(1.0, abs=1e-9)
    assert bd_quality(R, Q, r_test, q_test, method=method) == pytest.approx(
        -bd_quality(r_test, q_test, R, Q, method=method), abs=1e-9
    )


def test_bd_quality_by_hand():
    """q = 10·log10(r) + k: at equal rate the test is k₁ − k₀ better (linear, both methods exact)."""
    r = np.array([4.0, 8.0, 16.0, 32.0])
    for method in METHODS:
        assert bd_quality(r, 10 * np.log10(r), r * 1.5, 10 * np.log10(r * 1.5) + 2.0, method=method) == pytest.approx(
            2.0
        )


def test_too_few_points_and_bad_method():
    with pytest.raises(ValueError, match="cubic needs 4"):
        bd_rate(R[:3], Q[:3], R, Q, method="cubic")
    with pytest.raises(ValueError, match="test has 1, pchip needs 2"):
        bd_rate(R, Q, R[:1], Q[:1])
    assert bd_rate(R[:2], Q[:2], R[:2] / 2, Q[:2]) == pytest.approx(-50.0)  # pchip: two points are enough
    with pytest.raises(ValueError, match="method"):
        bd_rate(R, Q, R, Q, method="spline")
    with pytest.raises(ValueError, match="rates"):
        bd_rate(R, Q[:4], R, Q)


def test_efficient_points_drop_dominated_duplicate_and_invalid():
    rate = [10, 20, 15, 30, 30, np.nan, 0, 40]
    quality = [1, 2, 2, 3, 2.5, 4, 5, 2.9]  # 20 @ 2 loses to 15 @ 2; 30 @ 2.5 and 40 @ 2.9 lose to 30 @ 3
    r, q = efficient_points(rate, quality)
    assert list(r) == [10, 15, 30] and list(q) == [1, 2, 3]
    r, q = efficient_points(R[::-1], Q[::-1])  # any input order
    assert list(r) == list(R) and list(q) == list(Q)


# ------------------------------------------------------------------------------------------- table
LEVELS = [6.0, 12.0, 24.0, 48.0]  # opus kbps


def _rows(dataset, kind, curve, point, variant, kbps, quality, arch="siren"):
    return [
        dict(
            dataset=dataset,
            kind=kind,
            clip=f"c{i}",
            ablation=point if arch == "siren" else arch,
            arch=arch,
            preset=point if arch != "siren" else "siamese-siren",
            variant=variant,
            curve=curve,
            target_kbps=None,
            kbps=kbps * (1 + d),
            psnr=quality + d,
            pesq=quality / 10,
            lsd=50 - quality,
            status="ok",
        )
        for i, d in enumerate((-0.01, 0.0, 0.01))
    ]


def make_scores() -> pd.DataFrame:
    """opus: psnr = 30 + 5·log2(kbps/6); ptq-int8 needs 2× opus's rate, with "siamese" 1 dB above "f0";
    a lone ablation (curve None) and a music dataset where ptq-int8 does not reach opus's quality."""
    rows = []
    for k in LEVELS:
        q = 30 + 5 * math.log2(k / 6)
        rows += _rows("speech", "speech", None, f"opus-{k:g}", f"level {k:g}", k, q, arch="opus")
        rows += _rows("music", "music", None, f"opus-{k:g}", f"level {k:g}", k, q, arch="opus")
    for width, k in zip((64, 128, 256), (12.0, 24.0, 48.0)):
        q = 30 + 5 * math.log2(k / 2 / 6)
        rows += _rows("speech", "speech", "ptq-int8", f"w{width}", "siamese", k, q + 1)
        rows += _rows("speech", "speech", "ptq-int8", f"w{width}", "f0", k, q)
        rows += _rows("music", "music", "ptq-int8", f"w{width}", "siamese", k, q - 40)
    rows += _rows("speech", "speech", None, "lone", "siamese", 100.0, 60.0)
    rows.append(dict(dataset="speech", kind="speech", clip="bad", status="failed"))
    return pd.DataFrame(rows)


def test_curve_labels():
    scores = make_scores()
    labels = curve_labels(scores)
    assert set(labels[scores.arch == "opus"]) == {"opus"}
    assert set(labels[scores.ablation == "w64"]) == {"ptq-int8"}
    assert labels[scores.ablation == "lone"].isna().all()
    old = curve_labels(scores.drop(columns=["curve"]))  # a table from before the curve column
    assert set(old.dropna()) == {"opus"}


def test_bd_rate_table_and_markdown():
    table = bd_rate_table(make_scores(), ["psnr", "lsd", "visqol"], ("opus", "ptq-int8"))
    assert list(table.metric.unique()) == ["psnr", "lsd"]  # visqol has no values
    speech = table[(table.dataset == "speech") & (table.metric == "psnr")].set_index("curve")
    # siamese (1 dB better than f0) is chosen; 2× rate minus 1 dB of a 5 dB/octave curve: 2^(1 - 1/5)
    assert speech.loc["ptq-int8", "variant"] == "siamese" and speech.loc["ptq-int8", "points"] == 3
    expected = 100 * (2 ** (1 - 1 / 5) - 1)
    assert speech.loc["ptq-int8", "bd_rate_pct"] == pytest.approx(expected, abs=1e-6)  # clip spread is symmetric
    assert speech.loc["opus", "bd_rate_pct"] == pytest.approx(100 * (1 / (1 + expected / 100) - 1), abs=1e-6)
    assert pd.isna(speech.loc["opus", "variant"]) and speech.loc["opus", "reference"] == "ptq-int8"
    assert speech.loc["ptq-int8", "bd_quality"] == pytest.approx(-4.0, abs=1e-6)  # −5 dB/octave · 1 octave + 1 dB
    assert "lone" not in speech.index  # on no curve
    lsd = table[(table.dataset == "speech") & (table.metric == "lsd")].set_index("curve")  # lower is better
    assert lsd.loc["ptq-int8", "bd_rate_pct"] == pytest.approx(speech.loc["ptq-int8", "bd_rate_pct"], abs=1e-6)
    assert lsd.loc["ptq-int8", "bd_quality"] == pytest.approx(4.0, abs=1e-6)
    music = table[(table.dataset == "music") & (table.metric == "psnr")].iloc[0]
    assert math.isnan(music.bd_rate_pct) and music.reason == "no overlap"

    markdown = bd_rate_markdown(table)
    assert "### speech (speech): PSNR (dB) ↑" in markdown
    assert "| Curve | Variant | Points | vs opus | vs ptq-int8 |" in markdown
    assert f"| ptq-int8 | siamese | 3 | {expected:+.1f} % | — |" in markdown
    assert "| ptq-int8 | siamese | 3 | n/a (no overlap) | — |" in markdown


def test_bd_rate_table_edge_cases():
    scores = make_scores()
    few = bd_rate_table(scores[scores.ablation != "w64"], ["psnr"], ("opus", "ptq-int8"), method="cubic")
    assert set(few.reason.dropna()) == {
        "too few points: test has 2, cubic needs 4",
        "too few points: reference has 2, cubic needs 4",
    }
    absent = bd_rate_table(scores, ["psnr"], ("opus", "aac"))
    assert set(absent[absent.reference == "aac"].reason) == {"no reference points"}
    empty = bd_rate_table(scores.iloc[0:0], ["psnr"], ("opus",))
    assert empty.empty and "No curves to compare." in bd_rate_markdown(empty)


# ------------------------------------------------------------------------- RATE_DISTORTION.md
def _rd_scores(stream_variant="blind", steps=1000) -> pd.DataFrame:
    """Speech (2 clips) and music (1 clip): opus at 3 levels, the paper-int8 curve at 3 widths decoded
    with "mean" and "siamese" (siamese better), a rate-controlled ablation (6 kbps target, clip "b"'s
    stream 6.3 kbps: over) and a failed clip. Fit seconds per clip: 100 / 50 / 25 + clip index / 7."""
    rows = []
    for dataset, kind, clips in (("speech-set", "speech", ["a", "b"]), ("music-set", "music", ["m"])):
        for i, clip in enumerate(clips):
            d = 0.01 * i
            src = dict(
                dataset=dataset,
                clip=clip,
                kind=kind,
                status="ok",
                error=None,
                sample_rate=22050,
                duration_s=5.0,
                library_version="0.1.0",
            )
            fit = dict(
                family="siren",
                preset="siamese-siren",
                arch="siamese",
                steps=steps,
                batch_size=16384,
                lr=1e-4,
                seed=0,
                device="cpu",
                final_loss=1e-3,
            )
            for level, kbps in ((0.9, 32.0), (0.95, 20.0), (0.98, 12.0)):
                rows.append(
                    dict(
                        src,
                        ablation="opus",
                        preset=f"opus-{level:g}",
                        arch="opus",
                        bytes=kbps * 625,
                        kbps=kbps,
                        variant=f"level {level:g}",
                        pesq=1 + math.log2(kbps) / 2 + d,
                        visqol=2.0 + kbps / 40,
                        psnr=20 + 5 * math.log2(kbps / 6) + d,
                    )
                )
            for width, params, kbps, seconds in (
                (256, 150000, 48.0, 100.0),
                (128, 40000, 24.0, 50.0),
                (64, 10000, 12.0, 25.0 + i),
            ):
                for variant, bonus in (("mean", 0.0), ("siamese", 0.2)):
                    rows.append(
                        dict(
                            src,
                            **fit,
                            ablation=f"paper-int8-w{width}",
                            curve="paper-int8",
                            target_kbps=None,
                            params=params,
                            bytes=kbps * 625,
                            kbps=kbps,
                            bits=8,
                            per_channel=False,
                            stream_variant=stream_variant,
                            coding="fixed",
                            float_bits=32,
                            quant_aware=False,
                            rate_weight=0.0,
                            fit_seconds=seconds,
                            variant=variant,
                            pesq=1 + math.log2(kbps / 2) / 2 + bonus + d,
                            visqol=1.5 + kbps / 40 + bonus,
                            psnr=20 + 5 * math.log2(kbps / 12) + bonus + d,
                        )
                    )
            kbps = 6.3 if clip == "b" else 5.5
            for variant in ("mean", "siamese"):
                rows.append(
                    dict(
                        src,
                        **fit,
                        ablation="rate-6k",
                        curve=None,
                        target_kbps=6.0,
                        params=3000,
                        bytes=kbps * 625,
                        kbps=kbps,
                        bits=6,
                        per_channel=True,
                        stream_variant="siamese",
                        coding="entropy",
                        float_bits=16,
                        quant_aware=True,
                        rate_weight=3e-4,
                        fit_seconds=7.0,
                        variant=variant,
                        pesq=1.2,
                        visqol=1.1,
                        psnr=15.0 + (variant == "siamese"),
                    )
                )
    rows.append(dict(dataset="speech-set", clip="bad", kind="speech", status="failed", error="silent"))
    return pd.DataFrame(rows)


RD_SETTINGS = {"reference_curves": ["opus", "paper-int8"]}
RD_CONFIG = {
    "clip": {"duration": 5.0, "sample_rate": 22050},
    "datasets": {"speech-set": {"type": "demo", "kind": "speech"}, "music-set": {"type": "demo", "kind": "music"}},
}


def _section(text: str, heading: str) -> str:
    """The text from a heading to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    body = text.split(heading + "\n", 1)[1]
    ends = [i for i in (body.find("\n" + "#" * n + " ") for n in range(1, len(level) + 1)) if i >= 0]
    return body[: min(ends)] if ends else body


def _point_means(scores, dataset, ablations, variant=None):
    ok = scores[(scores.dataset == dataset) & scores.ablation.isin(ablations) & (scores.status == "ok")]
    if variant:
        ok = ok[ok.variant == variant]
    key = "preset" if variant is None else "ablation"
    means = ok.groupby(key)[["kbps", "psnr", "pesq"]].mean()
    return means.sort_values("kbps")


def test_rate_distortion_markdown():
    scores = _rd_scores()
    table = bd_rate_table(scores, None, RD_SETTINGS["reference_curves"])
    text = rate_distortion_markdown(scores, table, RD_SETTINGS, RD_CONFIG, snakemake_command(["config/rd.yaml"]))

    # 1. what was run
    run = _section(text, "## What was run")
    assert "- clips: 5 s at 22050 Hz" in run
    assert "speech-set (demo; speech; 2 clips, 1 failed), music-set (demo; music; 1 clip)" in run
    assert (
        "- fit budget, the same for every ablation: 1000 steps, mini-batches of 16384 samples, lr 0.0001, "
        "seed 0, on cpu" in run
    )
    assert "opus (levels 0.9, 0.95, 0.98)" in run
    assert (
        "| paper-int8 | SIREN | paper-int8-w256, paper-int8-w128, paper-int8-w64 | 150,000 / 40,000 / 10,000 | 8 | PTQ "
        "| 0 | mse | per tensor | fixed | 32 | mean, siamese | — |"
    ) in run
    assert "| — | SIREN | rate-6k | 3,000 | 6 | QAT | 0.0003 | mse | per channel | entropy | 16 | mean, siamese | 6 |" in run

    # 2. the points: the BD-rate's variant (siamese), the stream's own (blind, not scored)
    speech = _section(text, "### speech-set (speech)")
    assert "Means over 2 clips" in speech
    w64 = _point_means(scores, "speech-set", ["paper-int8-w64"], "siamese").iloc[0]
    assert (f"| paper-int8 | paper-int8-w64 | siamese | 10,000 | 2 | {w64.kbps:.1f} | {w64.pesq:.2f} ± ") in speech
    assert speech.count("| blind | not scored |") == 3
    assert "| opus | opus-0.98 | — | — | 2 | 12.0 |" in speech
    assert "Means over 1 clip " in _section(text, "### music-set (music)")

    # 3. the BD-rate table: the number computed directly from the points' means
    opus = _point_means(scores, "speech-set", ["opus"])
    inr = _point_means(scores, "speech-set", [f"paper-int8-w{w}" for w in (64, 128, 256)], "siamese")
    expected = bd_rate(opus.kbps, opus.psnr, inr.kbps, inr.psnr)
    assert np.isfinite(expected)
    bd = _section(text, "## BD-rate")
    assert "negative = fewer bits than the reference at equal quality" in bd and "do not overlap" in bd
    psnr = _section(text, "### speech-set (speech): PSNR (dB) ↑")
    assert f"| paper-int8 | siamese | 3 | {expected:+.1f} % | — |" in psnr

    # 4. rate control: speech's clip b is over its target, music's one stream within
    rate = _section(text, "## Rate-controlled points")
    assert (
        "| speech-set | rate-6k | — | 6 | 5.90 | 6.30 | no (1 of 2 streams over) | 6 | 3,000 | siamese (stream's) |"
        in rate
    )
    assert "| music-set | rate-6k | — | 6 | 5.50 | 5.50 | yes (1 of 1 stream) | 6 | 3,000 | mean | 1 |" in rate

    # 5. how: the command and the fit time, a shared fit counted once
    how = _section(text, "## How this was generated")
    assert "`snakemake --configfile config/rd.yaml`" in how  # no cores: the profile sets them
    assert f"written {datetime.date.today().isoformat()} on " in how and " cores, torch " in how  # date, machine
    seconds = (100 + 50 + 25 + 7) + (100 + 50 + 26 + 7) + (100 + 50 + 25 + 7)
    assert f"Fitting took {seconds / 60:.1f} min in all ({seconds} s)" in how
    assert "12 distinct fits behind 12 ablation × clip pairs" in how


def test_curve_table_shows_the_range_of_rate_weights_that_adapted_to_targets():
    """A latent-grid curve's fits each adapt their rate weight to a target: the curve table shows
    the range, not every clip's weight; a fixed weight (with or without a target) shows as is."""
    adapted = {"rate_weight": [3e-4, 2e-6, 0.01], "target_kbps": [6.0, 12.0]}
    assert _rate_weight_cell(adapted) == "adapted, 2e-06–0.01"
    assert _rate_weight_cell({"rate_weight": [3e-4], "target_kbps": [6.0]}) == "0.0003"
    assert _rate_weight_cell({"rate_weight": [0.0, 3e-4], "target_kbps": []}) == "0, 0.0003"


def test_rate_distortion_markdown_variants_budgets_and_sharing():
    # the streams name "mean": decoding with it was scored, so its means are shown
    scores = _rd_scores(stream_variant="mean")
    text = rate_distortion_markdown(scores, bd_rate_table(scores, None, ("opus",)), {"reference_curves": ["opus"]})
    w64 = _point_means(scores, "music-set", ["paper-int8-w64"], "mean").iloc[0]
    assert f"| mean | PESQ-WB {w64.pesq:.2f}, ViSQOL MOS" in _section(text, "### music-set (music)")
    assert f"PSNR {w64.psnr:.2f} |" in _section(text, "### music-set (music)")
    assert "No ablation" not in text and "`snakemake`, written " in text and ". Fitting took" in text

    # a budget that differs between ablations is said so, per ablation
    scores = _rd_scores()
    scores.loc[scores.ablation == "rate-6k", "steps"] = 500
    text = rate_distortion_markdown(scores, bd_rate_table(scores, None, ("opus",)), {"reference_curves": ["opus"]})
    assert "- fit budget, which differs between ablations:" in text
    assert "  - 500 steps, mini-batches of 16384 samples, lr 0.0001, seed 0, on cpu: rate-6k" in text

    # ablations sharing a fit (same clip, model, fit settings and fit time) count it once
    shared = scores[scores.ablation == "paper-int8-w64"].assign(ablation="ptq8-w64", curve="ptq-8bit")
    both = pd.concat([scores, shared], ignore_index=True)
    assert fit_time(both)["fits"] == fit_time(scores)["fits"] == 12
    assert fit_time(both)["pairs"] == 15 and fit_time(both)["seconds"] == pytest.approx(fit_time(scores)["seconds"])

    # metrics that choose different variants: a row per variant, marked with its metrics
    scores = _rd_scores()
    better = (scores.variant == "mean") & (scores.curve == "paper-int8")
    scores.loc[better, "pesq"] += 1.0  # mean now wins PESQ, siamese still wins PSNR and ViSQOL
    points = point_table(scores, ["pesq", "psnr"], ("opus",))
    w64 = points[(points.dataset == "speech-set") & (points.ablation == "paper-int8-w64")]
    assert list(zip(w64.variant, w64.bd_metrics)) == [("mean", ["pesq"]), ("siamese", ["psnr"])]
    text = rate_distortion_markdown(
        scores,
        bd_rate_table(scores, ["pesq", "psnr"], ("opus",)),
        {"reference_curves": ["opus"], "metrics": ["pesq", "psnr"]},
    )
    assert "| paper-int8 | paper-int8-w64 | mean (BD-rate: pesq) |" in text
    assert "| paper-int8 | paper-int8-w64 | siamese (BD-rate: psnr) |" in text


def test_write_rate_distortion(tmp_path):
    scores = _rd_scores()
    scores_path = tmp_path / "scores.parquet"
    scores.to_parquet(scores_path, index=False)
    out = {name: tmp_path / name for name in ("bd_rate.parquet", "bd_rate.md", "RATE_DISTORTION.md")}
    write_rate_distortion(
        scores_path,
        RD_SETTINGS,
        *out.values(),
        run_config=RD_CONFIG,
        configfiles=[os.path.join(os.getcwd(), "config", "rd.yaml")],
    )  # as Snakemake has it
    table = pd.read_parquet(out["bd_rate.parquet"])
    text = out["RATE_DISTORTION.md"].read_text()
    assert text.startswith("# Rate and distortion\n") and "--configfile config/rd.yaml`" in text
    assert out["bd_rate.md"].read_text().split("\n\n", 2)[2].strip() in text  # bd_rate.md's tables
    row = table[(table.dataset == "speech-set") & (table.metric == "psnr") & (table.curve == "paper-int8")].iloc[0]
    assert f"{row.bd_rate_pct:+.1f} %" in text
    assert not list(tmp_path.glob(".*"))  # written atomically: no temporary file left
    # without a document path (a rule from before the document) only the tables are written
    other = tmp_path / "other"
    other.mkdir()
    write_rate_distortion(scores_path, RD_SETTINGS, other / "a.parquet", other / "a.md")
    assert sorted(p.name for p in other.iterdir()) == ["a.md", "a.parquet"]
    with pytest.raises(SirenpipeError, match="no reference_curves"):
        write_rate_distortion(scores_path, {}, other / "b.parquet", other / "b.md")
