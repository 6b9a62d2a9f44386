"""The latent-grid family's fit settings and its schedule, as data (no torch: the workflow
resolves them at parse time).

The schedule is a list of phases (Cool-chic's TrainerPhase, C3's noise then straight-through
steps): each phase takes a share of the steps and names the quantizer the latents go through
(models.latent.quantize), how the learning rate, the soft-rounding temperature and the noise
shape move across it, and whether the rate weight may adapt to a rate target in it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .config import LOSSES, objective_weight

QUANTIZERS = ("softround", "noise", "ste", "hard")  # models.latent.quantize's modes
LR_SCHEDULES = ("cosine", "linear")


@dataclass(frozen=True)
class Phase:
    """One phase of the fit. lr, temperature and noise are (start, end) pairs: lr as fractions of
    the fit's learning rate; temperature and noise (the Kumaraswamy shape, 1: uniform) apply to
    the softround quantizer and move linearly. A cosine learning rate reaches its end at the
    phase's last step; a linear one just after it, so that a decay to 0 wastes no step."""

    fraction: float  # share of the fit's steps
    quantizer: str
    lr: tuple[float, float] = (1.0, 1.0)
    lr_schedule: str = "cosine"
    temperature: tuple[float, float] = (0.3, 0.1)
    noise: tuple[float, float] = (2.0, 1.0)
    adapt_rate: bool = True  # a rate target adapts the rate weight during this phase

    def __post_init__(self):
        for name in ("lr", "temperature", "noise"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        if not 0 < self.fraction <= 1:
            raise ValueError(f"a phase's fraction must be in (0, 1], got {self.fraction!r}")
        if self.quantizer not in QUANTIZERS:
            raise ValueError(f"a phase's quantizer must be one of {', '.join(QUANTIZERS)}, got {self.quantizer!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"a phase's lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if len(self.lr) != 2 or min(self.lr) < 0 or len(self.temperature) != 2 or min(self.temperature) <= 0 \
                or len(self.noise) != 2 or min(self.noise) < 1:
            raise ValueError(f"a phase needs (start, end) pairs: lr >= 0, temperature > 0, noise >= 1; got {self}")

    def at(self, progress: float) -> float:
        """The learning-rate fraction at progress in [0, 1] through the phase."""
        import math

        start, end = self.lr
        if self.lr_schedule == "cosine":
            return end + (start - end) * 0.5 * (1 + math.cos(math.pi * progress))
        return start + (end - start) * progress


# C3's recipe: soft rounding with Kumaraswamy noise for 90 % of the steps, the learning rate on a
# cosine to 1 %; then straight-through hard rounding, so that the fit ends on the latents the
# stream codes, at 1 % of the learning rate decaying to 0, the rate weight frozen.
C3_PHASES = (
    Phase(0.9, "softround", lr=(1.0, 0.01), temperature=(0.3, 0.1), noise=(2.0, 1.0)),
    Phase(0.1, "ste", lr=(0.01, 0.0), lr_schedule="linear", adapt_rate=False),
)


@dataclass(frozen=True)
class LatentFitConfig:
    """Training settings of the latent-grid family: every step takes the whole clip, in fp32."""

    steps: int = 2500
    lr: float = 1e-2  # Cool-chic's and C3's start learning rate
    seed: int = 0
    device: str = "auto"
    # the training objective (fit.config.LOSSES) is the distortion D of loss = D + rate_weight * bits / samples
    loss: str = "mse"
    loss_weight: float | None = None
    # the rate weight; with a rate target (encode --kbps) its start, adapted in phases that allow it
    rate_weight: float = 2e-4
    phases: tuple[Phase, ...] = field(default=C3_PHASES)

    def __post_init__(self):
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {self.steps!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not (isinstance(self.rate_weight, (int, float)) and self.rate_weight > 0):
            raise ValueError(f"rate_weight must be > 0 (the latent grid always codes its rate), got {self.rate_weight!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        object.__setattr__(self, "loss_weight", objective_weight(self.loss, self.loss_weight))
        phases = tuple(p if isinstance(p, Phase) else Phase(**p) for p in self.phases)
        if not phases:
            raise ValueError("a latent-grid fit needs at least one phase")
        object.__setattr__(self, "phases", phases)

    def phase_steps(self) -> list[int]:
        """Steps of each phase: every phase after the first gets round(fraction * steps), at least
        one; the first gets the rest (none in a fit too short for it)."""
        later = [max(1, round(p.fraction * self.steps)) for p in self.phases[1:]]
        first = self.steps - sum(later)
        if first < 0:
            raise ValueError(f"{self.steps} steps are too few for {len(self.phases)} phases")
        return [first, *later]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["phases"] = [{**p, "lr": list(p["lr"]), "temperature": list(p["temperature"]), "noise": list(p["noise"])}
                       for p in d["phases"]]
        return d
