import json

import numpy as np
import pytest
import soundfile as sf

from conftest import add_noise, speech_like
from sirenpipe.cli import main

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
    assert sf.info(out).frames == 16000 and "variant siamese" in capsys.readouterr().out


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
    assert bf16.stat().st_size == sirn.stat().st_size and bf16.read_bytes() != sirn.read_bytes()
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
