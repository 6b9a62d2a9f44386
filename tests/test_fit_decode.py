import numpy as np
import pytest
import torch

from conftest import speech_like
from sirenpipe.audio import make_clip
from sirenpipe.codec import VARIANTS, QuantConfig, allowed_variants, decode, default_variant, encode_clip, reconstruct
from sirenpipe.errors import FitDivergedError, SirenpipeError
from sirenpipe.fit import FitConfig, fit
from sirenpipe.models import model_config

SMALL = model_config("siamese-siren", shared=(64, 64), head_widths=(32,))


def snr(ref, est):
    return 10 * np.log10(np.sum(ref**2) / np.sum((ref - est) ** 2))


@pytest.fixture(scope="module")
def clip():
    return make_clip(speech_like(8000, 1.0), 8000, 8000)


@pytest.fixture(scope="module")
def encoded(clip):
    return encode_clip(clip, "siamese-siren", fit_config=FitConfig(steps=150, seed=3), progress=False)


def test_fit_learns_the_clip_and_records_history_and_seed(encoded):
    r = encoded.fit
    assert len(r.loss_history) == 150 and r.seed == 3 and r.device == "cpu"
    assert r.loss_history[-1] < 0.05 * r.loss_history[0]


def test_decoded_bitstream_matches_the_clip_at_its_level(encoded, clip):
    ref = clip.samples * clip.peak_scale
    f0 = decode(encoded.data, variant="f0").signal
    assert len(f0) == len(ref)
    assert snr(ref, f0) > 10
    assert np.std(f0) == pytest.approx(np.std(ref), rel=0.15)  # the original level, not 1.0
    mean = decode(encoded.data, variant="mean").signal
    assert snr(ref, mean) > 10
    default = decode(encoded.data)  # the reference decoder of a two-head stream, at its rate
    assert default.variant == "siamese" and default.sample_rate == 8000 and default.header.num_samples == len(ref)


def test_decode_at_other_rates_resamples_the_same_function(encoded, clip):
    up = decode(encoded.data, sample_rate=16000, variant="f0")
    assert up.sample_rate == 16000 and len(up.signal) == 2 * len(clip.samples)
    same, up = decode(encoded.data, variant="f0").signal, up.signal
    # every other output sample at the doubled rate lies on (nearly) the original grid
    assert snr(same, up[::2]) > 20


def test_decoder_variants_on_a_noisy_head():
    ref = speech_like(8000, 2.0)
    rng = np.random.default_rng(0)
    noise = 0.05 * rng.standard_normal(len(ref)).astype(np.float32)
    heads = np.stack([ref + noise, ref - noise])  # heads disagree exactly by the noise
    siamese = reconstruct(heads, 8000, "siamese")
    pauses = np.convolve(np.abs(ref), np.ones(400) / 400, mode="same") < 0.01
    assert pauses.mean() > 0.1
    # the noise estimate lets spectral gating silence the pauses (> 10 dB less noise there)
    assert np.mean(siamese[pauses] ** 2) < 0.1 * np.mean(heads[0][pauses] ** 2)
    assert np.allclose(reconstruct(heads, 8000, "mean"), ref, atol=1e-6)
    assert len(reconstruct(heads, 8000, "blind")) == len(ref)
    assert VARIANTS == allowed_variants(2) == ("f0", "mean", "siamese", "blind")
    assert allowed_variants(1) == ("f0", "blind") and (default_variant(1), default_variant(2)) == ("f0", "siamese")
    with pytest.raises(SirenpipeError, match="two heads"):
        reconstruct(heads[:1], 8000, "mean")
    with pytest.raises(SirenpipeError, match="known name"):
        reconstruct(heads, 8000, "wiener")


def test_same_seed_gives_identical_bytes_and_other_seed_differs(clip):
    def run(seed):
        return encode_clip(clip, model=SMALL, fit_config=FitConfig(steps=10, seed=seed), progress=False).data

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_minibatch_fit_and_low_bit_quantization(clip):
    e = encode_clip(clip, model=SMALL, fit_config=FitConfig(steps=60, batch_size=1024), quant=QuantConfig(4, True), progress=False)
    assert e.fit.loss_history[-1] < e.fit.loss_history[0]
    out = decode(e.data, variant="f0").signal
    assert np.all(np.isfinite(out))


def test_divergence_stops_with_the_step():
    target = np.ones(100, dtype=np.float32)
    target[10] = np.nan
    with pytest.raises(FitDivergedError, match="at step 1"):
        fit(target, SMALL, FitConfig(steps=5, check_every=2), progress=False)
    with pytest.raises(FitDivergedError, match="at step 2"):
        fit(np.ones(100, np.float32), SMALL, FitConfig(steps=5, lr=float("inf"), check_every=5), progress=False)


def test_cuda_request_without_cuda_warns_and_runs_on_cpu(clip):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        r = fit(clip.samples[:500], SMALL, FitConfig(steps=2, device="cuda"), progress=False)
    assert r.device == "cpu"
