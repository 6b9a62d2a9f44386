import json

import numpy as np
import pytest
import soundfile as sf

from conftest import add_noise, music_like, speech_like
from sirenpipe.cli import main
from sirenpipe.codec import allowed_variants
from sirenpipe.decoder import read_header

FAST = ["--steps", "100", "--sample-rate", "8000", "--quiet"]


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    wav = d / "speech.wav"
    sf.write(wav, 0.5 * speech_like(16000, 1.5), 16000, subtype="PCM_16")
    sirn = d / "speech.sirn"
    assert main(["encode", str(wav), str(sirn), "--duration", "1.0", *FAST]) == 0
    return wav, sirn


def test_encode_decode_keeps_duration_and_level(encoded, tmp_path, capsys):
    wav, sirn = encoded
    out = tmp_path / "out.wav"
    assert main(["decode", str(sirn), str(out), "--variant", "f0"]) == 0
    decoded, rate = sf.read(out)
    original, _ = sf.read(wav)
    assert rate == 8000 and len(decoded) == 8000
    # the original level (peak 0.5), not renormalized to 1
    assert np.std(decoded) == pytest.approx(np.std(original[:16000]), rel=0.2)
    assert main(["decode", str(sirn), str(out), "--sample-rate", "16000"]) == 0
    chosen = read_header(sirn.read_bytes())[0].variant
    assert sf.info(out).frames == 16000 and f"variant {chosen}" in capsys.readouterr().out


def test_info_reports_true_sizes(encoded, capsys):
    _, sirn = encoded
    assert main(["info", str(sirn), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"] == 140_546 and info["preset"] == "siamese-siren"
    assert info["bytes"] == sirn.stat().st_size
    assert info["kbps"] == pytest.approx(sirn.stat().st_size * 8 / 1.0 / 1000)
    assert main(["info", str(sirn)]) == 0
    assert "140,546" in capsys.readouterr().out


def test_same_seed_encodes_are_byte_identical(encoded, tmp_path):
    wav, sirn = encoded
    again = tmp_path / "again.sirn"
    assert main(["encode", str(wav), str(again), "--duration", "1.0", *FAST]) == 0
    assert again.read_bytes() == sirn.read_bytes()


def test_bf16_option_reaches_the_fit_and_decodes(encoded, tmp_path, capsys):
    wav, sirn = encoded
    bf16, out = tmp_path / "bf16.sirn", tmp_path / "bf16.wav"
    assert main(["encode", str(wav), str(bf16), "--duration", "1.0", "--precision", "bf16", *FAST]) == 0
    # the same model, quantization and clip, other weights (entropy-coded, so sizes may differ too);
    # the decoder variant is the encoder's scored choice, which a near tie can tip either way
    kept = ("model", "quant", "sample_rate", "num_samples", "peak_scale", "preset")
    bf16_header, fp32_header = read_header(bf16.read_bytes())[0], read_header(sirn.read_bytes())[0]
    assert {k: getattr(bf16_header, k) for k in kept} == {k: getattr(fp32_header, k) for k in kept}
    assert bf16_header.variant in allowed_variants(bf16_header.model.num_heads)
    assert bf16.read_bytes() != sirn.read_bytes()
    assert main(["decode", str(bf16), str(out), "--denoise", "f0"]) == 0  # --variant's old name
    decoded, _ = sf.read(out)
    original, _ = sf.read(wav)
    corr = np.corrcoef(decoded, original[:16000:2])[0, 1]
    assert corr > 0.9  # 100 steps on 1 s at 8 kHz fit closely (0.997 here)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["encode", str(wav), str(bf16), "--precision", "fp8"])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_score_self_is_top_and_noisy_is_lower(tmp_path, capsys):
    ref = tmp_path / "ref.wav"
    noisy = tmp_path / "noisy.wav"
    x = speech_like(16000, 2.0)
    sf.write(ref, x, 16000, subtype="FLOAT")
    sf.write(noisy, add_noise(x, 0.0), 16000, subtype="FLOAT")
    assert main(["score", str(ref), str(ref), "--json", "--metrics", "pesq,stoi,snr"]) == 0
    self_scores = json.loads(capsys.readouterr().out)
    assert main(["score", str(ref), str(noisy), "--json", "--metrics", "pesq,stoi,snr"]) == 0
    noisy_scores = json.loads(capsys.readouterr().out)
    assert self_scores["pesq"]["value"] > 4.5 and self_scores["stoi"]["value"] > 0.99
    for name in ("pesq", "stoi", "snr"):
        assert noisy_scores[name]["value"] < self_scores[name]["value"]


def _assert_bad_input(argv, out, capsys, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not out.exists()


def test_flipped_byte_gives_one_line_error_and_no_output(encoded, tmp_path, capsys):
    _, sirn = encoded
    data = bytearray(sirn.read_bytes())
    data[len(data) // 2] ^= 0x10
    bad = tmp_path / "bad.sirn"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out.wav"
    _assert_bad_input(["decode", str(bad), str(out)], out, capsys, "CRC-32 mismatch")
    _assert_bad_input(["info", str(bad)], out, capsys, "CRC-32 mismatch")


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("this is not audio\n" * 10), "not readable as audio"),
        (lambda p: sf.write(p, np.zeros(8000), 8000), "digital silence"),
    ],
)
def test_bad_audio_gives_one_line_error_and_no_output(tmp_path, capsys, setup, message):
    src = tmp_path / "input.wav"
    setup(src)
    out = tmp_path / "out.sirn"
    _assert_bad_input(["encode", str(src), str(out), *FAST], out, capsys, message)


def test_bad_settings_are_one_line_errors(encoded, tmp_path, capsys):
    wav, _ = encoded
    out = tmp_path / "out.sirn"
    _assert_bad_input(["encode", str(wav), str(out), "--bits", "12", *FAST], out, capsys, "bits must be 2..8")
    _assert_bad_input(["encode", str(wav), str(out), "--device", "tpu", *FAST], out, capsys, "device must be")


def test_every_command_has_help(capsys):
    for command in ("encode", "decode", "info", "score"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: sirenpipe " + command in capsys.readouterr().out


# --- encode options: each one's effect on the output --------------------------------------------------
TINY = ["--preset", "siamese-2x64-1x32", "--sample-rate", "8000", "--quiet"]


def _decode_f0(sirn, tmp_path):
    out = tmp_path / (sirn.stem + ".wav")
    assert main(["decode", str(sirn), str(out), "--variant", "f0"]) == 0
    decoded, rate = sf.read(out)
    return decoded, rate


def _corr(a, b):
    return np.corrcoef(a, b)[0, 1]


def test_pad_fills_a_short_file_up_to_the_duration(encoded, tmp_path):
    wav, _ = encoded  # 1.5 s
    padded, cropped = tmp_path / "padded.sirn", tmp_path / "cropped.sirn"
    assert main(["encode", str(wav), str(padded), "--duration", "2.0", "--pad", "--steps", "30", *TINY]) == 0
    assert main(["encode", str(wav), str(cropped), "--duration", "2.0", "--steps", "30", *TINY]) == 0
    long, rate = _decode_f0(padded, tmp_path)
    short, _ = _decode_f0(cropped, tmp_path)
    assert rate == 8000 and len(long) == 16000  # exactly --duration
    assert len(short) == 12000  # without --pad: the file's own 1.5 s


def test_offset_encodes_the_part_after_it(tmp_path):
    first = 0.5 * speech_like(16000, 1.0)
    second = 0.5 * music_like(16000, 1.0)
    wav = tmp_path / "two-parts.wav"
    sf.write(wav, np.concatenate([first, second]), 16000, subtype="PCM_16")
    sirn = tmp_path / "offset.sirn"
    assert main(["encode", str(wav), str(sirn), "--offset", "1.0", "--duration", "1.0", "--steps", "100",
                 *TINY]) == 0
    decoded, _ = _decode_f0(sirn, tmp_path)
    assert len(decoded) == 8000
    after, before = second[::2], first[::2]
    assert _corr(decoded, after) > 0.8  # measured 0.92
    assert abs(_corr(decoded, before)) < 0.2  # measured -0.03


class _Spy:
    """Wraps sirenpipe.encoder.api.encode_clip (the CLI's entry point) and records each FitConfig."""

    def __init__(self, monkeypatch):
        import sirenpipe.encoder.api as api

        self.configs, original = [], api.encode_clip

        def spy(clip, *args, **kwargs):
            self.configs.append(kwargs["fit_config"])
            return original(clip, *args, **kwargs)

        monkeypatch.setattr(api, "encode_clip", spy)


def test_batch_size_reaches_the_fit_and_gives_another_valid_fit(encoded, tmp_path, monkeypatch):
    wav, _ = encoded
    spy = _Spy(monkeypatch)
    full, batched = tmp_path / "full.sirn", tmp_path / "batched.sirn"
    common = ["--duration", "1.0", "--steps", "100", *TINY]
    assert main(["encode", str(wav), str(full), *common]) == 0
    assert main(["encode", str(wav), str(batched), "--batch-size", "1024", *common]) == 0
    assert [c.batch_size for c in spy.configs] == [None, 1024]
    assert batched.read_bytes() != full.read_bytes()  # another fit (random mini-batches), same seed
    original, _ = sf.read(wav)
    for sirn in (full, batched):
        decoded, _ = _decode_f0(sirn, tmp_path)
        assert _corr(decoded, original[:16000:2]) > 0.65  # measured 0.88 full batch, 0.76 batches of 1024


# Cold inductor cache: 37 s here (idle 2-core CPU; 150 s while other jobs loaded it); warm: ~10 s.
def test_compile_reaches_the_fit_and_computes_the_same_function(encoded, tmp_path, monkeypatch):
    """--compile reaches the fit (torch.compile is called once) and the fit computes the same function
    (decodes 123 dB apart here; the bytes may differ by rounding)."""
    import torch

    wav, _ = encoded
    spy = _Spy(monkeypatch)
    compiled_calls = []
    original_compile = torch.compile

    def compile_spy(*args, **kwargs):
        compiled_calls.append(args)
        return original_compile(*args, **kwargs)

    monkeypatch.setattr(torch, "compile", compile_spy)
    plain, compiled = tmp_path / "plain.sirn", tmp_path / "compiled.sirn"
    common = ["--duration", "1.0", "--steps", "20", *TINY]
    assert main(["encode", str(wav), str(plain), *common]) == 0
    assert not compiled_calls
    assert main(["encode", str(wav), str(compiled), "--compile", *common]) == 0
    assert [c.compile for c in spy.configs] == [False, True] and len(compiled_calls) == 1
    a, _ = _decode_f0(plain, tmp_path)
    b, _ = _decode_f0(compiled, tmp_path)
    assert len(a) == len(b) == 8000
    assert 10 * np.log10(np.sum(a**2) / np.sum((a - b) ** 2)) > 60  # same fit up to rounding


def test_score_audio_mode_uses_the_audio_metric_setup(tmp_path, capsys):
    ref, deg = tmp_path / "ref.wav", tmp_path / "deg.wav"
    x = music_like(22050, 2.0)
    sf.write(ref, x, 22050, subtype="FLOAT")
    sf.write(deg, add_noise(x, 20.0), 22050, subtype="FLOAT")
    results = {}
    for mode in ("speech", "audio"):
        assert main(["score", str(ref), str(deg), "--json", "--mode", mode, "--metrics", "visqol,snr"]) == 0
        results[mode] = json.loads(capsys.readouterr().out)
    assert results["audio"]["visqol"]["mode"] == "audio-48k"
    assert results["speech"]["visqol"]["mode"] == "speech-16k-lattice"
    assert 1.0 <= results["audio"]["visqol"]["value"] <= 5.0
    assert results["audio"]["visqol"]["value"] != pytest.approx(results["speech"]["visqol"]["value"], abs=1e-3)
    assert results["audio"]["snr"] == results["speech"]["snr"]  # a mode-free metric is the same
    assert results["audio"]["snr"]["value"] == pytest.approx(20.0, abs=0.01)
    assert main(["score", str(ref), str(deg), "--mode", "audio", "--metrics", "visqol"]) == 0
    assert "[audio-48k]" in capsys.readouterr().out
