"""Overfit an INR to one clip (the encoder's expensive half)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from .device import resolve_device
from .errors import FitDivergedError
from .models import INR, INRConfig


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

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitResult:
    model: INR  # on the CPU, in eval mode
    loss_history: list[float]
    seconds: float
    device: str
    seed: int
    steps: int
    config: FitConfig = field(repr=False, default_factory=FitConfig)

    @property
    def final_loss(self) -> float:
        return self.loss_history[-1]


def time_grid(num_samples: int, device=None) -> torch.Tensor:
    """t = linspace(-1, 1, N) with both endpoints, shape (N, 1)."""
    return torch.linspace(-1.0, 1.0, num_samples, device=device).unsqueeze(-1)


def fit(samples: np.ndarray, model_config: INRConfig, config: FitConfig = FitConfig(), progress: bool = True) -> FitResult:
    """Fit a fresh INR (seeded init) to a normalized mono clip; loss = mean of heads' MSE."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model = INR(model_config).to(device)
    target = torch.as_tensor(np.asarray(samples, dtype=np.float32), device=device).unsqueeze(-1)
    with torch.no_grad():
        inputs = model.encode(time_grid(len(samples), device))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, **_fast_adam(device))
    generator = torch.Generator(device=device).manual_seed(config.seed)

    losses = torch.empty(config.steps, device=device)
    start = time.perf_counter()
    bar = tqdm(total=config.steps, desc="fit", unit="step", disable=not progress, leave=False)
    for step in range(config.steps):
        x, y = _batch(inputs, target, config.batch_size, generator)
        loss = torch.mean((model.forward_encoded(x) - y) ** 2)  # y broadcasts over heads
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses[step] = loss.detach()
        if (step + 1) % config.check_every == 0 or step + 1 == config.steps:
            _check_finite(losses, step, config.check_every)
            bar.set_postfix(loss=f"{losses[step].item():.3e}")
            bar.update(step + 1 - bar.n)
    bar.close()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    model = model.cpu().eval()
    return FitResult(model, losses.cpu().tolist(), seconds, str(device), config.seed, config.steps, config)


def _batch(inputs, target, batch_size, generator):
    if batch_size is None or batch_size >= len(inputs):
        return inputs, target
    index = torch.randint(len(inputs), (batch_size,), device=inputs.device, generator=generator)
    return inputs[index], target[index]


def _check_finite(losses: torch.Tensor, step: int, window: int) -> None:
    recent = losses[max(0, step + 1 - window) : step + 1]
    bad = (~torch.isfinite(recent)).nonzero()
    if len(bad):
        first = step + 1 - len(recent) + int(bad[0])
        raise FitDivergedError(f"fit diverged: loss is {recent[int(bad[0])].item()} at step {first + 1}")


def _fast_adam(device: torch.device) -> dict:
    # Fused Adam (one kernel for all parameters) exists on CPU and CUDA in torch >= 2.4.
    return {"fused": True} if device.type in ("cpu", "cuda") else {}
