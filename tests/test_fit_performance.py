"""The fit's performance features: benchmarks run (no timing assertions: timings here are
noisy), fit_many equals separate fits, the precision and compile options keep the numerics."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import speech_like
from sirenpipe.allocator import tcmalloc_path
from sirenpipe.errors import FitDivergedError
from sirenpipe.fit import FitConfig, fit, fit_many
from sirenpipe.models import model_config

REPO = Path(__file__).resolve().parent.parent
SMALL = model_config("siamese-siren", shared=(64, 64), head_widths=(32,))


def run_benchmark(name: str, *argv) -> str:
    """`python -m benchmarks.NAME ARGV` from the repository root, as the benchmarks are run."""
    done = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def benchmarks(monkeypatch):
    """The benchmarks package, importable as from the repository root (`python -m pytest` has it)."""
    monkeypatch.syspath_prepend(str(REPO))
    import benchmarks

    return benchmarks


def read_summary(path: Path, title: str, command: str) -> str:
    """The summary a benchmark wrote (to a tmp dir, never docs/results), its header checked."""
    text = path.read_text()
    lines = text.splitlines()
    assert lines[0] == f"# {title}" and lines[2] == f"- Command: `{command}`"
    assert lines[3].startswith("- Date: 20") and lines[4].startswith("- Machine: ") and " cores" in lines[4]
    return text


def table_rows(text: str, *first_cells: str) -> list[list[str]]:
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| ")]
    return [r for r in rows if r[0] in first_cells]


def test_fit_step_benchmark_quick_writes_its_summary(tmp_path, benchmarks):
    from benchmarks.fit_step import TITLE

    summary = tmp_path / "fit_step.md"
    out = run_benchmark("fit_step", "--quick", "--summary", str(summary))
    text = read_summary(summary, TITLE, f"python -m benchmarks.fit_step --quick --summary {summary}")
    assert text in out  # and printed
    for field in ("Load average", "matmul peak", "fp32", "bf16", "ms/step median [IQR]", "GFLOP/step",
                  "GFLOP/s", "%fp32peak", "naive/this", "loss@4", "min loss", "diff@1", "full batch", "mini-batches of 2048"):
        assert field in text
    rows = table_rows(text, "naive", "sirenpipe")
    assert len(rows) == 4  # two variants x two batch modes
    # each variant ran in the process its users get: the naive one on glibc malloc, sirenpipe's under tcmalloc
    assert all(r[1] == "glibc malloc" for r in rows if r[0] == "naive")
    if tcmalloc_path():
        assert all(r[1] == "tcmalloc" for r in rows if r[0] == "sirenpipe")


def test_quality_budget_benchmark_quick_writes_its_summary(tmp_path, benchmarks):
    from benchmarks.quality_budget import TITLE

    summary = tmp_path / "quality_budget.md"
    argv = ["--quick", "--budget", "1", "--checkpoints", "1", "--summary", str(summary)]
    run_benchmark("quality_budget", *argv)
    text = read_summary(summary, TITLE, "python -m benchmarks.quality_budget " + " ".join(argv))
    assert "SNR@1s (steps)" in text and len(table_rows(text, "full/fp32", "2048/bf16")) == 2


def test_rate_tools_benchmark_quick_run_writes_its_summary(tmp_path, benchmarks):
    from benchmarks.rate_tools import TITLE

    summary, out = tmp_path / "rate_tools.md", tmp_path / "rt"
    argv = ["run", "--quick", "--steps", "20", "--batch-size", "4096", "--bits", "8,4", "--qat-bits", "4",
            "--out", str(out), "--summary", str(summary)]
    run_benchmark("rate_tools", *argv)
    text = read_summary(summary, TITLE, "python -m benchmarks.rate_tools " + " ".join(argv))
    assert [r[4] for r in table_rows(text, "8", "4")][:2] == ["yes", "yes"]  # entropy coding decodes identically
    assert "| QAT 6 bits, rate weight 1e-05 |" in text and (out / "rows.jsonl").exists()


def test_quick_runs_leave_docs_results_alone(benchmarks):
    from benchmarks import common
    from benchmarks.fit_step import parse

    assert common.summary_path(parse(["--quick"]), "fit_step", trial=True) is None
    assert common.summary_path(parse([]), "fit_step") == REPO / "docs" / "results" / "fit_step.md"


def test_matmul_flops_counts_every_layer(benchmarks):
    from benchmarks.common import matmul_flops

    # one sample: each weight (out, in) costs 2*out*in forward, as much again per gradient (none for the input's)
    config = model_config("siamese-siren", shared=(8,), head_widths=(4,))
    trunk = 2 * 8 * config.input_features() * 2
    head = 2 * 4 * 8 * 3 + 2 * 1 * 4 * 3
    assert matmul_flops(config, 1) == trunk + 2 * head
    assert matmul_flops(config, 10, trunk_runs=2) == 10 * (2 * trunk + 2 * head)


@pytest.fixture(scope="module")
def clips():
    return [speech_like(8000, 0.5, seed=s) for s in range(3)]


@pytest.mark.parametrize("batch_size", [None, 1024])
def test_fit_many_equals_separate_fits(clips, batch_size):
    config = FitConfig(steps=20, batch_size=batch_size, check_every=10)
    together = fit_many(clips, SMALL, config, seeds=[5, 6, 7], progress=False)
    for clip, seed, r in zip(clips, [5, 6, 7], together):
        alone = fit(clip, SMALL, FitConfig(steps=20, batch_size=batch_size, seed=seed, check_every=10), progress=False)
        assert r.seed == seed and r.config.seed == seed and r.steps == 20
        assert r.loss_history[0] == pytest.approx(alone.loss_history[0], rel=1e-6)  # same init and batches
        assert np.allclose(r.loss_history, alone.loss_history, rtol=1e-4)
        assert list(r.model.state_dict()) == list(alone.model.state_dict())
        for a, b in zip(r.model.parameters(), alone.model.parameters()):
            assert np.allclose(a.detach(), b.detach(), atol=1e-5)


def test_fit_many_rejects_unequal_lengths_and_names_the_diverged_clip(clips):
    with pytest.raises(ValueError, match="equal length"):
        fit_many([clips[0], clips[1][:100]], SMALL, FitConfig(steps=1), progress=False)
    bad = [np.ones(100, np.float32), np.ones(100, np.float32)]
    bad[1][3] = np.nan
    with pytest.raises(FitDivergedError, match=r"at step 1 \(clip 1\)"):
        fit_many(bad, SMALL, FitConfig(steps=4, check_every=2), progress=False)


def test_new_options_validate_and_serialise():
    config = FitConfig(compile=True, precision="bf16")
    assert json.loads(json.dumps(config.to_dict())) == config.to_dict()
    assert FitConfig().to_dict()["compile"] is False and FitConfig().precision == "fp32"
    with pytest.raises(ValueError, match="precision"):
        FitConfig(precision="fp16")
    with pytest.raises(ValueError, match="compile"):
        FitConfig(compile="yes")


def test_bf16_fit_tracks_fp32(clips):
    fp32 = fit(clips[0], SMALL, FitConfig(steps=60, seed=1), progress=False)
    bf16 = fit(clips[0], SMALL, FitConfig(steps=60, seed=1, precision="bf16"), progress=False)
    assert bf16.loss_history[-1] < 0.5 * bf16.loss_history[0]
    assert bf16.final_loss == pytest.approx(fp32.final_loss, rel=0.05)
    assert all(p.dtype.is_floating_point and p.dtype.itemsize == 4 for p in bf16.model.parameters())


@pytest.mark.slow
def test_compiled_fit_matches_eager(clips, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))  # cold compile, nothing left in ~/.cache
    eager = fit(clips[0], SMALL, FitConfig(steps=10, seed=2), progress=False)
    compiled = fit(clips[0], SMALL, FitConfig(steps=10, seed=2, compile=True), progress=False)
    assert np.allclose(compiled.loss_history, eager.loss_history, rtol=1e-4)


def test_auto_clips_per_fit_batches_short_clips_on_gpus_only():
    from sirenpipe.pipeline.config import auto_clips_per_fit, resolve_ablation

    assert auto_clips_per_fit("cpu", 16384) == 1 and auto_clips_per_fit("auto", 16384) == 1
    assert auto_clips_per_fit("cuda", 220500) == 1  # the paper's 10 s full batch fills a GPU alone
    assert auto_clips_per_fit("cuda:1", 66150) == 3 and auto_clips_per_fit("cuda", 16384) == 16
    ablation = {"name": "a", "preset": "siamese-siren"}
    on_gpu = {"siren": {"fit": {"device": "cuda", "batch_size": None}}}
    assert resolve_ablation(ablation, on_gpu, clip_samples=66150)["clips_per_fit"] == 3
    assert resolve_ablation(ablation, {"siren": {"fit": {"device": "cpu"}}}, clip_samples=66150)["clips_per_fit"] == 1
    explicit = resolve_ablation({**ablation, "fit": {"clips_per_fit": 4}}, {}, clip_samples=66150)
    assert explicit["clips_per_fit"] == 4 and "clips_per_fit" not in explicit["fit"]  # not a FitConfig field


def test_fit_clips_then_split_fit_writes_what_fit_clip_writes(tmp_path, clips):
    import torch

    from sirenpipe.audio import write_wav
    from sirenpipe.pipeline.config import resolve_ablation
    from sirenpipe.pipeline.fit import fit_clip, fit_clips, split_fit
    from sirenpipe.pipeline.io import read_json

    ablation = resolve_ablation({"name": "small", "preset": "siamese-siren", "model": {"shared": [64, 64], "head_widths": [32]}},
                                {"siren": {"fit": {"steps": 6, "batch_size": 1024, "seed": 3, "device": "cpu"}}})
    wavs = [tmp_path / f"clip-{i}.wav" for i in range(3)]
    for wav, x in zip(wavs, clips):
        write_wav(wav, x, 8000)
    write_wav(wavs[2], clips[2][:3000], 8000)  # unequal length: fitted in its own group
    fit_clips([str(w) for w in wavs], ablation, tmp_path / "batch.pt")
    fit_clip(wavs[1], ablation, tmp_path / "alone.pt", tmp_path / "alone.json")
    for name, together in (("clip-1", 2), ("clip-2", 1)):
        split_fit(tmp_path / "batch.pt", name, tmp_path / f"{name}.pt", tmp_path / f"{name}.json")
        assert read_json(tmp_path / f"{name}.json")["clips_together"] == together
    history, alone = read_json(tmp_path / "clip-1.json"), read_json(tmp_path / "alone.json")
    assert history["seed"] == 3 and history["steps"] == 6 and history["fit"] == alone["fit"]
    np.testing.assert_allclose(history["loss_history"], alone["loss_history"], rtol=1e-4)
    batched, single = (torch.load(tmp_path / p, weights_only=True) for p in ("clip-1.pt", "alone.pt"))
    assert batched["model"] == single["model"] and batched["clip"] == single["clip"]
    for key, value in single["state_dict"].items():
        torch.testing.assert_close(batched["state_dict"][key], value, rtol=1e-4, atol=1e-5)
