"""The workflow's library side (sirenpipe.pipeline): a light parse-time module, one vocabulary shared
with the config schema, one row layout, and the stages run as plain functions on a tiny clip."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf
import yaml

from conftest import speech_like

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
HEAVY = ("torch", "scipy", "pandas")


# --------------------------------------------------------------------------------------- parse time
def test_parse_time_config_imports_no_torch_scipy_or_pandas():
    code = ("import json, sys, sirenpipe.pipeline.config; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(result.stdout) == []


def test_common_smk_imports_only_the_parse_time_config():
    text = (REPO / "workflow/rules/common.smk").read_text()
    imported = re.findall(r"^\s*(?:from|import)\s+(sirenpipe[\w.]*)", text, re.M)
    assert imported == ["sirenpipe.pipeline.config"]


# --------------------------------------------------------------------------------------- vocabulary
def _enum(*path):
    node = SCHEMA
    for key in path:
        node = node[key]
    return node


def test_schema_enums_equal_the_library_vocabulary():
    from sirenpipe.baselines import CODECS
    from sirenpipe.codec.quantize import CODINGS, FLOAT_BITS, QuantConfig
    from sirenpipe.codec.variants import VARIANTS
    from sirenpipe.datasets import DATASET_TYPES
    from sirenpipe.datasets.catalog import KINDS
    from sirenpipe.families import FAMILIES
    from sirenpipe.fit.config import LOSSES, PRECISIONS, FitConfig
    from sirenpipe.fit.latent_config import LatentFitConfig
    from sirenpipe.metrics import available_metrics

    ablation = _enum("properties", "ablations", "items", "properties")
    assert ablation["variants"]["items"]["enum"] == list(VARIANTS)  # in display order
    assert sorted(_enum("properties", "baselines", "properties")) == sorted(CODECS)
    assert sorted(_enum("properties", "metrics", "items", "enum")) == sorted(available_metrics())
    assert sorted(_enum("definitions", "fit", "properties", "precision", "enum")) == sorted(PRECISIONS)
    assert _enum("definitions", "fit", "properties", "loss", "enum") == list(LOSSES)
    dataset = _enum("properties", "datasets", "additionalProperties", "properties")
    assert sorted(dataset["type"]["enum"]) == sorted(DATASET_TYPES)
    assert sorted(dataset["kind"]["enum"]) == sorted(KINDS)
    quant = _enum("definitions", "quant", "properties")
    assert quant["coding"]["enum"] == list(CODINGS) and quant["float_bits"]["enum"] == list(FLOAT_BITS)
    # every setting of the library's configs can be set from the workflow, and nothing else: the fit
    # settings of every family (each ablation's family refuses the others'), and defaults per family
    assert set(quant) == set(QuantConfig.__dataclass_fields__)
    fit_settings = set(FitConfig.__dataclass_fields__) | set(LatentFitConfig.__dataclass_fields__)
    assert set(_enum("definitions", "fit", "properties")) == fit_settings | {"clips_per_fit"}
    defaults = _enum("properties", "defaults", "properties")
    assert set(defaults) == set(FAMILIES)
    for name, family in FAMILIES.items():
        assert set(defaults[name]["properties"]) == ({"fit", "quant"} if family.stream_options else {"fit"})


def test_tables_read_metric_direction_and_labels_from_the_registry():
    from sirenpipe.codec.variants import VARIANTS
    from sirenpipe.evaluation.tables import HIGHER_IS_BETTER, LOWER_IS_BETTER, VARIANT_ORDER, axis_label
    from sirenpipe.metrics import METRIC_INFO, METRICS

    assert set(METRIC_INFO) == set(METRICS) == HIGHER_IS_BETTER | LOWER_IS_BETTER
    assert VARIANT_ORDER == list(VARIANTS)
    assert axis_label("snr") == "SNR (dB) ↑" and axis_label("mel_distance") == "Mel distance (L1 log-mel) ↓"
    assert axis_label("not-a-metric") == "not-a-metric"


# --------------------------------------------------------------------------------------- ablations
def test_resolve_ablation_fills_defaults_and_checks_variants():
    from sirenpipe.pipeline.config import resolve_ablation

    defaults = {"siren": {"fit": {"steps": 30, "batch_size": 4096, "device": "cpu"}, "quant": {"bits": 6}}}
    siamese = resolve_ablation({"name": "s", "preset": "siamese-siren"}, defaults, 16000)
    assert siamese["variants"] == ["siamese"] and siamese["fit"]["steps"] == 30 and siamese["quant"]["bits"] == 6
    assert siamese["clips_per_fit"] == 1  # auto on CPU
    one_head = resolve_ablation({"name": "o", "preset": "optimized-siren"}, defaults, 16000)
    assert one_head["variants"] == ["f0"]
    with pytest.raises(ValueError, match="mean need two heads; this model allows: f0, blind"):
        resolve_ablation({"name": "o", "preset": "optimized-siren", "variants": ["f0", "mean"]}, defaults)


def test_fit_groups_follow_the_selection_order():
    from sirenpipe.pipeline.config import fit_groups, selection_rank

    clips = ["a", "b", "c", "d", "e"]
    groups, index = fit_groups(clips, 0, 2)
    assert [c for g in groups for c in g] == sorted(clips, key=lambda c: selection_rank(0, c))
    assert [len(g) for g in groups] == [2, 2, 1] and all(c in groups[index[c]] for c in clips)


# --------------------------------------------------------------------------------------- stages
INR_COLUMNS = ["dataset", "clip", "kind", "ablation", "status", "error", "preset", "curve", "target_kbps", "family", "arch",
               "params", "bytes", "kbps", "paper_params", "paper_bytes", "bits", "first_layer_bits", "weights", "per_channel", "stream_variant", "coding", "float_bits", "quant_aware", "rate_weight",
               "loss", "loss_weight", "estimated_weight_bytes", "coded_weight_bytes", "steps", "batch_size", "lr", "seed", "fit_seconds",
               "fit_clips_together", "device", "final_loss", "sample_rate", "duration_s", "source", "offset_s",
               "license", "library_version", "variant"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A 1 s clip prepared, fitted (tiny two-head model, 20 steps) and quantized by the stages."""
    from sirenpipe.pipeline.config import resolve_ablation
    from sirenpipe.pipeline.fit import fit_clip
    from sirenpipe.atomic import write_json
    from sirenpipe.pipeline.quantize import quantize_clip

    d = tmp_path_factory.mktemp("stages")
    sf.write(d / "clip.wav", 0.3 * speech_like(16000, 1.0), 16000, subtype="FLOAT")
    write_json(d / "clip.json", {"clip_id": "clip", "source": "synthetic", "offset": 0.0, "license": "CC0"})
    ablation = resolve_ablation(
        {"name": "tiny", "preset": "siamese-siren", "model": {"shared": [16, 16], "head_widths": [8]},
         "variants": ["f0", "mean"]},
        {"siren": {"fit": {"steps": 20, "batch_size": 4096, "device": "cpu"}}}, 16000)
    fit_clip(d / "clip.wav", ablation, d / "fit.pt", d / "fit.json")
    quantize_clip(d / "fit.pt", d / "clip.wav", ablation, d / "clip.sirn")
    return d, ablation


def test_quantize_stores_the_fitted_clip_and_its_best_variant(fitted):
    """Same bytes as compressing with the clip's own normalization (the facts the fit saved) and
    the decoder variant the stage chose, which the header names."""
    from sirenpipe.audio import load_clip
    from sirenpipe.codec import compress
    from sirenpipe.codec.quantize import QuantConfig
    from sirenpipe.decoder import read_header
    from sirenpipe.pipeline.fit import load_checkpoint

    d, ablation = fitted
    fit, facts = load_checkpoint(d / "fit.pt")
    assert fit.config.to_dict() == ablation["fit"] and not fit.model.training
    clip = load_clip(d / "clip.wav")
    assert facts == {"peak_scale": clip.peak_scale, "sample_rate": 16000, "num_samples": 16000}
    stored = (d / "clip.sirn").read_bytes()
    variant = read_header(stored)[0].variant
    assert variant in ("f0", "mean", "siamese", "blind")
    expected = compress(fit.model, sample_rate=clip.sample_rate, num_samples=len(clip.samples), peak_scale=clip.peak_scale,
                        quant=QuantConfig(**ablation["quant"]), preset=ablation["preset"], variant=variant)
    assert stored == expected


def test_quantize_chooses_the_variant_at_the_ablations_alpha(fitted, monkeypatch):
    """The stream's decoder variant is scored with the noise-estimate amplitude the ablation
    decodes with, not the default one."""
    import sirenpipe.encoder.api as api
    from sirenpipe.pipeline.quantize import quantize_clip

    d, ablation = fitted
    seen = []
    monkeypatch.setattr(api, "choose_variant", lambda data, clip, alpha: seen.append(alpha) or "f0")
    quantize_clip(d / "fit.pt", d / "clip.wav", {**ablation, "alpha": 0.75}, d / "other.sirn")
    assert seen == [0.75]


def test_score_rows_have_the_one_layout(fitted):
    from sirenpipe.pipeline.decode import decode_clip
    from sirenpipe.pipeline.score import score_clip

    d, ablation = fitted
    decoded = {}
    for variant in ablation["variants"]:
        decoded[variant] = d / f"{variant}.wav"
        decode_clip(d / "clip.sirn", variant, ablation["alpha"], decoded[variant])
    score_clip(dataset="speech", kind="speech", clip_json=d / "clip.json", clip_wav=d / "clip.wav", sirn=d / "clip.sirn",
               fit_history=d / "fit.json", decoded=decoded, ablation=ablation, metrics=["snr", "lsd"],
               out_parquet=d / "scores.parquet")
    rows = pd.read_parquet(d / "scores.parquet")
    assert list(rows.columns) == INR_COLUMNS + ["snr", "snr_mode", "snr_reason", "lsd", "lsd_mode", "lsd_reason"]
    assert list(rows.variant) == ["f0", "mean"] and (rows.family == "siren").all() and (rows.bytes == (d / "clip.sirn").stat().st_size).all()
    assert (rows.paper_params > rows.params).all() and rows.snr.notna().all()


def test_failure_rows_share_the_layout():
    from sirenpipe.pipeline.collect import failure_rows

    failure = {"clip_id": "bad", "offset": 0.0, "kind": "speech", "license": "x", "source": "bad.wav",
               "dataset": "speech", "error": "not readable as audio"}
    rows = failure_rows([failure])
    assert list(rows.columns) == ["dataset", "clip", "kind", "status", "error", "source", "library_version"]
    assert rows.iloc[0].status == "failed" and rows.iloc[0].error == "not readable as audio"


def test_mean_loss_curves_average_each_label(tmp_path):
    from sirenpipe.pipeline.figures import mean_loss_curves
    from sirenpipe.atomic import write_json

    paths = []
    for i, losses in enumerate(([1.0, 0.1], [4.0, 0.4], [2.0, 2.0])):
        paths.append(tmp_path / f"{i}.json")
        write_json(paths[-1], {"loss_history": losses})
    curves = mean_loss_curves({"a": paths[:2], "b": paths[2:]})
    assert curves["a"] == pytest.approx([2.0, 0.2]) and curves["b"] == pytest.approx([2.0, 2.0])


def test_paper_comparison_stage_writes_results_md(tmp_path):
    from sirenpipe.atomic import write_parquet
    from sirenpipe.models import build_model
    from sirenpipe.atomic import write_json
    from sirenpipe.pipeline.paper import paper_comparison

    params = build_model("siamese-siren").num_parameters()
    scores = pd.DataFrame([{"dataset": "demo-speech", "clip": f"c{i}", "status": "ok", "kind": "speech", "bits": 8,
                            "preset": "siamese-siren", "ablation": "siamese-siren", "variant": "siamese",
                            "params": params, "kbps": 114.5, "bytes": 143_176, "visqol": v, "pesq": 2.5, "stoi": 0.9}
                           for i, v in enumerate([2.0, 2.2])])
    write_json(tmp_path / "clip.json", {})
    write_parquet(scores, tmp_path / "scores.parquet")
    (tmp_path / "summary.md").write_text("## Summary\n\n(the summary)\n")
    config = yaml.safe_load((REPO / "config/paper-reduced.yaml").read_text())
    paper_comparison(tmp_path / "scores.parquet", tmp_path / "summary.md", config, [tmp_path / "clip.json"],
                     tmp_path / "comparison.parquet", tmp_path / "comparison.md", tmp_path / "RESULTS.md")
    text = (tmp_path / "RESULTS.md").read_text()
    assert "demo-speech (demo, 2 clips)" in text and "Table 1, Siamese SIREN (n = 2): visqol 2.10 vs 2.12 (agrees)" in text
    assert "(the summary)" in text and "results/RESULTS.md" in text
    assert len(pd.read_parquet(tmp_path / "comparison.parquet")) == 12
