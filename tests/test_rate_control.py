"""Rate control (`encode --kbps`, target_kbps), the stream's default decoder variant, shared fits."""

from __future__ import annotations

import zlib
from dataclasses import asdict
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import speech_like
from sirenpipe.audio import Clip
from sirenpipe.cli import main
from sirenpipe.codec import QuantConfig, compress
from sirenpipe.decoder import decode, decompress, read_header
from sirenpipe.encoder.api import encode_at_rate, encode_fitted
from sirenpipe.encoder.rate_model import RateModel, load_rate_model, write_rate_model
from sirenpipe.encoder.ratecontrol import plan_rate
from sirenpipe.errors import BitstreamError, SirenpipeError
from sirenpipe.families.siren.rate import Recipe, predicted_bytes, recipe_of, scaled_model
from sirenpipe.fit import FitConfig
from sirenpipe.models import INR, model_config
from sirenpipe.models.config import PRESETS
from sirenpipe.pipeline.config import fit_owners, resolve_ablation

RATE = 16000


def synthetic_model(bpw_qat=4.5, quality_gap=2.0) -> RateModel:
    """Two SIREN recipes measured at three densities: 8-bit PTQ and 6-bit QAT (fewer bits per
    weight, lower quality at equal density by quality_gap dB)."""
    ptq, qat = Recipe(8, False, 0.0), Recipe(6, True, 0.0)

    def row(recipe, density, bpw, quality):
        return {"family": "siren", **asdict(recipe), "params": 5 * density, "params_per_second": density,
                "bits_per_weight": bpw, "psnr": None, "pesq": quality, "visqol": None, "clips": 1}

    rows = []
    for density, quality in ((2000, 20.0), (8000, 30.0), (30000, 40.0)):
        rows.append(row(ptq, density, 7.6, quality))
        rows.append(row(qat, density, bpw_qat, quality - quality_gap))
    return RateModel({"siren": rows}, {}, "synthetic")


@pytest.mark.parametrize("preset", sorted(p for p in PRESETS if model_config(p).family == "siren"))
def test_config_geometry_matches_the_model(preset):
    """INRConfig.parameter_shapes, the one statement of the geometry, is what INR builds."""
    for width in (8, 100, 256):
        config = scaled_model(preset, width)
        built = {name: tuple(t.shape) for name, t in INR(config).state_dict().items()}
        assert list(built.items()) == list(config.parameter_shapes().items())
        assert config.num_parameters() == INR(config).num_parameters()
    assert scaled_model("siamese-siren", 128) == model_config("siamese-siren", shared=(128, 128), head_widths=(64,))


@pytest.mark.parametrize("quant", [QuantConfig(8, False, "fixed", 32), QuantConfig(5, True, "fixed", 16),
                                   QuantConfig(4, True, "fixed", 16, first_layer_bits=8)])
def test_predicted_size_bounds_the_real_one(quant):
    """At fixed-length codes (bits per weight = bits) the prediction is the real size plus the
    entropy record's few bytes per tensor: never below it, and within 1%."""
    torch.manual_seed(0)
    model = INR(scaled_model("siamese-siren", 96))
    real = len(compress(model, sample_rate=RATE, num_samples=RATE * 3, peak_scale=0.5, quant=quant,
                        preset="siamese-siren", variant="siamese"))
    guess = predicted_bytes(model.config, quant, 8, RATE, RATE * 3, "siamese-siren")  # capped at each layer's bits
    assert real <= guess <= real * 1.01


def test_plan_fits_the_budget_and_grows_with_it():
    points = synthetic_model()
    sizes = []
    for kbps in (8, 16, 32, 64, 128):
        plan = plan_rate(kbps, RATE * 5, RATE, rate_model=points)
        assert plan.predicted_bytes <= plan.budget_bytes == kbps * 1000 * 5 // 8
        sizes.append(plan.model.num_parameters())
    assert sizes == sorted(sizes) and sizes[-1] > 4 * sizes[0]


def test_plan_follows_the_measured_quality():
    """QAT's smaller weights buy more parameters; it wins when its quality deficit is small and
    loses when it is large: the choice comes from the rate model, not a fixed rule."""
    close = plan_rate(40, RATE * 5, RATE, rate_model=synthetic_model(quality_gap=0.5))
    far = plan_rate(40, RATE * 5, RATE, rate_model=synthetic_model(quality_gap=8.0))
    assert close.recipe.quant_aware and close.recipe.bits == 6
    assert not far.recipe.quant_aware and far.recipe.bits == 8
    assert close.model.num_parameters() > far.model.num_parameters()


def test_too_low_a_target_is_a_clear_error():
    with pytest.raises(SirenpipeError, match="below the smallest stream"):
        plan_rate(0.5, RATE // 10, RATE, rate_model=synthetic_model())
    with pytest.raises(SirenpipeError, match="positive"):
        plan_rate(-3, RATE, RATE, rate_model=synthetic_model())


def test_packaged_rate_model_covers_the_sweep():
    model = load_rate_model()
    rows = model.rows["siren"]
    recipes = {recipe_of(r) for r in rows}
    assert len(recipes) >= 2 and any(r.quant_aware for r in recipes) and len({r.bits for r in recipes}) >= 2
    assert {r.loss for r in recipes} >= {"mse", "lpc"}  # the objectives measured beside the paper's loss
    grid_rows = model.rows["latent_grid"]  # a smaller and a larger preset beside lg-s, each at several targets
    assert {r["preset"] for r in grid_rows} >= {"lg-xs", "lg-s", "lg-m"}
    assert all(len({r["target_kbps"] for r in grid_rows if r["preset"] == p}) >= 3 for p in ("lg-xs", "lg-s", "lg-m"))
    assert all(0 < r["kbps"] <= r["target_kbps"] for r in grid_rows)  # each point within its target
    assert all(0 < r["bits_per_weight"] <= max(r["bits"], r["first_layer_bits"] or 0) and r["params_per_second"] > 0
               for r in rows)
    p = model.provenance
    assert p["presets"] and p["duration_s"] > 0 and p["sample_rate"] > 0 and p["fit"]["siren"]["steps"] > 0
    assert len(p["clips"]) >= 2 and p["sirenpipe_version"] and p["created"]
    assert "packaged" in model.describe() and f"{len(p['clips'])} clips" in model.describe()


def rate_model_rows(first_layer_bits=(6, 4), loss="mse", loss_weight=0.0, gain=0.0) -> list[dict]:
    rows = []
    for first in first_layer_bits:
        for params, density, bpw, pesq in ((10000, 2000, 3.5, 2.5 if first == 6 else 2.0),
                                           (40000, 8000, 3.4, 3.0 if first == 6 else 2.4)):
            rows.append({"family": "siren", "bits": 4, "first_layer_bits": first, "quant_aware": True, "rate_weight": 0.0,
                         "loss": loss, "loss_weight": loss_weight, "per_channel": True, "float_bits": 16,
                         "params": params, "params_per_second": density, "bits_per_weight": bpw, "psnr": None,
                         "pesq": pesq + gain, "visqol": 2.0, "clips": 2})
    return rows


PROVENANCE = {"presets": ["siamese-siren"], "duration_s": 5.0, "sample_rate": RATE, "clips": ["a/x", "b/y"],
              "fit": {"siren": {"steps": 10}}, "sirenpipe_version": "test", "created": "2026-01-01", "source": "a test"}


def test_rate_control_chooses_an_input_layer_width_when_the_model_has_one(tmp_path):
    """A row's first_layer_bits becomes its recipe's (None where it equals bits), and plans
    quantize with it when it measured best."""
    path = tmp_path / "rate_model.json"
    write_rate_model(path, rate_model_rows(), PROVENANCE)
    model = load_rate_model(path)
    assert {recipe_of(r).first_layer_bits for r in model.rows["siren"]} == {6, None}
    plan = plan_rate(48, 5 * RATE, RATE, rate_model=model)
    assert plan.recipe.first_layer_bits == 6 and plan.recipe.quant().for_layer(True).bits == 6
    assert "4-bit (input layer 6-bit) quantization-aware" in plan.describe()
    assert plan.rate_model is model and str(path) in model.describe()


def test_rate_control_chooses_the_training_objective_unless_one_is_named(tmp_path, monkeypatch):
    """The objective is a recipe dimension: the plan takes the objective that measured best and
    fits with it (encode --kbps, target_kbps); a named objective restricts the plan to its recipes."""
    import sirenpipe.encoder.rate_model as rate_model

    # the packaged model, for the workflow (only rate_model's view of importlib.resources: ViSQOL reads its own)
    monkeypatch.setattr(rate_model, "resources", SimpleNamespace(files=lambda package: tmp_path))
    path = tmp_path / rate_model.PACKAGED
    write_rate_model(path, rate_model_rows((6,)) + rate_model_rows((6,), "lpc", 64.0, gain=0.3), PROVENANCE)
    model = load_rate_model(path)
    best = plan_rate(48, 5 * RATE, RATE, rate_model=model)
    assert best.recipe.loss == "lpc" and best.recipe.fit_settings()["loss_weight"] == 64.0
    assert "loss lpc (weight 64)" in best.describe()
    plain = plan_rate(48, 5 * RATE, RATE, rate_model=model, loss="mse")
    assert plain.recipe.loss == "mse" and plain.predicted_quality < best.predicted_quality
    with pytest.raises(SirenpipeError, match="no recipe with loss 'segmental'; it has lpc, mse"):
        plan_rate(48, 5 * RATE, RATE, rate_model=model, loss="segmental")
    clip = Clip(speech_like(RATE, 1.0), RATE, 1.0, RATE, 1.0)
    encoded = encode_at_rate(clip, 48, fit_config=FitConfig(steps=2, batch_size=4096, device="cpu"), progress=False,
                             rate_model=model)
    assert encoded.fit.config.loss == "lpc" and encoded.fit.config.loss_weight == 64.0
    ablation = {"name": "t", "preset": "siamese-siren", "target_kbps": 48}
    assert resolve_ablation(ablation, {}, 5 * RATE, RATE)["fit"]["loss"] == "lpc"
    assert resolve_ablation(ablation, {}, 5 * RATE, RATE)["fit"]["loss_weight"] == 64.0
    assert resolve_ablation({**ablation, "fit": {"loss": "mse"}}, {}, 5 * RATE, RATE)["fit"]["loss"] == "mse"
    assert resolve_ablation(ablation, {"siren": {"fit": {"loss": "mse"}}}, 5 * RATE, RATE)["fit"]["loss"] == "mse"
    with pytest.raises(ValueError, match="target_kbps chooses fit.loss_weight"):
        resolve_ablation({"name": "t", "preset": "siamese-siren", "target_kbps": 48, "fit": {"loss_weight": 2.0}},
                         {}, 5 * 22050, 22050)


def test_a_schema_1_rate_model_reads_as_mse(tmp_path):
    """Rate models written before the objective was a recipe dimension were all fitted with MSE."""
    import json

    rows = [{k: v for k, v in row.items() if k not in ("loss", "loss_weight", "family")} for row in rate_model_rows()]
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"schema": 1, "provenance": {**PROVENANCE, "fit": {"steps": 10}}, "rows": rows}))
    model = load_rate_model(path)
    assert {(r["loss"], r["loss_weight"]) for r in model.rows["siren"]} == {("mse", 0.0)}
    path.write_text(json.dumps({"schema": 4, "provenance": PROVENANCE, "rows": rows}))
    with pytest.raises(SirenpipeError, match="schema 4"):
        load_rate_model(path)
    bad = rate_model_rows()
    bad[0]["loss"] = "perceptual"
    with pytest.raises(SirenpipeError, match="row 0: invalid loss"):
        write_rate_model(tmp_path / "bad.json", bad, PROVENANCE)


def test_rate_model_file_is_checked_against_its_schema(tmp_path):
    """Writer and reader share one schema: a missing column, a missing provenance field or a file
    that is not a rate model is a one-line error naming the file."""
    with pytest.raises(SirenpipeError, match="columns"):
        write_rate_model(tmp_path / "m.json", [{k: v for k, v in rate_model_rows()[0].items() if k != "clips"}],
                         PROVENANCE)
    with pytest.raises(SirenpipeError, match="provenance lacks clips"):
        write_rate_model(tmp_path / "m.json", rate_model_rows(), {k: v for k, v in PROVENANCE.items() if k != "clips"})
    assert not (tmp_path / "m.json").exists()
    with pytest.raises(SirenpipeError, match="row 1: invalid params_per_second"):
        write_rate_model(tmp_path / "m.json", [rate_model_rows()[0], {**rate_model_rows()[1], "params_per_second": 0}],
                         PROVENANCE)
    with pytest.raises(SirenpipeError, match="row 0: invalid bits"):
        write_rate_model(tmp_path / "m.json", [{**rate_model_rows()[0], "bits": 12}], PROVENANCE)
    bad = tmp_path / "bad.json"
    bad.write_text("bits,quant_aware\n4,True\n")
    with pytest.raises(SirenpipeError, match=f"{bad}: not a rate model"):
        load_rate_model(bad)


def test_rate_model_install_makes_a_sweep_result_the_packaged_one(tmp_path, monkeypatch, capsys):
    """`sirenpipe rate-model install FILE` checks the file and puts it where load_rate_model()
    reads by default; `encode --kbps --rate-model FILE` plans from a given file and says so."""
    import sirenpipe.encoder.rate_model as rate_model

    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setattr(rate_model, "resources", SimpleNamespace(files=lambda package: data))
    swept = tmp_path / "rate_model.json"
    write_rate_model(swept, rate_model_rows(), PROVENANCE)
    assert main(["rate-model", "install", str(swept)]) == 0
    assert (data / "rate_model.json").read_text() == swept.read_text()
    assert load_rate_model().provenance["source"] == "a test"
    assert main(["rate-model", "show"]) == 0
    assert "4-bit (input layer 6-bit) quantization-aware" in capsys.readouterr().out
    (tmp_path / "broken.json").write_text("{}")
    assert main(["rate-model", "install", str(tmp_path / "broken.json")]) == 2
    assert load_rate_model().provenance["source"] == "a test"  # the installed model is untouched


def short_clip(seconds=1.0) -> Clip:
    x = speech_like(RATE, seconds)
    return Clip(x / np.abs(x).max(), RATE, 0.7, RATE, seconds)


def test_encode_at_rate_never_exceeds_the_target():
    clip = short_clip()
    fit = FitConfig(steps=30, batch_size=4096, seed=0, device="cpu")
    for kbps in (40.0, 120.0):
        encoded = encode_at_rate(clip, kbps, fit_config=fit, progress=False)
        assert len(encoded.data) * 8 / clip.duration / 1000 <= kbps
        header = read_header(encoded.data)[0]
        assert header.model == encoded.plan.model and header.quant == encoded.stream_config


def test_over_budget_streams_are_requantized_at_fewer_bits():
    clip = short_clip()
    torch.manual_seed(0)
    fitted = SimpleNamespace(model=INR(scaled_model("siamese-siren", 64)), config=FitConfig())
    full = encode_fitted(fitted, clip, QuantConfig(8, True, "entropy", 16))
    assert full.stream_config.bits == 8
    smaller = encode_fitted(fitted, clip, QuantConfig(8, True, "entropy", 16), budget_bytes=len(full.data) * 3 // 4)
    assert smaller.stream_config.bits < 8 and len(smaller.data) <= len(full.data) * 3 // 4
    with pytest.raises(SirenpipeError, match="over its budget"):
        encode_fitted(fitted, clip, QuantConfig(8, True, "entropy", 16), budget_bytes=100)


def test_the_stream_names_its_best_variant_and_decode_uses_it():
    """A model fitted to a noisy clip: the stream names the variant with the highest PESQ-WB +
    ViSQOL against the clip (scored here independently from decode's output), decode's default is it;
    a header naming a variant the model cannot run is refused."""
    from conftest import add_noise
    from sirenpipe.fit import fit
    from sirenpipe.metrics import score

    noisy = add_noise(speech_like(RATE, 1.0), 15.0)
    clip = Clip((noisy / np.abs(noisy).max()).astype(np.float32), RATE, 0.5, RATE, 1.0)
    result = fit(clip.samples, scaled_model("siamese-siren", 48), FitConfig(steps=150, batch_size=4096, device="cpu"),
                 progress=False)
    encoded = encode_fitted(result, clip, QuantConfig(8))
    data, variant = encoded.data, encoded.variant
    assert decompress(data).header.variant == variant and decode(data).variant == variant
    reference = clip.samples * clip.peak_scale
    quality = {}
    for v in ("f0", "mean", "siamese", "blind"):
        results = score(ref=reference, est=decode(data, variant=v).signal, sample_rate=RATE, metrics=["pesq", "visqol"])
        quality[v] = results["pesq"].value + results["visqol"].value
    assert quality[variant] == pytest.approx(max(quality.values()), abs=1e-6), quality
    assert decode(data, variant="f0").variant == "f0"
    one_head = INR(model_config("optimized-siren", shared=(16, 16)))
    with pytest.raises(BitstreamError, match="decoder variant"):
        compress(one_head, sample_rate=RATE, num_samples=RATE, peak_scale=1.0, variant="siamese")
    bad = compress(one_head, sample_rate=RATE, num_samples=RATE, peak_scale=1.0, variant="f0")
    bad = bad.replace(b'"variant":"f0"', b'"variant":"xx"')[:-4]
    with pytest.raises(BitstreamError, match="decoder variant"):
        decompress(bad + zlib.crc32(bad).to_bytes(4, "little"))


def test_cli_kbps_prints_its_choice_and_lands_under_target(tmp_path, capsys):
    wav, sirn = tmp_path / "speech.wav", tmp_path / "speech.sirn"
    sf.write(wav, 0.5 * speech_like(RATE, 2.0), RATE, subtype="PCM_16")
    args = ["encode", str(wav), str(sirn), "--kbps", "48", "--steps", "30", "--batch-size", "4096", "--quiet",
            "--device", "cpu", "--sample-rate", str(RATE), "--duration", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "rate control: target 48 kbps" in out and "parameters" in out and "-bit" in out
    assert "rate control: planned from the rate model (packaged) rate_model.json" in out
    assert sirn.stat().st_size * 8 / 2.0 / 1000 <= 48
    for flag in ("--bits", "--first-layer-bits", "--coding", "--float-bits"):  # every rate-controlled stream option
        value = "entropy" if flag == "--coding" else "16" if flag == "--float-bits" else "6"
        assert main([*args, flag, value]) == 2
        err = capsys.readouterr().err
        assert "--kbps chooses" in err and flag in err and "Traceback" not in err
    for flag in ("--per-channel", "--qat"):
        assert main([*args, flag]) == 2 and flag in capsys.readouterr().err
    assert main([*args, "--rate-weight", "1e-4"]) == 2 and "--rate-weight" in capsys.readouterr().err
    assert main([*args, "--bits", "0"]) == 2 and "--bits" in capsys.readouterr().err  # given, even if falsy
    assert main([*args, "--loss-weight", "8"]) == 2 and "--loss-weight" in capsys.readouterr().err
    model = tmp_path / "mse_only.json"
    write_rate_model(model, rate_model_rows(), PROVENANCE)
    assert main([*args, "--loss", "lpc", "--rate-model", str(model)]) == 2
    err = capsys.readouterr().err
    assert "no recipe with loss 'lpc'" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    without_kbps = [a for a in args if a not in ("--kbps", "48")]
    assert main([*without_kbps, "--loss-weight", "8"]) == 2 and "give --loss too" in capsys.readouterr().err


def test_workflow_target_kbps_resolves_to_the_plan():
    samples, rate = 5 * 22050, 22050
    resolved = resolve_ablation({"name": "t", "preset": "siamese-siren", "target_kbps": 40}, {}, samples, rate)
    plan = plan_rate(40, samples, rate, "siamese-siren")
    assert resolved["model"] == plan.model.to_dict() and resolved["quant"] == plan.recipe.quant().to_dict()
    assert resolved["fit"]["quant_aware"] == plan.recipe.quant_aware and resolved["target_kbps"] == 40.0
    with pytest.raises(ValueError, match="target_kbps chooses quant.bits"):
        resolve_ablation({"name": "t", "preset": "siamese-siren", "target_kbps": 40, "quant": {"bits": 6}}, {},
                         samples, rate)
    with pytest.raises(ValueError, match="target_kbps chooses quant.first_layer_bits"):
        resolve_ablation({"name": "t", "preset": "siamese-siren", "target_kbps": 40, "quant": {"first_layer_bits": 6}},
                         {}, samples, rate)
    with pytest.raises(ValueError, match="below the smallest stream"):
        resolve_ablation({"name": "t", "preset": "siamese-siren", "target_kbps": 0.1}, {}, samples, rate)


def test_ablations_differing_only_in_quantization_share_a_fit():
    defaults = {"siren": {"fit": {"steps": 10, "device": "cpu"}}}
    ablations = {a["name"]: resolve_ablation(a, defaults) for a in [
        {"name": "b8", "preset": "siamese-siren", "quant": {"bits": 8}},
        {"name": "b4", "preset": "siamese-siren", "quant": {"bits": 4}},
        {"name": "qat4", "preset": "siamese-siren", "quant": {"bits": 4}, "fit": {"quant_aware": True}},
        {"name": "small", "preset": "siamese-2x64-1x32", "quant": {"bits": 4}},
    ]}
    assert fit_owners(ablations) == {"b8": "b8", "b4": "b8", "qat4": "qat4", "small": "small"}


def sweep_scores() -> list[dict]:
    rows = []
    for ablation, bits, qat, coded in (("ptq8", 8, False, 7000), ("qat6", 6, True, 5000)):
        for clip, offset in (("a", 0.0), ("b", 2.0)):
            for variant, psnr in (("mean", 40.0), ("siamese", 38.0)):
                rows.append(dict(status="ok", curve=ablation, target_kbps=None, coding="entropy", ablation=ablation,
                                 dataset="d", clip=clip, bits=bits, quant_aware=qat, rate_weight=0.0, per_channel=True,
                                 loss="mse", loss_weight=0.0,
                                 float_bits=16, params=10_000, weights=9_000, duration_s=5.0,
                                 coded_weight_bytes=coded, variant=variant, psnr=psnr + offset + bits, pesq=2.0,
                                 preset="siamese-siren", sample_rate=22050, steps=100, batch_size=4096, lr=1e-4,
                                 seed=0, library_version="9.9"))
    rows.append({**rows[0], "coding": "fixed", "psnr": 99.0, "clip": "c"})  # the paper's fixed codes: not a recipe
    rows.append({**rows[0], "target_kbps": 32.0, "psnr": 99.0, "clip": "c"})  # rate-controlled: not a measurement
    # a classical codec's row: no INR settings, so the integer columns read back as floats
    rows.append({**rows[0], "curve": None, "ablation": "opus", "bits": None, "float_bits": None, "steps": None,
                 "seed": None, "batch_size": None, "psnr": 99.0})
    return rows


def test_rate_model_averages_the_best_variant_over_clips():
    import pandas as pd

    from sirenpipe.pipeline.rate_model import rate_model

    model = pd.DataFrame(rate_model(pd.DataFrame(sweep_scores()))).set_index("bits")
    assert sorted(model.index) == [6, 8] and (model["clips"] == 2).all() and (model["family"] == "siren").all()
    assert model.loc[8, "psnr"] == pytest.approx(49.0) and model.loc[6, "psnr"] == pytest.approx(47.0)
    assert model.loc[8, "params_per_second"] == 2000 and model.loc[6, "bits_per_weight"] == pytest.approx(5000 * 8 / 9000)


def test_rate_model_stage_writes_what_rate_control_reads_with_its_provenance(tmp_path):
    """The sweep's stage writes the one schema: load_rate_model reads it back, plans from it, and
    the provenance names the measured clips (not the excluded rows') and the fit budget."""
    import pandas as pd

    from sirenpipe.pipeline.rate_model import write_rate_model_stage

    scores = tmp_path / "scores.parquet"
    pd.DataFrame(sweep_scores()).to_parquet(scores)
    write_rate_model_stage(scores, tmp_path / "rate_model.json", ["config/rd.yaml"])
    model = load_rate_model(tmp_path / "rate_model.json")
    p = model.provenance
    assert p["clips"] == ["d/a", "d/b"] and p["presets"] == ["siamese-siren"] and p["duration_s"] == 5.0
    assert p["sample_rate"] == 22050 and p["fit"] == {"siren": {"steps": 100, "batch_size": 4096, "lr": 1e-4, "seed": 0}}
    assert isinstance(p["fit"]["siren"]["steps"], int)  # as configured, though the codec rows made the column float
    assert p["sirenpipe_version"] == "9.9" and p["source"] == "snakemake --configfile config/rd.yaml"
    assert {row["bits"] for row in model.rows["siren"]} == {6, 8}
    assert plan_rate(24, 5 * RATE, RATE, rate_model=model).rate_model is model
    music_only = pd.DataFrame(sweep_scores()).assign(pesq=None)
    music_only.to_parquet(scores)
    with pytest.raises(SirenpipeError, match="no curve point has pesq"):
        write_rate_model_stage(scores, tmp_path / "unusable.json")
    assert not (tmp_path / "unusable.json").exists()


@pytest.mark.parametrize("name", ["config.yaml", "rd.yaml", "paper.yaml", "paper-reduced.yaml", "paper-cpu.yaml"])
def test_shipped_configs_validate_and_resolve(name):
    """Every shipped config passes the schema and resolves every ablation, target_kbps ones
    included (config.yaml's siamese-48kbps plans within its target)."""
    from pathlib import Path

    import jsonschema
    import yaml

    repo = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((repo / "config" / name).read_text())
    jsonschema.validate(config, yaml.safe_load((repo / "workflow/schemas/config.schema.yaml").read_text()))
    samples = round(config["clip"]["duration"] * config["clip"]["sample_rate"])
    for a in config["ablations"]:
        resolved = resolve_ablation(a, config.get("defaults", {}), samples, config["clip"]["sample_rate"])
        if a.get("target_kbps"):
            plan = plan_rate(a["target_kbps"], samples, config["clip"]["sample_rate"], a["preset"])
            assert resolved["model"] == plan.model.to_dict() and plan.predicted_bytes <= plan.budget_bytes
