"""Training objectives (fit.loss): each term against a direct computation on real speech, the
weights, the batching they need, and what each does to a fit of a real clip."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from conftest import speech_like
from scipy.signal import welch

from sirenpipe.fit import LOSSES, FitConfig, Trainer, fit
from sirenpipe.fit.loss import (FRAME_SECONDS, Filtered, Objective, Spectral, build_objective, energy_weights,
                                lpc_weighting_taps, mse)
from sirenpipe.fit.trainer import time_grid
from sirenpipe.models import model_config

RATE = 16000
SPEECH = "/usr/share/games/fillets-ng/sound/tank/nl/sv-m-kecy.ogg"  # a real voice, from the demo packages
needs_demo = pytest.mark.skipif(not os.path.exists(SPEECH), reason="demo packages not installed")
SMALL = model_config("siamese-siren", shared=(64, 64), head_widths=(32,))


@pytest.fixture(scope="module")
def speech():
    from sirenpipe.audio import load_clip

    if not os.path.exists(SPEECH):
        pytest.skip("demo packages not installed")
    return load_clip(SPEECH, sample_rate=RATE, duration=2.0, offset=1.0).samples


def batch(clip, objective, steps=1, seed=0):
    """A trainer's first mini-batch for this objective: (predictions of an unfitted model, targets, index)."""
    trainer = Trainer([clip], SMALL, FitConfig(steps=steps, batch_size=4096, loss=objective, seed=seed, device="cpu"),
                      sample_rate=RATE)
    x, y, index = trainer._batch()
    with torch.no_grad():
        return trainer._forward(x), y, index, trainer


@needs_demo
@pytest.mark.parametrize("loss", [name for name in LOSSES if name != "mse"])
def test_the_weight_mixes_the_term_into_mse(speech, loss):
    """loss = (MSE + w * term) / (1 + w): w = 0 is MSE, and w sets the share of the term."""
    pred, y, index, trainer = batch(speech, loss)
    value = {w: build_objective(FitConfig(loss=loss, loss_weight=w), [speech], RATE, "cpu")(pred, y, index)
             for w in (0.0, 1.0, 3.0)}
    plain, term = mse(pred, y), trainer.objective.term(pred, y, index)
    assert torch.allclose(value[0.0], plain)
    assert not torch.allclose(term, plain, rtol=0.01)
    for w in (1.0, 3.0):
        assert torch.allclose(value[w], (plain + w * term) / (1 + w), rtol=1e-5)


@needs_demo
@pytest.mark.parametrize("loss", ["lpc", "preemphasis"])
def test_filtered_term_is_the_weighting_filter_applied_to_the_error(speech, loss):
    """The term equals, per stretch, the error run through each frame's FIR filter (scipy), squared
    and averaged: the filter sees prediction minus target, both sides filtered alike."""
    pred, y, index, trainer = batch(speech, loss)
    objective = trainer.objective
    assert isinstance(objective, Filtered)
    error = (pred - y)[0].numpy().astype(np.float64)  # (batch, heads)
    taps = objective.taps[0].numpy().astype(np.float64)
    k, segment, frame = taps.shape[1], objective.segment, objective.frame
    starts = index[0, ::segment].numpy()
    assert np.array_equal(index[0].numpy(), (starts[:, None] + np.arange(segment)).ravel())  # contiguous stretches
    total, count = 0.0, 0
    for s, start in enumerate(starts):
        e = error[s * segment : (s + 1) * segment]
        for t in range(k - 1, segment):
            h = taps[min((start + t) // frame, len(taps) - 1)]
            w = sum(h[j] * e[t - j] for j in range(k))
            total += float(np.sum(w**2))
            count += e.shape[1]
    assert objective.term(pred, y, index).item() == pytest.approx(total / count, rel=1e-4)


@needs_demo
def test_lpc_weighting_filter_is_low_at_the_formants(speech):
    """Each frame's filter has unit energy, and its response falls where the frame's spectrum
    peaks (A(z/0.92)/A(z/0.6) inverts a smoothed envelope): the error is pushed under the signal."""
    taps = lpc_weighting_taps(speech, RATE)
    frame = round(FRAME_SECONDS * RATE)
    assert taps.shape == (int(np.ceil(len(speech) / frame)), 32)
    assert np.allclose(np.sum(taps.astype(np.float64) ** 2, axis=1), 1, atol=1e-5)
    loud = np.argsort([np.sum(speech[i * frame : (i + 2) * frame] ** 2) for i in range(len(taps))])[-10:]
    correlations = []
    for f in loud:
        x = speech[f * frame : f * frame + 2 * frame] * np.hanning(2 * frame)
        spectrum = 20 * np.log10(np.abs(np.fft.rfft(x, 512)) + 1e-9)
        response = 20 * np.log10(np.abs(np.fft.rfft(taps[f], 512)) + 1e-9)
        correlations.append(np.corrcoef(spectrum, response)[0, 1])
    assert np.median(correlations) < -0.4


@needs_demo
def test_energy_weights_make_quiet_frames_count(speech):
    weights = energy_weights(speech, RATE)
    frame = round(FRAME_SECONDS * RATE)
    power = np.convolve(speech.astype(np.float64) ** 2, np.ones(frame) / frame, mode="same")
    quiet, loud = power < np.quantile(power, 0.2), power > np.quantile(power, 0.8)
    assert weights.mean() == pytest.approx(1.0, rel=1e-4)
    assert weights[quiet].mean() > 30 * weights[loud].mean()
    assert weights.max() / weights.min() <= 1 / 1e-3 * (power.max() / power.mean()) * 1.01  # the floor caps it


@needs_demo
def test_spectral_term_is_auraloss_per_clip_and_ignores_phase(speech):
    """Per clip (auraloss over that clip's stretches and heads, times its mean power), so one
    clip's loss has no gradient from another's predictions; a one-sample delay costs far less
    than white noise of the same waveform error."""
    import auraloss

    other = np.roll(speech, 3000)
    objective = build_objective(FitConfig(loss="mrstft"), [speech, other], RATE, "cpu")
    assert isinstance(objective, Spectral)
    y = torch.as_tensor(np.stack([speech, other]))[..., None]
    delayed = torch.roll(y, 1, dims=1).expand(-1, -1, 2).clone().requires_grad_(True)
    terms = objective.term(delayed, y, None)
    alone = auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=[512, 1024, 2048], hop_sizes=[128, 256, 512],
                                                  win_lengths=[512, 1024, 2048])
    y0 = y[0].T[None]
    expected = alone(delayed[0, :, :1].T[None], y0) * float(np.mean(speech.astype(np.float64) ** 2))
    assert terms[0].item() == pytest.approx(expected.item(), rel=1e-4)
    terms[0].backward()
    assert delayed.grad[1].abs().max() == 0 and delayed.grad[0].abs().max() > 0
    error = mse(delayed[:1].detach(), y[:1]).item()
    noise = torch.as_tensor(np.random.default_rng(0).standard_normal(y.shape[1]), dtype=torch.float32)
    noisy = y + noise[None, :, None] * np.sqrt(error)  # white noise of the delay's waveform error
    assert objective.term(noisy.expand(-1, -1, 2), y, None)[0].item() > 3 * terms[0].item()


def test_mse_keeps_random_samples_and_other_objectives_draw_stretches():
    """mse draws exactly the trainer's old random indices (so its fits are unchanged); the
    filtered objectives draw batch_size // segment stretches; a clip shorter than a stretch is
    fitted whole."""
    clip = np.sin(np.arange(RATE) * 0.05).astype(np.float32)
    _, _, index, trainer = batch(clip, "mse", seed=3)
    generator = torch.Generator().manual_seed(3)
    assert torch.equal(index[0], torch.randint(RATE, (4096,), generator=generator))
    _, _, index, trainer = batch(clip, "lpc")
    segment = trainer.objective.segment
    assert index.shape == (1, 4096 // segment * segment)
    assert torch.all(index.view(-1, segment).diff(dim=1) == 1)
    _, _, index, _ = batch(clip[:segment - 1], "lpc")
    assert index is None


def test_objectives_other_than_mse_need_the_sample_rate_and_bad_settings_are_refused():
    with pytest.raises(ValueError, match="sample rate"):
        Trainer([np.zeros(100, np.float32)], SMALL, FitConfig(steps=1, loss="lpc"))
    with pytest.raises(ValueError, match="loss must be one of"):
        FitConfig(loss="perceptual")
    with pytest.raises(ValueError, match="loss_weight"):
        FitConfig(loss="lpc", loss_weight=-1.0)
    assert type(build_objective(FitConfig(), [np.zeros(10, np.float32)], None, "cpu")) is Objective
    for loss, shortest in (("lpc", 31), ("mrstft", 2047)):  # too short for the filter or the largest FFT
        with pytest.raises(ValueError, match=f"loss '{loss}' needs clips of at least {shortest + 1} samples"):
            build_objective(FitConfig(loss=loss), [np.ones(shortest, np.float32)], 22050, "cpu")
    weights = energy_weights(np.linspace(0.1, 1, 50, dtype=np.float32), 16000)  # shorter than a frame
    assert weights.shape == (50,) and weights.mean() == pytest.approx(1.0, rel=1e-4)


def band_snr(clip, decoded, low, high):
    f, s = welch(clip, RATE, nperseg=512)
    _, e = welch(decoded - clip, RATE, nperseg=512)
    band = (f >= low) & (f < high)
    return 10 * np.log10(s[band].sum() / e[band].sum())


def quiet_snr(clip, decoded):
    frame = round(FRAME_SECONDS * RATE)
    power = np.convolve(clip.astype(np.float64) ** 2, np.ones(frame) / frame, mode="same")
    quiet = power < np.quantile(power, 0.3)
    return 10 * np.log10(np.sum(clip[quiet] ** 2) / np.sum((decoded - clip)[quiet] ** 2))


@needs_demo
def test_each_objective_moves_the_error_where_it_says(speech):
    """Same model, budget and seed on real speech: the shaping objectives trade low-band for
    high-band SNR (lpc, preemphasis), the energy-weighted one buys SNR in the quiet frames, and
    every one still fits both heads to the clip (the Siamese noise estimate needs it)."""
    decoded = {}
    for loss, weight in [("mse", 1.0), ("lpc", 64.0), ("preemphasis", 8.0), ("segmental", 4.0)]:
        result = fit(speech, SMALL, FitConfig(steps=400, batch_size=4096, device="cpu", loss=loss,
                                              loss_weight=weight), progress=False, sample_rate=RATE)
        with torch.no_grad():
            heads = result.model(time_grid(len(speech))).numpy().T
        assert all(10 * np.log10(np.sum(speech**2) / np.sum((h - speech) ** 2)) > 5 for h in heads), loss
        decoded[loss] = heads[0]
    high = {k: band_snr(speech, d, 3000, 8000) for k, d in decoded.items()}
    low = {k: band_snr(speech, d, 0, 1000) for k, d in decoded.items()}
    for shaped in ("lpc", "preemphasis"):
        assert high[shaped] > high["mse"] + 1 and low[shaped] < low["mse"], (shaped, high, low)
    assert quiet_snr(speech, decoded["segmental"]) > quiet_snr(speech, decoded["mse"]) + 2


@pytest.mark.parametrize("loss", ["lpc", "preemphasis"])
def test_the_whole_clip_filtered_term_equals_the_stretch_path(loss):
    x = speech_like(16000, 1.0)
    objective = build_objective(FitConfig(loss=loss), [x], 16000, "cpu")
    pred = torch.as_tensor(x)[None, :, None] + 0.05 * torch.randn(1, len(x), 2, generator=torch.Generator().manual_seed(0))
    target = torch.as_tensor(x)[None, :, None]
    whole = objective.term(pred, target, None)
    objective.segment = len(x)  # one stretch from sample 0: the general path over the whole clip
    stretch = objective.term(pred, target, torch.arange(len(x))[None])
    torch.testing.assert_close(whole, stretch, rtol=1e-5, atol=0)
