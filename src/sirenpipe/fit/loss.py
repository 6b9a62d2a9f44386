"""Training objectives: what the fit minimizes (FitConfig.loss, CLI --loss).

Every objective maps a batch of predictions (clips, batch, heads) and targets (clips, batch, 1)
to one distortion per clip. Each head is fitted to the clip on its own (the target broadcasts
over heads), so the difference of a Siamese model's heads still estimates the fitting noise.
The perceptual objectives are `(MSE + w * term) / (1 + w)`, w = FitConfig.loss_weight; their
terms are in the units of an MSE of the clip (a white error of power P costs P), so every
objective is in MSE units whatever w, and the rate term (FitConfig.rate_weight) keeps its scale:

- `segmental`: the error normalized by the local signal energy, as a segmental SNR does.
- `preemphasis`: the error after a 1 - 0.68 z^-1 pre-emphasis.
- `lpc`: the error after the CELP perceptual weighting filter A(z/0.92) / A(z/0.6), A from
  the clip's LPC frame by frame: the error spectrum follows the formants.
- `mrstft`: a multi-resolution STFT loss (spectral convergence + log magnitude, auraloss),
  times the clip's mean power.

The filtered and spectral objectives need contiguous samples: their mini-batches are
`segment`-sample stretches at random places (Objective.segment); `mse` and `segmental` keep the
trainer's random samples, so an `mse` fit is what it was before objectives existed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .config import LOSSES, FitConfig

FRAME_SECONDS = 0.02  # LPC and energy frames
LPC_ORDER = 16
GAMMA_ZEROS, GAMMA_POLES = 0.92, 0.6  # the CELP weighting filter A(z/g1) / A(z/g2) of G.729; g1 as in AMR-WB
PREEMPHASIS = 0.68
FILTER_TAPS = 32  # the weighting filter's impulse response, truncated (0.6**32 ~ 1e-7)
ENERGY_FLOOR = 1e-3  # segmental: frames quieter than -30 dB of the clip's mean power weigh as that


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per clip over samples and heads, shape (clips,)."""
    return torch.mean((pred - target) ** 2, dim=(1, 2))


class Objective:
    """The paper's objective, MSE; the base of the others."""

    segment: int | None = None  # contiguous samples per stretch of a mini-batch; None: any samples

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
        return mse(pred, target)


class _Mixed(Objective):
    """(MSE + weight * term(...)) / (1 + weight), the term in MSE units."""

    def __init__(self, weight: float):
        self.weight = weight

    def __call__(self, pred, target, index):
        return (mse(pred, target) + self.weight * self.term(pred, target, index)) / (1 + self.weight)

    def term(self, pred, target, index) -> torch.Tensor:
        raise NotImplementedError


class EnergyWeighted(_Mixed):
    """Squared error / local power (a segmental SNR's weighting), the weights averaging 1 over the clip."""

    def __init__(self, weight: float, clips: list[np.ndarray], sample_rate: int, device):
        super().__init__(weight)
        self.weights = torch.stack([torch.as_tensor(energy_weights(c, sample_rate)) for c in clips]).to(device)

    def term(self, pred, target, index):
        w = self.weights if index is None else torch.take_along_dim(self.weights, index, dim=1)
        return torch.mean(w.unsqueeze(-1) * (pred - target) ** 2, dim=(1, 2))


class Filtered(_Mixed):
    """MSE of the error after a (frame-varying) FIR weighting filter of unit energy per frame."""

    def __init__(self, weight: float, taps: torch.Tensor, frame: int, segment: int):
        super().__init__(weight)
        self.taps = taps  # (clips, frames, K), taps[..., k] multiplies e[t - k]
        self.frame = frame
        self.segment = segment

    def term(self, pred, target, index):
        if index is None:
            return self._whole_clip_term(pred - target)
        clips, _, heads = pred.shape
        k = self.taps.shape[-1]
        stretches = _stretches(pred - target, index, self.segment)  # (clips, S, L, heads)
        length = stretches.shape[2]
        starts = torch.zeros(clips, 1, dtype=torch.long, device=pred.device) if index is None else index[:, ::length]
        windows = stretches.unfold(2, k, 1)  # (clips, S, L-k+1, heads, k): e[t-k+1 .. t]
        t = starts.unsqueeze(-1) + torch.arange(k - 1, length, device=pred.device)  # (clips, S, L-k+1)
        frames = (t // self.frame).clamp_max(self.taps.shape[1] - 1)
        taps = torch.take_along_dim(self.taps.unsqueeze(1), frames.unsqueeze(-1), dim=2)  # (clips, S, L-k+1, K)
        weighted = torch.einsum("csthk,cstk->csth", windows, taps.flip(-1))
        return torch.mean(weighted**2, dim=(1, 2, 3))


    def _whole_clip_term(self, error: torch.Tensor) -> torch.Tensor:
        """term() of whole clips (clips, N, heads), as one grouped convolution per clip (a
        filter per frame): the same value as the stretch path, without its (N, taps) windows."""
        clips, n, heads = error.shape
        k, frame = self.taps.shape[-1], self.frame
        frames = -(-n // frame)
        taps = self.taps[:, torch.arange(frames, device=error.device).clamp_max(self.taps.shape[1] - 1)]
        # padded[k - 1 + t] = e[t]; frame f's outputs t = f*frame .. read padded[f*frame : f*frame + frame + k - 1]
        padded = F.pad(error.permute(0, 2, 1), (k - 1, frames * frame - n))
        segments = padded.unfold(2, frame + k - 1, frame)  # (clips, heads, frames, frame + k - 1)
        out = torch.stack([F.conv1d(segments[c], taps[c].flip(-1).unsqueeze(1), groups=frames)
                           for c in range(clips)])  # (clips, heads, frames, frame)
        valid = out.reshape(clips, heads, -1)[:, :, k - 1 : n]  # t >= k - 1: a full history, as the stretches
        return torch.mean(valid**2, dim=(1, 2))


class Spectral(_Mixed):
    """Multi-resolution STFT loss (auraloss: spectral convergence + log magnitude), per clip,
    times the clip's mean power so that it is in MSE units."""

    @staticmethod
    def fft_sizes(sample_rate: int) -> list[int]:
        smallest = 1 << round(math.log2(sample_rate * 0.0232))  # 512 at 16 and 22.05 kHz
        return [smallest, 2 * smallest, 4 * smallest]

    def __init__(self, weight: float, clips: list[np.ndarray], sample_rate: int, device):
        super().__init__(weight)
        import auraloss

        sizes = self.fft_sizes(sample_rate)
        self.segment = 2 * sizes[-1]
        self.loss = auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=sizes, hop_sizes=[s // 4 for s in sizes],
                                                          win_lengths=sizes)
        self.power = torch.tensor([float(np.mean(np.square(c, dtype=np.float64))) for c in clips], device=device)

    def term(self, pred, target, index):
        pred = pred.float()  # the STFTs in fp32 under bf16 autocast
        stretches = _stretches(pred, index, self.segment)
        goal = _stretches(target, index, self.segment)
        per_clip = []
        for c in range(pred.shape[0]):  # auraloss normalizes over its whole batch: one clip at a time
            x = stretches[c].permute(0, 2, 1).reshape(-1, 1, stretches.shape[2])  # (S * heads, 1, L)
            y = goal[c].expand(-1, -1, stretches.shape[3]).permute(0, 2, 1).reshape(-1, 1, goal.shape[2])
            per_clip.append(self.loss(x, y))
        return torch.stack(per_clip) * self.power


def _stretches(values: torch.Tensor, index: torch.Tensor | None, segment: int) -> torch.Tensor:
    """(clips, batch, heads) of contiguous stretches -> (clips, stretches, length, heads)."""
    clips, batch, heads = values.shape
    length = batch if index is None else segment
    return values.reshape(clips, batch // length, length, heads)


def build_objective(config: FitConfig, clips: list[np.ndarray], sample_rate: int | None, device) -> Objective:
    """The objective FitConfig.loss names, set up for these clips."""
    if config.loss == "mse":
        return Objective()
    if sample_rate is None:
        raise ValueError(f"loss {config.loss!r} needs the clips' sample rate")
    weight = config.loss_weight
    shortest = min(len(c) for c in clips)
    needed = {"segmental": 1, "mrstft": Spectral.fft_sizes(sample_rate)[-1]}.get(config.loss, FILTER_TAPS)
    if shortest < needed:
        raise ValueError(f"loss {config.loss!r} needs clips of at least {needed} samples "
                         f"({needed / sample_rate * 1000:.0f} ms at {sample_rate} Hz); the shortest has {shortest}")
    if config.loss == "segmental":
        return EnergyWeighted(weight, clips, sample_rate, device)
    if config.loss == "mrstft":
        return Spectral(weight, clips, sample_rate, device)
    frame = max(1, round(FRAME_SECONDS * sample_rate))
    segment = 1 << round(math.log2(0.2 * sample_rate))  # ~200 ms stretches (4096 at 22.05 kHz)
    if config.loss == "preemphasis":
        taps = np.tile(_unit([1.0, -PREEMPHASIS]), (len(clips), 1, 1))
    elif config.loss == "lpc":
        taps = np.stack([lpc_weighting_taps(c, sample_rate) for c in clips])
    else:
        raise AssertionError(f"no objective built for {config.loss!r}; FitConfig checks against {LOSSES}")
    return Filtered(weight, torch.as_tensor(taps, dtype=torch.float32, device=device), frame, segment)


def energy_weights(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per-sample 1 / (frame power, floored at ENERGY_FLOOR of the clip's mean power), frames of
    FRAME_SECONDS around each sample, scaled to average 1."""
    x = np.asarray(samples, dtype=np.float64)
    frame = max(1, min(round(FRAME_SECONDS * sample_rate), len(x)))
    local = np.convolve(x**2, np.ones(frame) / frame, mode="same")
    mean_power = max(float(np.mean(x**2)), 1e-12)
    w = 1.0 / np.maximum(local, ENERGY_FLOOR * mean_power)
    return (w / w.mean()).astype(np.float32)


def lpc_weighting_taps(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(frames, FILTER_TAPS): per FRAME_SECONDS frame, the impulse response of
    A(z/GAMMA_ZEROS) / A(z/GAMMA_POLES), A the frame's LPC (order LPC_ORDER, autocorrelation
    method, Hann window of two frames), scaled to unit energy: a pure spectral shaping."""
    from scipy.linalg import solve_toeplitz
    from scipy.signal import lfilter

    x = np.asarray(samples, dtype=np.float64)
    frame = max(1, round(FRAME_SECONDS * sample_rate))
    frames = max(1, math.ceil(len(x) / frame))
    window = np.hanning(2 * frame)
    padded = np.pad(x, (frame // 2, 2 * frame))
    floor = 1e-9 * max(float(np.mean(x**2)), 1e-12) * len(window)
    impulse = np.zeros(FILTER_TAPS)
    impulse[0] = 1.0
    taps = np.empty((frames, FILTER_TAPS))
    lag = np.arange(LPC_ORDER + 1)
    lag_window = np.exp(-0.5 * (2 * np.pi * 60.0 * lag / sample_rate) ** 2)  # 60 Hz bandwidth expansion
    for f in range(frames):
        seg = padded[f * frame : f * frame + 2 * frame] * window
        r = np.array([seg[: len(seg) - k] @ seg[k:] for k in lag]) * lag_window
        r[0] = r[0] * (1 + 1e-4) + floor  # white-noise correction: silent frames give A = 1
        a = np.concatenate([[1.0], -solve_toeplitz(r[:-1], r[1:])])
        taps[f] = _unit(lfilter(a * GAMMA_ZEROS**lag, a * GAMMA_POLES**lag, impulse))
    return taps.astype(np.float32)


def _unit(h) -> np.ndarray:
    h = np.asarray(h, dtype=np.float64)
    return h / np.sqrt(np.sum(h**2))
