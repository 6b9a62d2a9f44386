"""Rate tools: entropy-coded weights (format version 2), quantization-aware and rate-aware fitting."""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import speech_like
from sirenpipe.codec import QuantConfig, compress
from sirenpipe.codec.entropy import LAPLACE, encode_codes, laplace_bits
from sirenpipe.codec.quantize import fake_quantize_state, pack_ints, quantize_state
from sirenpipe.decoder import decompress, synthesize
from sirenpipe.fit import FitConfig, Trainer, fit
from sirenpipe.fit.trainer import _Encoded, time_grid
from sirenpipe.models import INR, input_weight_names, model_config
from sirenpipe.pipeline.config import resolve_ablation

RATE = 16000
SMALL = model_config("siamese-siren", shared=(64, 64), head_widths=(32,))  # 10.5k parameters: fits in seconds


@pytest.fixture(scope="module")
def clip():
    x = speech_like(RATE, 1.0)
    return (x / np.abs(x).max()).astype(np.float32)


def fitted(clip, steps=300, quant=None, **options):
    config = FitConfig(steps=steps, batch_size=4096, seed=0, device="cpu", **options)
    return fit(clip, SMALL, config, progress=False, quant=quant)


def stored(model, clip, quant):
    data = compress(model, sample_rate=RATE, num_samples=len(clip), peak_scale=1.0, quant=quant)
    return data, decompress(data)


def snr_db(ref, est):
    return 10 * math.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((ref - est).astype(np.float64) ** 2))


def mean_heads(stream):
    return synthesize(stream).mean(axis=0)


@pytest.fixture(scope="module")
def plain(clip):
    return fitted(clip)


# --- entropy coding --------------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [4, 6, 8])
def test_entropy_coding_is_lossless_and_never_larger(plain, clip, bits):
    fixed, fixed_stream = stored(plain.model, clip, QuantConfig(bits, True, "fixed"))
    coded, coded_stream = stored(plain.model, clip, QuantConfig(bits, True, "entropy"))
    assert np.array_equal(synthesize(fixed_stream), synthesize(coded_stream))  # the same audio, bit for bit
    assert len(coded) <= len(fixed)
    for f, c in zip(fixed_stream.payload.tensors, coded_stream.payload.tensors):
        assert c.bytes <= f.bytes and f.name == c.name and f.count == c.count
    if bits <= 4:  # a fitted model's codes are far from uniform at low bit widths
        assert len(coded) < 0.97 * len(fixed)
        assert {"histogram", "laplace"} & {t.coding for t in coded_stream.payload.tensors}


@pytest.mark.parametrize("bits", [2, 3, 5, 8])
def test_every_tensor_record_round_trips(bits):
    qmax = 2 ** (bits - 1) - 1
    rng = np.random.default_rng(bits)
    peaked = np.clip(np.rint(rng.laplace(0, qmax / 6 + 0.2, 5000)), -qmax, qmax).astype(np.int8)
    uniform = rng.integers(-qmax, qmax + 1, 5000).astype(np.int8)
    from sirenpipe.codec.entropy import decode_codes

    for codes in (peaked, uniform, np.zeros(7, np.int8), np.full(3, qmax, np.int8)):
        for coding in ("entropy", "fixed"):
            record = encode_codes(codes, bits, coding)
            decoded, mode, end = decode_codes(memoryview(record.data), 0, len(codes), bits)
            assert np.array_equal(decoded, codes) and mode == record.mode and end == len(record.data)
    assert encode_codes(peaked, bits).mode != 0 and len(encode_codes(peaked, bits).data) < len(pack_ints(peaked, bits))


def test_laplace_estimate_matches_the_laplace_coder():
    """laplace_bits, the rate term of rate-aware fitting, is the LAPLACE record's ideal length."""
    from sirenpipe.codec.entropy import _encode_laplace

    for scale, bits in ((0.3, 4), (2.0, 6), (6.0, 8)):
        codes = np.clip(np.rint(np.random.default_rng(1).laplace(0, scale, 20000)), -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1)
        estimate = laplace_bits(torch.tensor(codes, dtype=torch.float32), 2 ** (bits - 1) - 1).item() / 8
        record = _encode_laplace(codes.astype(np.int32), bits)
        assert record.mode == LAPLACE
        assert estimate == pytest.approx(len(record.data), rel=0.02, abs=16)


def test_version_1_streams_still_decode(plain, clip):
    """A stream in format version 1 (fixed-length codes, fp32 floats, no mode bytes), written here
    from its specification, decodes to the same weights as version 2 of the same model."""
    quant = QuantConfig(5, per_channel=True, coding="fixed")
    header = json.dumps({"model": SMALL.to_dict(), "preset": None, "sample_rate": RATE, "num_samples": len(clip),
                         "peak_scale": 1.0, "quant": {"bits": 5, "per_channel": True}}).encode()
    body = b"SIRN" + bytes([1]) + struct.pack("<I", len(header)) + header
    for value in quantize_state(plain.model.state_dict(), quant).values():
        if hasattr(value, "values"):
            body += value.scales.astype("<f4").tobytes() + pack_ints(value.values, 5)
        else:
            body += value.astype("<f4").tobytes()
    v1 = decompress(body + struct.pack("<I", zlib.crc32(body)))
    _, v2 = stored(plain.model, clip, quant)
    assert v1.version == 1 and v2.version == 2 and v1.header.quant == quant
    assert np.array_equal(synthesize(v1), synthesize(v2))


# --- quantization-aware fitting ------------------------------------------------------------------------
@pytest.mark.parametrize("quant", [QuantConfig(4, True), QuantConfig(5, False, float_bits=16),
                                   QuantConfig(4, True, first_layer_bits=8)])
def test_qat_model_decodes_bit_for_bit(clip, quant):
    """The decoded model is the fitted one as the fit last saw it: the trainer's own quantized
    forward pass over the whole clip equals the decoder's output, bit for bit."""
    trainer = Trainer([clip], SMALL, FitConfig(steps=60, batch_size=4096, seed=0, device="cpu", quant_aware=True), quant=quant)
    for _ in range(60):
        trainer.step()
    assert trainer.through_quantizer
    with torch.no_grad():
        trained = trainer._forward(trainer.inputs)[0].T.numpy()
    _, stream = stored(trainer.fitted_models()[0], clip, quant)
    assert np.array_equal(synthesize(stream), trained)
    latent = dict(_Encoded(trainer.models[0]).named_parameters())
    decoded = stream.payload.model.state_dict()
    quantized = fake_quantize_state(latent, quant)
    assert all(torch.equal(quantized[f"inr.{name}"], decoded[name]) for name in decoded)


def test_qat_beats_post_training_quantization_at_the_same_budget(plain, clip):
    """At 3 bits, PTQ of a plain fit loses much of its SNR; a quantization-aware fit with the same
    budget (steps, batch, seed) decodes clearly better."""
    quant = QuantConfig(3, True)
    unquantized = snr_db(clip, plain.model(time_grid(len(clip))).detach().numpy().mean(axis=1))
    ptq = snr_db(clip, mean_heads(stored(plain.model, clip, quant)[1]))
    qat = snr_db(clip, mean_heads(stored(fitted(clip, quant=quant, quant_aware=True).model, clip, quant)[1]))
    print(f"SNR unquantized {unquantized:.2f} dB, PTQ {ptq:.2f} dB, QAT {qat:.2f} dB")
    assert unquantized - ptq > 5
    assert qat - ptq > 2


# --- the input layer's own bit width ---------------------------------------------------------------------
def test_input_layer_is_stored_at_its_own_bits(plain, clip):
    """first_layer_bits quantizes the layer reading the positional encoding (and only it) at its
    own width: its codes span that width, the stream says so per tensor, and the decoded weights
    are the quantizer's; a stream without the option has no such header field."""
    quant = QuantConfig(4, True, first_layer_bits=7)
    data, stream = stored(plain.model, clip, quant)
    bits = {t.name: t.bits for t in stream.payload.tensors if t.coding != "float"}
    assert bits.pop("trunk.0.linear.weight") == 7 and set(bits.values()) == {4}
    assert stream.header.quant == quant and b'"first_layer_bits":7' in data and stream.version == data[4] == 3
    codes = quantize_state(plain.model.state_dict(), quant)
    assert np.abs(codes["trunk.0.linear.weight"].values).max() == 63 and np.abs(codes["trunk.1.linear.weight"].values).max() == 7
    expected = {name: torch.from_numpy(v.dequantize() if hasattr(v, "dequantize") else v) for name, v in codes.items()}
    assert all(torch.equal(expected[name], w) for name, w in stream.payload.model.state_dict().items())
    uniform, uniform_stream = stored(plain.model, clip, QuantConfig(4, True))
    assert b"first_layer_bits" not in uniform and uniform[4] == 2 and len(uniform) < len(data)
    assert QuantConfig(4, True, first_layer_bits=4) == QuantConfig(4, True)  # one spelling of "every layer at 4"
    assert snr_db(clip, mean_heads(stream)) > snr_db(clip, mean_heads(uniform_stream))
    shared_nothing = INR(model_config("siamese-0-3x128")).state_dict()  # each head reads the input itself
    assert input_weight_names(shared_nothing) == {"heads.0.0.linear.weight", "heads.1.0.linear.weight"}


def test_header_with_a_bad_input_layer_width_is_refused(plain, clip):
    """Version 3 names the input layer's width, as 2..8 other than bits; version 2 never names it
    (an older decoder then reports an unsupported version, not a corrupt header)."""
    from sirenpipe.codec.header import PREFIX
    from sirenpipe.errors import BitstreamError

    data, _ = stored(plain.model, clip, QuantConfig(4, True, first_layer_bits=7))

    def edited(field: bytes, version: int = 3) -> bytes:
        body = data[:-4].replace(b'"first_layer_bits":7', field)
        body = body[:4] + bytes([version]) + struct.pack("<I", PREFIX.unpack_from(data)[2] + len(field) - 20) + body[9:]
        return body + struct.pack("<I", zlib.crc32(body))

    assert decompress(edited(b'"first_layer_bits":6')).header.quant.first_layer_bits == 6  # the editing is sound
    for bad in (b'"first_layer_bits":9', b'"first_layer_bits":true', b'"first_layer_bits":"7"',
                b'"first_layer_bits":null', b'"first_layer_bits":4'):
        with pytest.raises(BitstreamError, match="corrupt .sirn header"):
            decompress(edited(bad))
    with pytest.raises(BitstreamError, match="version 2 quant fields"):
        decompress(edited(b'"first_layer_bits":7', version=2))


def test_input_layer_bits_let_4_bit_qat_recover_more(clip):
    """At 4 bits, a quantization-aware fit with the input layer at 8 bits decodes clearly better
    than one with every layer at 4 (same budget), and rate-aware fitting's estimate still equals
    the coded size with the two widths."""
    uniform = QuantConfig(4, True)
    first8 = QuantConfig(4, True, first_layer_bits=8)
    snr = {}
    for quant in (uniform, first8):
        result = fitted(clip, quant=quant, quant_aware=True, rate_weight=1e-4)
        data, stream = stored(result.model, clip, quant)
        snr[quant] = snr_db(clip, mean_heads(stream))
        coded = sum(t.bytes for t in stream.payload.tensors if t.coding != "float")
        assert result.rate_bits / 8 == pytest.approx(coded, rel=0.03)
    print(f"4-bit QAT SNR: every layer 4 bits {snr[uniform]:.2f} dB, input layer 8 bits {snr[first8]:.2f} dB")
    assert snr[first8] > snr[uniform] + 0.7


# --- rate-aware fitting ------------------------------------------------------------------------------
def test_rate_weight_trades_quality_for_size_and_its_estimate_is_the_coded_size(clip):
    quant = QuantConfig(6, True)
    sizes, snrs = [], []
    for weight in (0.0, 1e-3, 3e-3):
        result = fitted(clip, quant=quant, quant_aware=True, rate_weight=weight)
        data, stream = stored(result.model, clip, quant)
        sizes.append(len(data))
        snrs.append(snr_db(clip, mean_heads(stream)))
        if weight:
            coded = sum(t.bytes for t in stream.payload.tensors if t.coding != "float")
            print(f"rate weight {weight:g}: estimated {result.rate_bits / 8:.0f} bytes of weight codes, coded {coded}")
            assert result.rate_bits / 8 == pytest.approx(coded, rel=0.03)
    print(f"bytes {sizes}, SNR {snrs}")
    assert sizes[1] < 0.97 * sizes[0] and sizes[2] < 0.9 * sizes[0]  # the rate term buys size...
    assert snrs[0] > snrs[2]  # ...with quality


# --- interfaces ---------------------------------------------------------------------------------------
def test_cli_encodes_quantization_aware_and_info_lists_coded_tensors(tmp_path, clip):
    wav = tmp_path / "clip.wav"
    sf.write(wav, clip, RATE)
    out = tmp_path / "clip.sirn"
    run = subprocess.run([sys.executable, "-m", "sirenpipe", "encode", str(wav), str(out), "--bits", "4", "--qat",
                          "--steps", "40", "--batch-size", "2048", "--seed", "3", "--device", "cpu", "--quiet",
                          "--preset", "siamese-2x64-1x32"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    # below 6 bits the encoder keeps the input layer at 6 unless told otherwise
    assert "quantization-aware (20 steps)" in run.stdout and "4-bit (input layer 6-bit) entropy codes" in run.stdout
    info = json.loads(subprocess.run([sys.executable, "-m", "sirenpipe", "info", str(out), "--json"],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["format_version"] == 3 and info["bits"] == 4 and info["first_layer_bits"] == 6 and info["coding"] == "entropy"
    assert sum(t["count"] for t in info["tensors"]) == info["parameters"]
    weights = {t["name"]: t["bits"] for t in info["tensors"] if t["coding"] != "float"}
    assert weights.pop("trunk.0.linear.weight") == 6 and set(weights.values()) == {4}
    assert sum(t["bytes"] + t["scale_bytes"] for t in info["tensors"]) < info["bytes"] < 4 * info["parameters"]
    text = subprocess.run([sys.executable, "-m", "sirenpipe", "info", str(out)], capture_output=True, text=True, check=True).stdout
    assert "coded bits/value" in text and "trunk.0.linear.weight" in text and "4-bit (input layer 6-bit)" in text
    uniform = tmp_path / "uniform.sirn"
    run = subprocess.run([sys.executable, "-m", "sirenpipe", "encode", str(wav), str(uniform), "--bits", "4",
                          "--first-layer-bits", "4", "--steps", "5", "--device", "cpu", "--quiet",
                          "--preset", "siamese-2x64-1x32"], capture_output=True, text=True)
    assert run.returncode == 0 and "4-bit entropy codes" in run.stdout, run.stderr
    bad = subprocess.run([sys.executable, "-m", "sirenpipe", "encode", str(wav), str(tmp_path / "bad.sirn"), "--bits", "4",
                          "--first-layer-bits", "9", "--steps", "5", "--device", "cpu", "--quiet"], capture_output=True, text=True)
    assert bad.returncode == 2 and "first_layer_bits must be 2..8" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad.sirn").exists()


def test_workflow_fit_sees_the_quantizer_only_when_it_trains_with_it():
    """fit_quant is in the fit rule's params: a quant edit refits QAT/rate-aware ablations only."""
    defaults = {"siren": {"fit": {"steps": 10}, "quant": {"bits": 6}}}
    plain = resolve_ablation({"name": "a", "preset": "siamese-siren"}, defaults)
    qat = resolve_ablation({"name": "b", "preset": "siamese-siren", "fit": {"quant_aware": True}}, defaults)
    rate = resolve_ablation({"name": "c", "preset": "siamese-siren", "fit": {"rate_weight": 1e-6}}, defaults)
    assert plain["fit_quant"] is None
    assert qat["fit_quant"] == rate["fit_quant"] == qat["quant"] == QuantConfig(6).to_dict()
    with pytest.raises(ValueError, match="needs the quantization settings"):
        fit(np.zeros(100, np.float32), SMALL, FitConfig(steps=1, quant_aware=True), progress=False)


def test_rate_estimate_is_finite_when_a_row_of_weights_is_all_zero():
    """A strong rate term can drive a whole row to zero (its scale is then 1, its codes 0): the
    estimate and its gradient must stay finite (a NaN here once stopped a fit as diverged)."""
    from sirenpipe.codec.entropy import estimate_weight_bits

    w = torch.randn(4, 16, requires_grad=True)
    with torch.no_grad():
        w[1] = 0.0
    for per_channel in (True, False):
        bits = estimate_weight_bits({"layer.weight": w}, QuantConfig(6, per_channel))
        (grad,) = torch.autograd.grad(bits, w)
        assert torch.isfinite(bits) and torch.isfinite(grad).all()
    zero = torch.zeros(4, 16, requires_grad=True)
    assert torch.isfinite(torch.autograd.grad(estimate_weight_bits({"w.weight": zero}, QuantConfig(6, True)), zero)[0]).all()
