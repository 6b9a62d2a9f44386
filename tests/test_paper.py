"""The paper's rows as ablations, its values beside ours, and RESULTS.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sirenpipe.evaluation.paper import (
    AGREEMENT_TOLERANCE,
    agreement,
    compare_with_paper,
    comparison_markdown,
    describe_run,
    paper_differences,
    paper_style_parameters,
    paper_values,
    verdict,
)
from sirenpipe.models import build_model
from sirenpipe.pipeline.config import fit_owners, resolve_ablation
from test_workflow import REPO, SNAKEMAKE


def test_paper_values_cover_tables_1_to_3_with_known_presets():
    paper = paper_values()
    assert list(paper.groupby("table").size()) == [4, 4, 4]
    siamese = paper[(paper.table == 1) & (paper.preset == "siamese-siren")].iloc[0]
    assert (siamese.visqol, siamese.pesq, siamese.stoi, siamese.quantized_kB) == (2.12, 2.58, 0.93, 303.7)
    for preset, thousands in zip(paper.preset, paper.paper_params_k):
        assert round(paper_style_parameters(build_model(preset)) / 1000) == thousands


def _rows(preset, variant, values, params=None):
    params = params or build_model(preset).num_parameters()
    return [{"status": "ok", "kind": "speech", "bits": 8, "preset": preset, "ablation": preset, "variant": variant,
             "params": params, "kbps": 114.5, "bytes": 143_176, "visqol": v, "pesq": v + 0.5, "stoi": 0.9, "cdpam": None}
            for v in values]


def test_comparison_puts_ours_beside_the_paper():
    scores = pd.DataFrame(
        _rows("siamese-siren", "siamese", [2.0, 2.1, 2.2])
        + _rows("siamese-siren", "f0", [9.0])  # not the reference decoder: ignored
        + _rows("siamese-siren", "siamese", [9.0], params=1234)  # a changed model: not this paper row
        + _rows("original-siren", "f0", [1.0, 1.05, 1.1])
    )
    table = compare_with_paper(scores)
    row = table[(table.table == 1) & (table.preset == "siamese-siren")].iloc[0]
    assert row.n == 3 and row.visqol == pytest.approx(2.1) and row.visqol_paper == 2.12 and row.params == 140_546
    assert row.visqol_ci95 == pytest.approx(4.303 * 0.1 / 3**0.5, rel=1e-3)
    assert table[table.preset == "siamese-2x64-1x32"].n.eq(0).all()
    md = comparison_markdown(table)
    assert "| 1 | Siamese SIREN | siamese-siren | 3 | 140,546 / 513k | 114.5 | — / 303.7 | 2.10 ± 0.25 (2.12)" in md
    assert "(not run)" in md
    sentences = agreement(table)
    assert any("Siamese SIREN (n = 3): visqol 2.10 vs 2.12 (agrees)" in s for s in sentences)
    assert any("original SIREN (n = 3): visqol 1.05 vs 1.01 (agrees); pesq 1.55 vs 1.05 (higher)" in s for s in sentences)


@pytest.mark.parametrize("ours, ci, paper, expected", [
    (2.10, 0.25, 2.12, "agrees"),  # close, and the paper inside our CI
    (1.80, 1.45, 1.63, "inconclusive"),  # the paper inside a CI too wide to resolve 0.17
    (3.40, 0.26, 2.58, "higher"),  # the paper outside our CI, beyond the tolerance
    (1.70, 0.20, 2.18, "lower"),
    (1.00, 0.00, 1.01, "lower (within tolerance)"),  # a floored metric: distinguishable but close
    (2.00, float("nan"), 2.00, "inconclusive"),  # one clip: no CI
])
def test_agreement_rule_can_say_disagrees_and_inconclusive(ours, ci, paper, expected):
    assert verdict(ours, ci, paper, AGREEMENT_TOLERANCE["pesq"]) == expected


@pytest.mark.skipif(not Path("/usr/share/asterisk/sounds").exists(), reason="demo packages not installed")
def test_paper_config_lists_every_paper_row_for_every_clip():
    config = yaml.safe_load((REPO / "config/paper.yaml").read_text())
    presets = {a["preset"] for a in config["ablations"]}
    assert set(paper_values().preset) <= presets
    result = subprocess.run([*SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(REPO),
                             "--configfile", str(REPO / "config/paper.yaml"), "-n", "--cores", "2"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout.split("Job stats:")[1], re.M))
    clips = config["datasets"]["demo-speech"]["clips"] + config["datasets"]["demo-music"]["clips"]
    # the bit-sweep ablations reuse siamese-siren's fit (equal model and fit settings): one fit each fewer
    resolved = {a["name"]: resolve_ablation(a, config.get("defaults", {})) for a in config["ablations"]}
    owners = set(fit_owners(resolved).values())
    assert len(owners) == len(config["ablations"]) - 2
    assert int(counts["fit"]) == len(owners) * clips
    assert int(counts["baseline"]) == 3 * clips and counts["paper_comparison"] == "1"


def test_results_describe_what_ran_not_what_was_configured():
    config = yaml.safe_load((REPO / "config/paper-reduced.yaml").read_text())
    scores = pd.DataFrame(
        [{**r, "dataset": "demo-speech", "clip": f"s{i}"} for i, r in enumerate(_rows("siamese-siren", "siamese", [1.0, 2.0]))]
        + [{"dataset": "demo-speech", "clip": "bad", "status": "failed", "kind": "speech"}]
        + [{**r, "dataset": "demo-music", "clip": "m0", "kind": "music"} for r in _rows("pe-siren", "f0", [3.0])]
    )
    text = describe_run(config, scores)
    assert "librispeech (librispeech: not present, skipped)" in text and "gtzan (gtzan: not present, skipped)" in text
    assert "demo-speech (demo, 2 clips, 1 failed)" in text and "demo-music (demo, 1 clip)" in text
    assert "300 steps, batch 16384" in text  # the SIREN defaults of the config (defaults.siren.fit)
    differences = " ".join(paper_differences(config, scores))
    assert "speech from demo datasets" in differences and "not LibriSpeech" in differences
    assert "floor, 1.0, for 1 of 2 speech scores" in differences and "300 training steps" in differences
    assert "G.722" not in differences and "Dutch" not in differences  # nothing the config and scores do not say
    assert "no CDPAM column: the config's metrics do not list cdpam" in differences


def test_differences_name_cdpam_only_when_the_config_leaves_it_out():
    config = yaml.safe_load((REPO / "config/paper.yaml").read_text())
    assert "cdpam" in config["metrics"]
    scores = pd.DataFrame([{**r, "dataset": "librispeech", "clip": f"s{i}", "cdpam": 0.2}
                           for i, r in enumerate(_rows("siamese-siren", "siamese", [2.0, 2.1]))])
    differences = paper_differences(config, scores)
    assert not any("CDPAM" in d for d in differences)
    assert not any("not LibriSpeech" in d for d in differences)  # the speech is LibriSpeech here
    scores["cdpam"], scores["cdpam_reason"] = None, "cdpam not installed (pip install sirenpipe[cdpam])"
    assert "no CDPAM values: cdpam not installed (pip install sirenpipe[cdpam])" in paper_differences(config, scores)
