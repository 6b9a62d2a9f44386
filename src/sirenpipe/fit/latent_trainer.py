"""The latent-grid family's fit: latents and networks trained together on the whole clip, loss =
distortion (FitConfig.loss's objective) + rate_weight * (estimated coded bits of the latents) /
(samples), C3's recipe (docs/design/latent-grid.md section 5):

1. soft phase (all but the last `HARD_FRACTION` of the steps): soft rounding with Kumaraswamy
   noise, temperature 0.3 -> 0.1 and noise shape 2 -> 1 (uniform), learning rate cosine to 1 %;
2. hard phase: straight-through rounding, so the fit ends on the latents the stream codes, at
   1 % of the learning rate, decaying to 0.

With a rate target (bits per sample; encode --kbps) the rate weight adapts during the soft
phase: every adapt_every(steps) steps it is scaled by clip(exp(0.7 (R / R* - 1)), 0.8, 1.25), R the rate
of the hard-rounded latents; it is frozen in the hard phase. A rate weight of 0 means
LATENT_RATE_WEIGHT (fit/config.py); FitConfig.lr should be LATENT_LR's order (the CLI's default).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
import torch
from tqdm.auto import tqdm

from ..device import resolve_device
from ..errors import FitDivergedError
from ..models.latent import LatentGridModel
from ..models.latent_config import LatentGridConfig
from .config import LATENT_RATE_WEIGHT, FitConfig
from .loss import build_objective
from .trainer import FitResult

HARD_FRACTION = 0.1
END_LR_FRACTION = 0.01


def adapt_every(steps: int) -> int:
    """Steps between adaptations of the rate weight: 50, or fewer in a short fit (at least 40 in all)."""
    return max(2, min(50, steps // 40))
def fit_latent(samples: np.ndarray, config: LatentGridConfig, fit_config: FitConfig = FitConfig(), progress: bool = True,
               sample_rate: int | None = None, rate_target: float | None = None) -> FitResult:
    """Fit a latent-grid model to one clip (peak-normalized samples). rate_target: bits per sample
    of the latents that the rate weight adapts towards (None: fixed rate weight)."""
    if fit_config.rate_weight <= 0:  # the default, or the adaptive weight's start
        fit_config = replace(fit_config, rate_weight=LATENT_RATE_WEIGHT)
    device = resolve_device(fit_config.device)
    torch.manual_seed(fit_config.seed)
    generator = torch.Generator(device=device).manual_seed(fit_config.seed)
    n = len(samples)
    model = LatentGridModel(config, n).to(device)
    target = torch.as_tensor(np.asarray(samples, dtype=np.float32), device=device)[None, :, None]
    objective = build_objective(fit_config, [samples], sample_rate, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=fit_config.lr)
    steps = fit_config.steps
    hard_from = steps - max(1, round(HARD_FRACTION * steps))
    lmbda = fit_config.rate_weight
    distortions, rates = np.empty(steps), np.empty(steps)
    bar = tqdm(total=steps, desc="fit", unit="step", disable=not progress, leave=False)
    start = time.perf_counter()
    for step in range(steps):
        if step < hard_from:
            progress_in_phase = step / max(1, hard_from - 1)
            kwargs = dict(mode="softround", temperature=0.3 - 0.2 * progress_in_phase,
                          kumaraswamy=2.0 - progress_in_phase, generator=generator)
            lr = fit_config.lr * (END_LR_FRACTION + (1 - END_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress_in_phase)))
        else:
            kwargs = dict(mode="ste")
            lr = fit_config.lr * END_LR_FRACTION * (1 - (step - hard_from) / (steps - hard_from))
        for group in optimizer.param_groups:
            group["lr"] = lr
        latents = model.quantized_latents(**kwargs)
        pred = model.synthesize(latents)[None]  # (1, N, heads)
        distortion = objective(pred, target, None)[0]
        bits = model.rate_bits(latents)
        loss = distortion + lmbda * bits / n
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        distortions[step], rates[step] = distortion.item(), bits.item() / n
        if not (math.isfinite(distortions[step]) and math.isfinite(rates[step])):
            raise FitDivergedError(f"fit diverged: loss is {distortions[step] + lmbda * rates[step]} at step {step + 1}")
        if rate_target is not None and step < hard_from and (step + 1) % adapt_every(steps) == 0:
            rate = hard_rate(model) / n
            lmbda *= float(np.clip(math.exp(0.7 * (rate / rate_target - 1)), 0.8, 1.25))
        if (step + 1) % 25 == 0 or step + 1 == steps:
            bar.set_postfix(loss=f"{distortions[step]:.3e}", bits=f"{rates[step]:.3f}/sample")
            bar.update(step + 1 - bar.n)
    bar.close()
    seconds = time.perf_counter() - start
    model = model.cpu().eval()
    final = replace(fit_config, rate_weight=lmbda)
    return FitResult(model, distortions.tolist(), seconds, str(device), fit_config.seed, steps, final,
                     rate_bits=hard_rate(model), rate_history=rates.tolist())


@torch.no_grad()
def hard_rate(model: LatentGridModel) -> float:
    """Estimated coded bits of the hard-rounded latents under the float ARM."""
    return float(model.rate_bits(model.quantized_latents("hard")))
