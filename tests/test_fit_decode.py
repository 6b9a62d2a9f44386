import numpy as np
import pytest
import torch

from conftest import add_noise, speech_like
from sirenpipe.audio import make_clip
from sirenpipe.codec import (
    VARIANTS,
    QuantConfig,
    allowed_variants,
    compress,
    default_variant,
    reconstruct,
)
from sirenpipe.decoder import decode
from sirenpipe.encoder import encode_clip
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
    # the fixture's device is "auto": the fit runs where auto resolves (FitResult.device is that device's name)
    assert len(r.loss_history) == 150 and r.seed == 3 and r.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert r.loss_history[-1] < 0.05 * r.loss_history[0]


def test_decoded_bitstream_matches_the_clip_at_its_level(encoded, clip):
    ref = clip.samples * clip.peak_scale
    f0 = decode(encoded.data, variant="f0").signal
    assert len(f0) == len(ref)
    assert snr(ref, f0) > 10
    assert np.std(f0) == pytest.approx(np.std(ref), rel=0.15)  # the original level, not 1.0
    mean = decode(encoded.data, variant="mean").signal
    assert snr(ref, mean) > 10
    default = decode(encoded.data)  # the variant the encoder chose for this stream, at its rate
    assert default.variant == encoded.variant == default.header.variant
    assert default.sample_rate == 8000 and default.header.num_samples == len(ref)


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
    """4-bit weights of a mini-batch fit still decode close to the clip, and measurably worse than
    8-bit weights of the same fitted model (quantization error is real and grows with fewer bits)."""
    e = encode_clip(clip, model=SMALL, fit_config=FitConfig(steps=300, batch_size=1024), stream_config=QuantConfig(4, True),
                    progress=False)
    assert e.fit.loss_history[-1] < 0.1 * e.fit.loss_history[0]
    ref = clip.samples * clip.peak_scale
    same_fit = dict(sample_rate=clip.sample_rate, num_samples=len(ref), peak_scale=clip.peak_scale)
    eight = decode(compress(e.fit.model, quant=QuantConfig(8, True), **same_fit), variant="f0").signal
    four = decode(e.data, variant="f0")
    assert four.header.quant.bits == 4 and len(four.signal) == len(ref) and np.all(np.isfinite(four.signal))
    snr8, snr4 = snr(ref, eight), snr(ref, four.signal)
    assert snr4 > 6.0  # measured 8.85 dB
    assert snr8 > snr4 + 1.5  # measured 11.46 vs 8.85 dB
    assert snr(eight, four.signal) < 20.0  # the 4-bit output is not the 8-bit one (12.0 dB apart here)


def _level_db(x):
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)))


def test_blind_variant_lowers_the_noise_floor_more_than_the_speech():
    """blind (noisereduce's non-stationary gating of f0 alone) on speech + white noise at 10 dB SNR:
    the noise in the pauses drops by far more than the voiced parts do (measured here: pauses -12.7 dB,
    voiced parts -6.6 dB).

    Not asserted, because it does not hold: a better SNR against the clean signal (10 dB in, 4.5 dB
    out: the gate also attenuates the speech by ~7 dB), or any gain on a steady tone + noise (the
    tone, being stationary, is gated like the noise: the tone band and a tone-free band both drop by
    8-10 dB)."""
    sr = 8000
    clean = speech_like(sr, 2.0)
    envelope = np.convolve(np.abs(clean), np.ones(sr // 20) / (sr // 20), mode="same")
    pauses, voiced = envelope < 0.01, envelope > 0.1
    assert pauses.mean() > 0.1 and voiced.mean() > 0.3
    noisy = add_noise(clean, 10.0).astype(np.float32)
    out = reconstruct(noisy[None], sr, "blind")
    assert len(out) == len(noisy) and np.all(np.isfinite(out))
    pause_drop = _level_db(noisy[pauses]) - _level_db(out[pauses])
    voiced_drop = _level_db(noisy[voiced]) - _level_db(out[voiced])
    assert pause_drop > 10.0  # 12.7 dB
    assert pause_drop > voiced_drop + 4.0  # 12.7 vs 6.6 dB: not just a gain change


# A noisy speech clip fitted by a small Siamese SIREN (the registered 2x128 + 1x64 preset) on
# mini-batches: the decoder variants on a real fitted model.
NOISY_SNR_DB = 10.0


@pytest.fixture(scope="module")
def noisy_fit():
    clean = speech_like(8000, 1.0)
    clip = make_clip(add_noise(clean, NOISY_SNR_DB), 8000, 8000)
    e = encode_clip(clip, "siamese-2x128-1x64", fit_config=FitConfig(steps=300, batch_size=1024, seed=0),
                    progress=False)
    return clean, e


def _spectral_distances(ref, est, sample_rate):
    from sirenpipe.metrics import score

    m = score(ref=ref.astype(np.float64), est=est.astype(np.float64), sample_rate=sample_rate,
              metrics=["lsd", "mel_distance"])
    return m["lsd"].value, m["mel_distance"].value


def test_siamese_improves_on_f0_for_a_fitted_noisy_clip(noisy_fit):
    """Against the clean clip, the siamese decoder (spectral gating with the heads' difference as the
    noise estimate) beats head 0 alone on SNR, log-spectral distance and mel distance. Measured here:
    SNR f0 9.73 / siamese 10.66 / blind 6.33 dB; LSD 23.5 / 21.9 / 19.8 dB; mel 1.95 / 1.79 / 1.58.
    Against blind it wins on SNR, but not on LSD or mel distance (blind gates harder): not asserted."""
    clean, e = noisy_fit
    assert snr(clean, decode(e.data, variant="f0").signal) < NOISY_SNR_DB  # the fit did not remove the noise
    out = {v: decode(e.data, variant=v).signal for v in ("f0", "siamese", "blind")}
    snrs = {v: snr(clean, x) for v, x in out.items()}
    lsd_f0, mel_f0 = _spectral_distances(clean, out["f0"], 8000)
    lsd_siamese, mel_siamese = _spectral_distances(clean, out["siamese"], 8000)
    assert snrs["siamese"] > snrs["f0"] + 0.3  # +0.93 dB
    assert lsd_siamese < lsd_f0 - 0.8  # -1.66 dB
    assert mel_siamese < 0.95 * mel_f0  # -8.5 %
    assert snrs["siamese"] > snrs["blind"] + 2.0  # 10.66 vs 6.33 dB


def test_alpha_scales_the_noise_estimate(noisy_fit):
    """alpha = 0 is no noise estimate; a larger alpha gates more: the output energy falls strictly
    with alpha (measured here: 208.2, 199.6, 171.9, 106.4 for alpha 0, 1, 2, 4)."""
    _, e = noisy_fit
    outs = {a: decode(e.data, variant="siamese", alpha=a).signal for a in (0.0, 1.0, 2.0, 4.0)}
    energy = {a: float(np.sum(np.square(x, dtype=np.float64))) for a, x in outs.items()}
    assert snr(outs[2.0], outs[0.0]) < 25.0  # alpha 0 and 2 give different signals (18.7 dB apart here)
    assert energy[0.0] > energy[1.0] > energy[2.0] > energy[4.0]
    assert energy[0.0] > 1.1 * energy[2.0] and energy[2.0] > 1.3 * energy[4.0]  # 1.21x and 1.61x here
    f0 = decode(e.data, variant="f0").signal
    assert snr(f0, outs[0.0]) > snr(f0, outs[2.0]) + 6.0  # no estimate stays close to f0: 31.0 vs 18.7 dB here


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
