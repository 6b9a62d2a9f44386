"""A bad workflow config is refused at parse time by the schema (workflow/schemas/config.schema.yaml):
non-zero exit, a message naming the offending field, no Python traceback. Dry runs only (cheap)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import yaml

from conftest import speech_like

REPO = Path(__file__).resolve().parents[1]

GOOD = {
    "clip": {"duration": 1.0, "sample_rate": 16000},
    "datasets": {"speech": {"type": "folder", "kind": "speech", "glob": "audio/*.wav", "clips": 1, "seed": 0}},
    "defaults": {"siren": {"fit": {"steps": 30, "batch_size": 4096, "seed": 0, "device": "cpu"}, "quant": {"bits": 8}}},
    "ablations": [
        {"name": "siamese", "preset": "siamese-siren", "model": {"shared": [32, 32], "head_widths": [16]},
         "variants": ["f0", "siamese"], "fit": {"steps": 20}, "quant": {"bits": 6}},
    ],
    "metrics": ["snr"],
}


def dry_run(workdir: Path, config: dict) -> subprocess.CompletedProcess:
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--cores", "1", "-n", "--configfile", str(workdir / "config.yaml")]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("schema")
    (d / "audio").mkdir()
    sf.write(d / "audio" / "a.wav", speech_like(16000, 1.2), 16000, subtype="PCM_16")
    return d


def _bad(edit) -> dict:
    config = copy.deepcopy(GOOD)
    edit(config)
    return config


def test_the_good_config_passes(workdir):
    """The base of every bad config below is valid: each fails only for its one edited field."""
    result = dry_run(workdir, GOOD)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "results/speech/siamese/" in result.stdout


@pytest.mark.parametrize(
    "edit, where, message",
    [
        (lambda c: c["ablations"][0]["fit"].update(stepz=20), "On instance['ablations'][0]['fit']",
         "Additional properties are not allowed ('stepz' was unexpected)"),
        (lambda c: c["ablations"][0]["quant"].update(bits=9), "On instance['ablations'][0]['quant']['bits']",
         "9 is greater than the maximum of 8"),
        (lambda c: c["ablations"][0].update(variants=["f0", "wiener"]), "On instance['ablations'][0]['variants'][1]",
         "'wiener' is not one of ['f0', 'mean', 'siamese', 'blind']"),
    ],
    ids=["unknown-fit-key", "bits-9", "unknown-variant"],
)
def test_bad_config_is_refused_naming_the_field(workdir, edit, where, message):
    result = dry_run(workdir, _bad(edit))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "Error validating config file" in output, output[-3000:]
    assert message in output, output[-3000:]
    assert where in output, output[-3000:]  # the offending field's path in the config
    assert "Traceback" not in output, output[-3000:]
    assert not (workdir / "results").exists()  # nothing ran


def test_config_readme_lists_exactly_what_rate_control_chooses():
    """config/README.md's target_kbps row names the fields rate control chooses in any model family
    (each family's rate_controlled, the one list: the CLI and the workflow read it; the README is for people)."""
    import re

    from sirenpipe.families import FAMILIES

    row = next(line for line in (REPO / "config" / "README.md").read_text().splitlines()
               if line.startswith("| `target_kbps` |"))
    excluded = row.split("It excludes", 1)[1]
    named = set()
    for group in re.findall(r"`([a-z_]+)\.([a-z_/`]+)`", excluded):
        section, fields = group
        named |= {f"{section}.{f.strip('`')}" for f in fields.split("/")}
    expected = {f"{section}.{field}" for family in FAMILIES.values()
                for section, fields in family.rate_controlled.items() for field in fields}
    assert named == expected
