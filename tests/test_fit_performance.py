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

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SMALL = model_config("siamese-siren", shared=(64, 64), head_widths=(32,))


def run_benchmark(*argv) -> str:
    done = subprocess.run([sys.executable, str(BENCHMARKS / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_fit_step_benchmark_quick_prints_all_fields():
    out = run_benchmark("fit_step.py", "--quick")
    for field in ("machine:", "load average", "matmul peak", "fp32", "bf16", "ms/step median [IQR]", "GFLOP/step",
                  "GFLOP/s", "%fp32peak", "naive/this", "loss@4", "min loss", "diff@1", "full batch", "mini-batches of 2048"):
        assert field in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("naive ", "sirenpipe "))]
    assert len(rows) == 4  # two variants x two batch modes
    # each variant ran in the process its users get: the naive one on glibc malloc, sirenpipe's under tcmalloc
    assert all(" ".join(r[1:3]) == "glibc malloc" for r in rows if r[0] == "naive")
    if tcmalloc_path():
        assert all(r[1] == "tcmalloc" for r in rows if r[0] == "sirenpipe")


def test_quality_budget_benchmark_quick_runs():
    out = run_benchmark("quality_budget.py", "--quick", "--budget", "1", "--checkpoints", "1")
    assert "SNR@1s (steps)" in out and "full/fp32" in out and "2048/bf16" in out


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
    on_gpu = {"fit": {"device": "cuda", "batch_size": None}}
    assert resolve_ablation(ablation, on_gpu, clip_samples=66150)["clips_per_fit"] == 3
    assert resolve_ablation(ablation, {"fit": {"device": "cpu"}}, clip_samples=66150)["clips_per_fit"] == 1
    explicit = resolve_ablation({**ablation, "fit": {"clips_per_fit": 4}}, {}, clip_samples=66150)
    assert explicit["clips_per_fit"] == 4 and "clips_per_fit" not in explicit["fit"]  # not a FitConfig field


def test_fit_clips_then_split_fit_writes_what_fit_clip_writes(tmp_path, clips):
    import torch

    from sirenpipe.audio import write_wav
    from sirenpipe.pipeline.config import resolve_ablation
    from sirenpipe.pipeline.fit import fit_clip, fit_clips, split_fit
    from sirenpipe.pipeline.io import read_json

    ablation = resolve_ablation({"name": "small", "preset": "siamese-siren", "model": {"shared": [64, 64], "head_widths": [32]}},
                                {"fit": {"steps": 6, "batch_size": 1024, "seed": 3, "device": "cpu"}})
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
