"""The Snakemake workflow: formatting, lint, a real end-to-end run of a tiny config, and the
rerun semantics (by dry-run job counts) that researchers rely on."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from conftest import speech_like
from sirenpipe.datasets import selection_rank

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
pytestmark = pytest.mark.slow

TINY = {
    "clip": {"duration": 1.0, "sample_rate": 16000},
    "datasets": {"speech": {"type": "folder", "kind": "speech", "glob": "audio/*.wav", "clips": 4, "seed": 0}},
    "defaults": {"siren": {"fit": {"steps": 30, "batch_size": 4096, "seed": 0, "device": "cpu"}, "quant": {"bits": 8}}},
    "ablations": [
        {"name": "siamese", "preset": "siamese-siren", "model": {"shared": [32, 32], "head_widths": [16]},
         "variants": ["f0", "siamese"]},
        {"name": "pe", "preset": "pe-siren", "model": {"shared": [32, 32]}, "variants": ["f0"],
         "fit": {"clips_per_fit": 2}},  # both clips in one batched fit (rules fit_clips + split_fit)
    ],
    "baselines": {"opus": [0.9, 0.98]},
    "metrics": ["pesq", "stoi", "snr", "lsd"],
    "figures": {"spectrogram_clips": 1},
}


def run(workdir: Path, *args: str, check: bool = True, version: str | None = None) -> subprocess.CompletedProcess:
    """Snakemake in workdir; with `version`, as if the library's version were that (its __version__ is set
    before the workflow imports it, so every rule's `version` param carries it)."""
    snakemake = SNAKEMAKE
    if version is not None:
        snakemake = [sys.executable, "-c", f"import sirenpipe, runpy; sirenpipe.__version__ = {version!r}; "
                     "runpy.run_module('snakemake', run_name='__main__', alter_sys=True)"]
    cmd = [*snakemake, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return result


def dry_run_jobs(workdir: Path, *args: str, version: str | None = None) -> Counter:
    """Jobs per rule that a dry run would execute (from Snakemake's job stats table)."""
    out = run(workdir, "-n", *args, version=version).stdout
    counts = Counter()
    if "Nothing to be done" in out:
        return counts
    table = out.split("Job stats:")[1]
    for line in table.splitlines()[3:]:
        m = re.match(r"^(\S+)\s+(\d+)$", line.strip())
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
        elif line.strip().startswith("total"):
            break
    return counts


def write_config(workdir: Path, config: dict) -> None:
    (workdir / "config").mkdir(exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("workflow")
    (d / "audio").mkdir()
    for i, name in enumerate(["a-first", "b-second"]):
        sf.write(d / "audio" / f"{name}.wav", speech_like(16000, 1.2, seed=i), 16000, subtype="PCM_16")
    (d / "audio" / "c-broken.wav").write_text("not audio at all\n" * 20)  # fails the header probe
    sf.write(d / "audio" / "c-silent.wav", np.zeros(16000), 16000, subtype="PCM_16")  # reads, but cannot be encoded
    write_config(d, TINY)
    run(d)
    return d


def test_snakefmt_check():
    files = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    result = subprocess.run([str(Path(sys.executable).parent / "snakefmt"), "--check", *map(str, files)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_is_clean(workdir):
    result = run(workdir, "--lint")
    assert "Lints for" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_tables_have_a_row_per_clip_ablation_variant(workdir):
    scores = pd.read_parquet(workdir / "results/tables/scores.parquet")
    ok = scores[(scores.status == "ok") & (scores.arch != "opus")]
    assert sorted(zip(ok["clip"], ok.ablation, ok.variant)) == sorted(
        (c, a, v) for c in ("a-first", "b-second") for a, vs in (("siamese", ("f0", "siamese")), ("pe", ("f0",))) for v in vs
    )
    for column in ("dataset", "kind", "preset", "params", "bytes", "kbps", "paper_bytes", "bits", "steps", "seed",
                   "fit_seconds", "device", "library_version", "pesq", "pesq_mode", "stoi", "snr", "lsd"):
        assert column in scores.columns, column
    assert ok.pesq.notna().all() and ok.stoi.notna().all()
    assert (ok.seed == 0).all() and (ok.steps == 30).all() and (ok.device == "cpu").all()
    together = ok.groupby("ablation").fit_clips_together.unique()
    assert list(together["siamese"]) == [1] and list(together["pe"]) == [2]  # pe's clips were fitted together
    for _, row in ok.iterrows():  # bitrate from the real file
        size = (workdir / f"results/speech/{row.ablation}/bitstreams/{row['clip']}.sirn").stat().st_size
        assert row.bytes == size and row.kbps == pytest.approx(size * 8 / 1.0 / 1000)
    opus = scores[scores.ablation == "opus"]
    assert sorted(opus.preset.unique()) == ["opus-0.9", "opus-0.98"] and len(opus) == 4
    assert (opus.kbps < 40).all() and (opus.pesq > ok.pesq.max()).all()  # the honest comparison
    failed = scores[scores.status == "failed"].set_index("clip").error
    assert sorted(failed.index) == ["c-broken", "c-silent"]
    assert "not readable as audio" in failed["c-broken"] and "digital silence" in failed["c-silent"]
    summary = (workdir / "results/tables/summary.md").read_text()
    assert "c-broken" in summary and "c-silent" in summary


def test_summary_and_figures_exist(workdir):
    summary = pd.read_parquet(workdir / "results/tables/summary.parquet")
    assert len(summary) == 5 and (summary.n == 2).all()  # 3 INR ablation/variants + 2 opus levels
    for png in ("metric_bars", "loss_curves", "rate_quality_pesq", "spectrograms/speech/a-first"):
        assert (workdir / f"results/figures/{png}.png").stat().st_size > 10_000


def test_a_configfile_replaces_the_default_config(workdir):
    """--configfile is the whole config: the default config/config.yaml's datasets do not leak in."""
    other = {**TINY, "datasets": {"other": {**TINY["datasets"]["speech"], "clips": 1}}, "baselines": {}}
    (workdir / "other.yaml").write_text(yaml.safe_dump(other, sort_keys=False))
    try:
        out = run(workdir, "-n", "--configfile", str(workdir / "other.yaml")).stdout
    finally:
        (workdir / "other.yaml").unlink()
    assert "results/other/" in out and "results/speech/" not in out


def test_unchanged_rerun_does_nothing(workdir):
    assert dry_run_jobs(workdir) == Counter()


def test_editing_one_ablation_reruns_only_its_jobs(workdir):
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config["ablations"][1]["fit"] = {"clips_per_fit": 2, "steps": 31}
    write_config(workdir, config)
    try:
        assert dry_run_jobs(workdir) == Counter(
            {"fit_clips": 1, "split_fit": 2, "quantize": 2, "decode": 2, "score": 2, "collect": 1, "figures": 1,
             "spectrogram": 1, "all": 1}
        )
    finally:
        write_config(workdir, TINY)


def test_adding_a_clip_runs_only_that_clips_jobs(workdir):
    # d-third comes last in the selection order, so pe's batched group of the other two stays
    assert max(["a-first", "b-second", "d-third"], key=lambda c: selection_rank(0, c)) == "d-third"
    sf.write(workdir / "audio" / "d-third.wav", speech_like(16000, 1.2, seed=7), 16000, subtype="PCM_16")
    config = {**TINY, "datasets": {"speech": {**TINY["datasets"]["speech"], "clips": 5}}}
    write_config(workdir, config)
    try:
        assert dry_run_jobs(workdir) == Counter(
            {"prepare": 1, "fit": 1, "fit_clips": 1, "split_fit": 1, "quantize": 2, "decode": 3, "score": 2,
             "baseline": 1, "collect": 1, "figures": 1, "all": 1}
        )
    finally:
        (workdir / "audio" / "d-third.wav").unlink()
        write_config(workdir, TINY)


# --- rerun semantics per setting: each rule's params hold only the slice of its ablation it uses ------
def _edit_ablation(workdir: Path, index: int, **changes) -> None:
    config = copy.deepcopy(TINY)
    config["ablations"][index].update(changes)
    write_config(workdir, config)


REPORT = {"collect": 1, "figures": 1, "spectrogram": 1, "all": 1}  # downstream of any per-clip change


def test_editing_quant_requantizes_without_refitting(workdir):
    _edit_ablation(workdir, 0, quant={"bits": 6})  # siamese: 2 clips x 2 variants
    try:
        assert dry_run_jobs(workdir) == Counter({"quantize": 2, "decode": 4, "score": 2, **REPORT})
    finally:
        write_config(workdir, TINY)


def test_editing_alpha_rechooses_the_variant_and_redecodes_without_refitting(workdir):
    """The stream's decoder variant is chosen at the ablation's alpha (quantize), and every
    variant is decoded with it; the fit does not depend on it."""
    _edit_ablation(workdir, 0, alpha=1.5)
    try:
        assert dry_run_jobs(workdir) == Counter({"quantize": 2, "decode": 4, "score": 2, **REPORT})
    finally:
        write_config(workdir, TINY)


def test_editing_variants_runs_only_what_depends_on_them(workdir):
    _edit_ablation(workdir, 0, variants=["f0", "mean", "siamese"])  # one more: only its decodes are new
    try:
        assert dry_run_jobs(workdir) == Counter({"decode": 2, "score": 2, **REPORT})
        _edit_ablation(workdir, 0, variants=["f0"])  # one fewer: nothing to decode, the rows change
        assert dry_run_jobs(workdir) == Counter({"score": 2, **REPORT})
    finally:
        write_config(workdir, TINY)


def test_an_ablation_differing_only_in_quantization_reuses_the_fit(workdir):
    config = copy.deepcopy(TINY)
    config["ablations"].append({**TINY["ablations"][0], "name": "siamese-4bit", "quant": {"bits": 4}})
    write_config(workdir, config)
    try:  # its 2 clips are quantized, decoded and scored; nothing is fitted
        assert dry_run_jobs(workdir) == Counter({"quantize": 2, "decode": 4, "score": 2, **REPORT})
    finally:
        write_config(workdir, TINY)


def test_a_target_kbps_ablation_and_the_rate_distortion_tables(workdir):
    """A target_kbps ablation gets its own fits (its widths come from rate control); the
    rate_distortion section adds the BD-rate table and the rate model."""
    config = copy.deepcopy(TINY)
    config["ablations"].append({"name": "at-64kbps", "preset": "siamese-siren", "target_kbps": 64, "curve": "target"})
    config["rate_distortion"] = {"reference_curves": ["opus"]}
    write_config(workdir, config)
    try:
        jobs = dry_run_jobs(workdir)
        assert jobs["fit"] == 2 and jobs["quantize"] == 2 and jobs["rate_distortion"] == 1 and jobs["rate_model"] == 1
        config["ablations"][-1]["quant"] = {"bits": 6}
        write_config(workdir, config)
        result = run(workdir, "-n", check=False)
        assert result.returncode != 0 and "target_kbps chooses quant.bits" in result.stdout + result.stderr
    finally:
        write_config(workdir, TINY)


def test_a_library_version_bump_reruns_everything(workdir):
    from sirenpipe import __version__

    everything = dry_run_jobs(workdir, "--forceall")
    assert everything["fit"] == 2 and everything["fit_clips"] == 1 and everything["prepare"] == 2
    assert dry_run_jobs(workdir, version=__version__) == Counter()  # the version patch alone changes nothing
    assert dry_run_jobs(workdir, version=__version__ + ".post1") == everything
