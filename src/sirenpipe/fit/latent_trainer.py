"""The latent-grid family's fit: latents and networks trained together on the whole clip, loss =
distortion (the settings' objective) + rate_weight * (estimated coded bits of the latents) /
(samples), through the phases of its schedule (fit/latent_config.py; by default C3's: soft
rounding with noise, then straight-through hard rounding, so the fit ends on the latents the
stream codes).

With a rate target (bits per sample; encode --kbps) the rate weight adapts in the phases that allow
it: every adapt_every(steps) steps it is scaled by clip(exp(0.7 (R / R* - 1)), 0.8, 1.25), R the
rate of the hard-rounded latents.
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
from .latent_config import LatentFitConfig
from .loss import build_objective
from .trainer import FitResult


def adapt_every(steps: int) -> int:
    """Steps between adaptations of the rate weight: 50, or fewer in a short fit (at least 40 in all)."""
    return max(2, min(50, steps // 40))


def fit_latent(samples: np.ndarray, config: LatentGridConfig, fit_config: LatentFitConfig = LatentFitConfig(),
               progress: bool = True, sample_rate: int | None = None, rate_target: float | None = None) -> FitResult:
    """Fit a latent-grid model to one clip (peak-normalized samples). rate_target: bits per sample
    of the latents that the rate weight adapts towards (None: fixed rate weight)."""
    device = resolve_device(fit_config.device)
    torch.manual_seed(fit_config.seed)
    generator = torch.Generator(device=device).manual_seed(fit_config.seed)
    n = len(samples)
    model = LatentGridModel(config, n).to(device)
    target = torch.as_tensor(np.asarray(samples, dtype=np.float32), device=device)[None, :, None]
    objective = build_objective(fit_config, [samples], sample_rate, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=fit_config.lr)
    steps = fit_config.steps
    lmbda = fit_config.rate_weight
    distortions, rates = np.empty(steps), np.empty(steps)
    bar = tqdm(total=steps, desc="fit", unit="step", disable=not progress, leave=False)
    start = time.perf_counter()
    step = 0
    for phase, phase_steps in zip(fit_config.phases, fit_config.phase_steps()):
        for i in range(phase_steps):
            progress_in_phase = i / max(1, phase_steps - 1)
            lr_progress = progress_in_phase if phase.lr_schedule == "cosine" else i / phase_steps
            for group in optimizer.param_groups:
                group["lr"] = fit_config.lr * phase.at(lr_progress)
            kwargs = {"mode": phase.quantizer}
            if phase.quantizer in ("softround", "noise"):
                kwargs["generator"] = generator
            if phase.quantizer == "softround":
                kwargs.update(temperature=_along(phase.temperature, progress_in_phase),
                              kumaraswamy=_along(phase.noise, progress_in_phase))
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
            if rate_target is not None and phase.adapt_rate and (step + 1) % adapt_every(steps) == 0:
                rate = hard_rate(model) / n
                lmbda *= float(np.clip(math.exp(0.7 * (rate / rate_target - 1)), 0.8, 1.25))
            step += 1
            if step % 25 == 0 or step == steps:
                bar.set_postfix(loss=f"{distortions[step - 1]:.3e}", bits=f"{rates[step - 1]:.3f}/sample")
                bar.update(step - bar.n)
    bar.close()
    seconds = time.perf_counter() - start
    model = model.cpu().eval()
    final = replace(fit_config, rate_weight=lmbda)
    return FitResult(model, distortions.tolist(), seconds, str(device), fit_config.seed, steps, final,
                     rate_bits=hard_rate(model), rate_history=rates.tolist())


def _along(pair: tuple[float, float], progress: float) -> float:
    return pair[0] + (pair[1] - pair[0]) * progress


@torch.no_grad()
def hard_rate(model: LatentGridModel) -> float:
    """Estimated coded bits of the hard-rounded latents under the float ARM."""
    return float(model.rate_bits(model.quantized_latents("hard")))
