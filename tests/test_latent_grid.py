"""The latent-grid family (bitstream version 4): geometry, causal contexts, the fit, and the
stream's guarantees: decoded latents equal the encoder's, the ARM's code length is the coded one,
the decode is the fitted model's quantized forward, encodes are byte-identical for a seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import speech_like

from sirenpipe.audio import Clip
from sirenpipe.codec.latent_coding import LATENTS_PER_BYTE, exact_bits
from sirenpipe.decoder import decode, decompress, synthesize
from sirenpipe.encoder.api import encode_at_rate, encode_clip
from sirenpipe.fit import LatentFitConfig
from sirenpipe.fit.latent_trainer import fit_latent, hard_rate
from sirenpipe.models import LatentGridModel, model_config
from sirenpipe.models.latent_config import context_indices, decode_order, segment_length

SR = 8000
PRESETS = ("lg-xs", "lg-s", "lg-m")


def clip_of(seconds: float = 1.0) -> Clip:
    x = speech_like(SR, seconds)
    return Clip(x / np.abs(x).max(), SR, 0.5, SR, seconds)


@pytest.fixture(scope="module")
def encoded():
    return encode_clip(clip_of(), "lg-xs", fit_config=LatentFitConfig(steps=150, rate_weight=3e-4), progress=False)


@pytest.mark.parametrize("preset", PRESETS)
def test_config_states_the_networks_geometry(preset):
    config = model_config(preset)
    model = LatentGridModel(config, 3001)
    assert {k: tuple(v.shape) for k, v in model.network_state().items()} == config.parameter_shapes()
    assert [len(p) for p in model.latents] == list(config.grid_lengths(3001))
    for n, stride in zip(config.grid_lengths(3001), config.strides()):
        assert (n - 1) * stride >= 3000 > (n - 2) * stride  # the last latent covers the last sample, no further
    assert config.macs_per_sample()["total"] < 5000  # a cheap decoder, Cool-chic's order


def test_contexts_are_causal_in_the_decode_order():
    n, parent = 1000, 500
    index = context_indices(n, parent, 6)
    step_of = np.empty(n, dtype=int)
    for step, row in enumerate(decode_order(n)):
        step_of[row[row >= 0]] = step
    own = index[:, :6]
    for i in range(n):
        for j in own[i][own[i] >= 0]:
            assert step_of[j] < step_of[i] and j // segment_length(n) == i // segment_length(n)
    assert ((index[:, 6:] >= -1) & (index[:, 6:] < parent)).all()
    assert (index[1:, 0] >= 0).sum() == n - 1 - (n - 1) // segment_length(n)  # only segment starts lack a predecessor


def test_a_longer_fit_lowers_the_loss():
    x = clip_of().samples
    config, lmbda = model_config("lg-xs"), 3e-4

    def loss(steps):
        result = fit_latent(x, config, LatentFitConfig(steps=steps, rate_weight=lmbda), progress=False)
        with torch.no_grad():
            distortion = torch.mean((result.model("hard") - torch.as_tensor(x)[:, None]) ** 2).item()
        return distortion + lmbda * hard_rate(result.model) / len(x)

    assert loss(200) < 0.7 * loss(40)


def test_decoded_latents_are_the_encoders_bit_for_bit(encoded):
    stream = decompress(encoded.data)
    ours = [q.numpy().astype(np.int64) for q in encoded.fit.model.quantized_latents("hard")]
    assert any(np.abs(v).max() > 0 for v in ours)  # a real fit, not all-zero grids
    assert all(np.array_equal(a, b.astype(np.int64)) for a, b in zip(ours, stream.payload.latents))


def test_the_code_length_is_the_coded_bytes(encoded):
    stream = decompress(encoded.data)
    config = stream.header.model
    coded_bits = 8 * (stream.payload.sizes["latents"] - 2 * config.num_grids - 4)  # less alphabets and word count
    estimate = exact_bits(stream.payload.latents, stream.payload.integer_arm(config))
    assert sum(config.grid_lengths(stream.header.num_samples)) < LATENTS_PER_BYTE * coded_bits / 8  # no padding
    assert 0 <= coded_bits - estimate <= 64  # the range coder's termination, at most two words
    assert encoded.report["float_arm_bits"] == pytest.approx(encoded.report["latent_bits"], rel=0.03)


def test_the_decode_is_the_fitted_models_quantized_forward(encoded):
    stream = decompress(encoded.data)
    heads = synthesize(stream)
    with torch.no_grad():
        fitted = encoded.fit.model("hard").T.numpy() * 0.5
    np.testing.assert_allclose(heads, fitted, rtol=0, atol=1e-6)
    ref = clip_of().samples * 0.5
    assert decode(encoded.data).variant == encoded.variant
    f0 = decode(encoded.data, variant="f0").signal
    np.testing.assert_allclose(f0, fitted[0], rtol=0, atol=1e-6)
    assert 10 * np.log10(np.sum(ref**2) / np.sum((f0 - ref) ** 2)) > 6  # a real fit of the clip (a zero decode: 0 dB)


def test_encodes_are_byte_identical_for_a_seed():
    clip, config = clip_of(0.5), LatentFitConfig(steps=30, rate_weight=3e-4, seed=3)
    first, second = (encode_clip(clip, "lg-xs", fit_config=config, progress=False).data for _ in range(2))
    assert first == second
    other = encode_clip(clip, "lg-xs", fit_config=LatentFitConfig(steps=30, rate_weight=3e-4, seed=4), progress=False)
    assert other.data != first


def test_a_rate_target_keeps_the_stream_within_it():
    clip = clip_of(2.0)
    encoded = encode_at_rate(clip, 12.0, "lg-xs", fit_config=LatentFitConfig(steps=200), progress=False)
    assert encoded.family == "latent_grid"
    assert len(encoded.data) <= 12.0 * 1000 * clip.duration / 8
    assert len(encoded.data) > 0.5 * 12.0 * 1000 * clip.duration / 8  # it spends the budget, roughly


def test_the_cli_encodes_describes_and_refuses_siren_options(speech_wav, tmp_path, capsys):
    from sirenpipe.cli import main

    out = tmp_path / "a.sirn"
    assert main(["encode", str(speech_wav), str(out), "--preset", "lg-xs", "--bits", "4", "--quiet"]) == 2
    assert "--bits applies to another model family, not to the latent grid preset lg-xs" in capsys.readouterr().err
    assert not out.exists()
    assert main(["encode", str(speech_wav), str(out), "--preset", "lg-xs", "--steps", "20", "--kbps", "16", "--quiet"]) == 0
    assert out.stat().st_size <= 16000 * 2.0 / 8
    assert main(["info", str(out)]) == 0
    assert "format version 4" in capsys.readouterr().out
    assert main(["decode", str(out), str(tmp_path / "a.wav")]) == 0


# A version-4 stream written by this encoder (0.25 s of speech_like at 8 kHz, lg-xs, 40 steps, seed 0),
# and the SHA-256 of its latents: a change means decoders of different versions disagree on old files.
GOLDEN_V4 = bytes.fromhex(
    "5349524e04fa0000007b226d6f64656c223a7b2261726368223a226c6174656e745f67726964222c2261726d5f636f6e7465"
    "7874223a352c2261726d5f68696464656e223a312c22686561645f74617073223a392c22686561645f776964746873223a5b"
    "5d2c226d696e5f7374726964655f6c6f6732223a322c226e756d5f6772696473223a372c226e756d5f6865616473223a322c"
    "227472756e6b223a5b31322c31325d7d2c226e756d5f73616d706c6573223a323030302c227065616b5f7363616c65223a30"
    "2e352c22707265736574223a226c672d7873222c2273616d706c655f72617465223a383030302c2276617269616e74223a22"
    "7369616d657365227d040401022a0000005c8a446b4951a2115ab65996d3544575652109af4f44495174d513645645546656"
    "6454466666665ba4900c000000fd3fffea222232aabaaa90a005060303b50000005f15f26fd61d20aa7f5347927956db6398"
    "510b7b25969879751d4ef2b50ad79674829dbb5bdece8856595ded52a6578bf2621229494f7d4ed5f5041ab4985d4d9841c7"
    "6d3525243a7e16e4c829053949b6277f18ebed554cf99b52556776d45186d74a5175165049bb51d57d44e1984e954358f41e"
    "43d57514964165d259659957d95d295f555769398512615550519fce65151d450577ae22637ae22223e26b90fd9be4108999"
    "a4928f99aceffbde4928999c4920140000003048d0878b1e352131fe7907708109845bd72680ff000001ff01fe02fe02fe02"
    "fe023b000000f79a35464bbf0144c1690b0fa6232b58d422f08f24a2f2871997b08268498ab4cb7505a3aa911a79440a572e"
    "3672fc3cf0972b27d339cffed7b0b0433cede0406a3a1f3857b2c113823f365294d149f97d1a1cc8b3b7ddd85cc8a21c96ef"
    "f2bc6eed11763242cab7210ceb86e9127d6727cc6d8ad5e6117c2c25135e485b766d27622c8d1f08909642e18630d474b56c"
    "7706502b1c5619f20e05c0d462beac3d3029c0fd5ecf8b8ee4ac65342373745f35c9e120dbd472fddb2011db6f0cdd199847"
    "1c5c337920be95b2b054dbe9bf9dfee5b4eb171f25e7d35cf0874838879e0d1f8a239ee3101c240547a1de139021"
)
GOLDEN_LATENTS_SHA256 = "51574e29a17ddda2f52dc3111b250fa1d0305e0b078888a7739219e5f11433a9"


def test_a_golden_v4_stream_decodes_to_its_latents_and_recodes_to_its_bytes():
    import hashlib

    from sirenpipe.decoder import read_header
    from sirenpipe.codec.bitstream_v4 import write_payload

    stream = decompress(GOLDEN_V4)
    latents = b"".join(v.astype(np.int8).tobytes() for v in stream.payload.latents)
    assert hashlib.sha256(latents).hexdigest() == GOLDEN_LATENTS_SHA256
    offset = read_header(GOLDEN_V4)[1]
    assert write_payload(stream.payload, stream.header.model) == GOLDEN_V4[offset:-4]  # the coder is the decoder's inverse


@pytest.mark.parametrize("n", [1, 2, 17, 33, 257, 5000])
def test_the_coders_contexts_are_the_training_contexts(n):
    from sirenpipe.codec.latent_coding import grid_contexts

    rng = np.random.default_rng(n)
    own, parent = rng.integers(-64, 64, n), rng.integers(-64, 64, n // 2 + 1)
    for coarser in (parent, None):
        index = context_indices(n, None if coarser is None else len(coarser), 7) + 1  # as LatentGridModel.contexts
        padded_own = np.concatenate([[0], own])
        padded_parent = np.zeros(1, dtype=own.dtype) if coarser is None else np.concatenate([[0], coarser])
        expected = np.concatenate([padded_own[index[:, :7]], padded_parent[index[:, 7:]]], axis=1)
        assert np.array_equal(grid_contexts(own, coarser, np.arange(n), 7), expected)
