"""The SIREN family's training settings, and the training objectives every family's fit shares
(no torch: the workflow resolves them at parse time). The latent-grid family's settings:
fit/latent_config.py."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

PRECISIONS = ("fp32", "bf16")
# The training objectives (fit.loss builds them): name -> what the term mixed into the MSE is.
LOSSES = {
    "mse": "waveform MSE (the paper's)",
    "segmental": "the error normalized by the local signal energy (segmental-SNR weighting)",
    "preemphasis": "the error after a 1 - 0.68 z^-1 pre-emphasis",
    "lpc": "the error after the clip's LPC perceptual weighting filter A(z/0.92)/A(z/0.6)",
    "mrstft": "a multi-resolution STFT loss (spectral convergence + log magnitude) x the clip's power",
}
# Each objective's default loss_weight w (loss = (MSE + w * term) / (1 + w)): what
# `python -m benchmarks.objectives` measured best at 24 kbps on 10 s speech (docs/results/objectives.md).
DEFAULT_LOSS_WEIGHTS = {"mse": 0.0, "segmental": 1.0, "preemphasis": 4.0, "lpc": 64.0, "mrstft": 0.01}


def objective_weight(loss: str, loss_weight: float | None) -> float:
    """The checked weight of an objective's term: its default when None; 0 for mse, which has no
    term (one recipe whatever the weight)."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    if loss_weight is None or loss == "mse":
        return DEFAULT_LOSS_WEIGHTS[loss]
    if not (isinstance(loss_weight, (int, float)) and not isinstance(loss_weight, bool) and math.isfinite(loss_weight)
            and loss_weight >= 0):
        raise ValueError(f"loss_weight must be a finite number >= 0, got {loss_weight!r}")
    return float(loss_weight)


@dataclass(frozen=True)
class FitConfig:
    """Training settings; the defaults are the paper's (full batch, Adam 1e-4, 2500 steps)."""

    steps: int = 2500
    lr: float = 1e-4
    weight_decay: float = 1e-5
    batch_size: int | None = None  # None: all samples every step; else random mini-batches
    seed: int = 0
    device: str = "auto"
    check_every: int = 25  # steps between host syncs (NaN check, progress bar)
    # torch.compile the loss (forward + backward): faster steps, after a cold compile that is
    # slow on few cores (then cached under ~/.cache/sirenpipe), so it pays for long fits (the
    # paper's 2500 full-batch steps), not for short mini-batch ones.
    compile: bool = False
    # "bf16": bf16 autocast (matmuls and activations in bf16; weights, loss and Adam in fp32).
    precision: str = "fp32"
    # Quantization-aware fitting: the last `qat_fraction` of the steps train through the
    # bitstream's own quantizer (straight-through), with the learning rate decaying to zero over
    # them (cosine), so that the decoded model is exactly the one the fit ended with.
    quant_aware: bool = False
    qat_fraction: float = 0.5
    # Rate-aware fitting: loss = MSE + rate_weight * (estimated coded bits of the quantized
    # weights) / (samples in the clip), i.e. a bits-per-sample rate term (codec.entropy.estimate_weight_bits).
    rate_weight: float = 0.0
    # The training objective (LOSSES) and the weight w of its perceptual term: loss = (MSE + w *
    # term) / (1 + w), in MSE units for any w. None: the objective's DEFAULT_LOSS_WEIGHTS entry.
    loss: str = "mse"
    loss_weight: float | None = None

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not isinstance(self.compile, bool):
            raise ValueError(f"compile must be true or false, got {self.compile!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if not isinstance(self.quant_aware, bool):
            raise ValueError(f"quant_aware must be true or false, got {self.quant_aware!r}")
        if not 0 < self.qat_fraction <= 1:
            raise ValueError(f"qat_fraction must be in (0, 1], got {self.qat_fraction}")
        if not self.rate_weight >= 0:
            raise ValueError(f"rate_weight must be >= 0, got {self.rate_weight}")
        object.__setattr__(self, "loss_weight", objective_weight(self.loss, self.loss_weight))

    @property
    def sees_quantizer(self) -> bool:
        """Whether the fit needs the quantization settings (quantization- or rate-aware)."""
        return self.quant_aware or self.rate_weight > 0

    @property
    def qat_steps(self) -> int:
        return max(1, round(self.qat_fraction * self.steps)) if self.quant_aware else 0

    def to_dict(self) -> dict:
        return asdict(self)
