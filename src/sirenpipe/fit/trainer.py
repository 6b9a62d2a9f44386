"""The fit: a Trainer holds models, data and optimizer; fit() and fit_many() run it.

Performance notes (measured figures: docs/performance.md, `python -m benchmarks.fit_step`): the
trunk runs once for all heads, omega is folded into the matmuls and the sine layer has a
hand-written backward (models/layers.py), Adam is fused, and the process should run under
tcmalloc (allocator.py; the CLI and the workflow arrange it). `compile` and `precision="bf16"`
are opt-in.

Rate tools (FitConfig.quant_aware, FitConfig.rate_weight; both need the QuantConfig the model
will be compressed with): in the QAT phase the forward pass sees the weights exactly as the
decoder will (codec.quantize.fake_quantize_state, straight-through gradients) and the learning
rate decays to zero; the rate term adds the estimated coded bits of the weights per sample
(codec.entropy.estimate_weight_bits) to the loss. The loss history records the distortion alone
(the objective FitConfig.loss names, fit/loss.py; MSE by default).
"""

from __future__ import annotations

import copy
import math
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..codec.entropy import estimate_weight_bits
from ..codec.quantize import QuantConfig, fake_quantize_state
from ..device import resolve_device
from ..errors import FitDivergedError
from ..models import INR, INRConfig
from .config import FitConfig
from .loss import build_objective


@dataclass
class FitResult:
    model: INR  # on the CPU, in eval mode
    loss_history: list[float]
    seconds: float
    device: str
    seed: int
    steps: int
    config: FitConfig = field(repr=False, default_factory=FitConfig)
    quant: QuantConfig | None = None  # the quantizer a quantization- or rate-aware fit trained with
    rate_bits: float | None = None  # rate-aware fits: the final estimate of the weights' (or latents') coded bits
    rate_history: list[float] | None = None  # latent-grid fits: estimated bits per sample at each step

    @property
    def final_loss(self) -> float:
        return self.loss_history[-1]


def time_grid(num_samples: int, device=None) -> torch.Tensor:
    """t = linspace(-1, 1, N) with both endpoints, shape (N, 1)."""
    return torch.linspace(-1.0, 1.0, num_samples, device=device).unsqueeze(-1)


def fit(samples: np.ndarray, model_config: INRConfig, config: FitConfig = FitConfig(), progress: bool = True,
        quant: QuantConfig | None = None, sample_rate: int | None = None) -> FitResult:
    """Fit a fresh INR (seeded init) to a normalized mono clip; loss = the objective
    config.loss names, averaged over heads (plus the rate term when config.rate_weight > 0).
    Quantization- and rate-aware fits need `quant`, the settings the model will be compressed
    with; objectives other than mse need the clip's `sample_rate`."""
    return _run(Trainer([samples], model_config, config, quant=quant, sample_rate=sample_rate), progress)[0]


def fit_many(clips, model_config: INRConfig, config: FitConfig = FitConfig(), seeds=None,
             progress: bool = True, quant: QuantConfig | None = None, sample_rate: int | None = None) -> list[FitResult]:
    """Fit one INR per clip in one batched model (batched matmuls over a leading clip axis).

    Clips must have equal length. Clip i gets seed seeds[i] (default: config.seed for all, as
    separate fits with one config would): the same init and mini-batches as fit() with that
    seed, and its own gradients and Adam state, so each result equals a separate fit up to
    floating-point rounding (batched and plain matmuls round differently). `seconds` is the
    wall time of the whole batched fit.
    """
    return _run(Trainer(clips, model_config, config, seeds, quant, sample_rate), progress)


class Trainer:
    """A fit in progress: models, data and optimizer, and the training step that fit() loops
    over (benchmarks.fit_step times this same step).

    One clip: the INR itself. Several clips: the same INR vmapped over parameters stacked
    along a leading clip axis; the loss is the sum of the clips' losses, so each clip's
    gradients are its own.
    """

    def __init__(self, clips, model_config: INRConfig, config: FitConfig, seeds=None, quant: QuantConfig | None = None,
                 sample_rate: int | None = None):
        if not len(clips):
            raise ValueError("no clips to fit")
        if config.sees_quantizer and quant is None:
            raise ValueError("quantization- or rate-aware fitting needs the quantization settings (quant)")
        if len({len(c) for c in clips}) != 1:
            raise ValueError(f"clips fitted together must have equal length, got {sorted({len(c) for c in clips})}")
        self.config = config
        self.quant = quant if config.sees_quantizer else None
        self.steps_done = 0
        self.qat_from = config.steps - config.qat_steps  # first step through the quantizer
        self.rate_bits = None  # (clips,) estimate at the last step, rate-aware fits only
        self.seeds = [config.seed] * len(clips) if seeds is None else [int(s) for s in seeds]
        if len(self.seeds) != len(clips):
            raise ValueError(f"{len(clips)} clips but {len(self.seeds)} seeds")
        self.device = device = resolve_device(config.device)
        self.models = []
        for seed in self.seeds:
            torch.manual_seed(seed)
            self.models.append(INR(model_config).to(device))
        self.targets = torch.stack([torch.as_tensor(np.asarray(c, dtype=np.float32)) for c in clips]).unsqueeze(-1).to(device)
        with torch.no_grad():
            self.inputs = self.models[0].encode(time_grid(len(clips[0]), device))
        self.objective = build_objective(config, clips, sample_rate, device)
        self.generators = [torch.Generator(device=device).manual_seed(seed) for seed in self.seeds]
        if len(self.models) == 1:
            self.parameters = list(self.models[0].parameters())
            self._encoded = _Encoded(self.models[0])  # what the QAT phase calls with quantized parameters
            self._params = dict(self._encoded.named_parameters())
            self._forward = self._forward_one
        else:
            params, buffers = torch.func.stack_module_state([_Encoded(m) for m in self.models])
            self.parameters, self._params, self._buffers = list(params.values()), params, buffers
            self._template = copy.deepcopy(_Encoded(self.models[0])).to("meta")
            self._forward = self._forward_many
        self.optimizer = torch.optim.Adam(self.parameters, lr=config.lr, weight_decay=config.weight_decay,
                                          **_fast_adam(device))
        self._losses = _compiled(self._clip_losses) if config.compile else self._clip_losses
        bf16 = config.precision == "bf16"
        self._autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else nullcontext

    @property
    def through_quantizer(self) -> bool:
        """Whether the current step trains through the quantizer (the QAT phase)."""
        return self.quant is not None and self.config.quant_aware and self.steps_done >= self.qat_from

    def step(self) -> torch.Tensor:
        """One Adam step on all clips; returns their distortion before the step, shape (clips,)."""
        x, y, index = self._batch()
        if self.through_quantizer:  # cosine decay to zero over the QAT phase
            progress = (self.steps_done - self.qat_from) / self.config.qat_steps
            for group in self.optimizer.param_groups:
                group["lr"] = self.config.lr * 0.5 * (1 + math.cos(math.pi * progress))
        with self._autocast():
            distortion = self._losses(x, y, index)
        loss = distortion
        if self.config.rate_weight > 0:
            bits = self._rate_bits()
            loss = distortion + self.config.rate_weight * bits / self.targets.shape[1]
            self.rate_bits = bits.detach()
        self.optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        self.optimizer.step()
        self.steps_done += 1
        return distortion.detach()

    def _rate_bits(self) -> torch.Tensor:
        """The estimated coded bits of each clip's weights, shape (clips,)."""
        if len(self.models) == 1:
            return estimate_weight_bits(self._params, self.quant).reshape(1)
        return torch.func.vmap(lambda p: estimate_weight_bits(p, self.quant))(self._params)

    def _params_in_use(self, params: dict) -> dict:
        return fake_quantize_state(params, self.quant) if self.through_quantizer else params

    def fitted_models(self) -> list[INR]:
        """The clips' models as they are now, on the CPU in eval mode."""
        if len(self.models) > 1:
            with torch.no_grad():
                for i, model in enumerate(self.models):
                    for name, p in dict(_Encoded(model).named_parameters()).items():
                        p.copy_(self._params[name][i])
        return [model.cpu().eval() for model in self.models]

    def _clip_losses(self, x, y, index):
        return self.objective(self._forward(x), y, index)  # y broadcasts over heads

    def _forward_one(self, x):
        x = x[0] if x.dim() == 3 else x
        if self.through_quantizer:
            return torch.func.functional_call(self._encoded, self._params_in_use(self._params), (x,)).unsqueeze(0)
        return self.models[0].forward_encoded(x).unsqueeze(0)

    def _forward_many(self, x):
        def one(params, buffers, x):
            return torch.func.functional_call(self._template, (self._params_in_use(params), buffers), (x,))

        return torch.func.vmap(one, in_dims=(0, 0, 0 if x.dim() == 3 else None))(self._params, self._buffers, x)

    def _batch(self):
        """(inputs, targets, index (clips, batch), or None for every sample): random samples, or
        for objectives that need contiguous samples, batch_size // segment stretches of `segment`
        samples at random places."""
        n, size, segment = len(self.inputs), self.config.batch_size, self.objective.segment
        if size is None or size >= n or (segment is not None and segment >= n):
            return self.inputs, self.targets, None
        if segment is None:
            index = torch.stack([torch.randint(n, (size,), device=self.device, generator=g) for g in self.generators])
        else:
            offsets = torch.arange(segment, device=self.device)
            starts = torch.stack([torch.randint(n - segment + 1, (max(1, size // segment),), device=self.device,
                                                generator=g) for g in self.generators])
            index = (starts.unsqueeze(-1) + offsets).flatten(1)
        return self.inputs[index], torch.take_along_dim(self.targets, index.unsqueeze(-1), dim=1), index


class _Encoded(nn.Module):
    """An INR whose forward takes encoded inputs (what vmap/functional_call calls)."""

    def __init__(self, inr: INR):
        super().__init__()
        self.inr = inr

    def forward(self, x):
        return self.inr.forward_encoded(x)


def _run(trainer: Trainer, progress: bool) -> list[FitResult]:
    config = trainer.config
    losses = torch.empty(config.steps, len(trainer.models), device=trainer.device)
    start = time.perf_counter()
    bar = tqdm(total=config.steps, desc="fit", unit="step", disable=not progress, leave=False)
    for step in range(config.steps):
        losses[step] = trainer.step()
        if (step + 1) % config.check_every == 0 or step + 1 == config.steps:
            _check_finite(losses, step, config.check_every)
            bar.set_postfix(loss=f"{losses[step].max().item():.3e}")
            bar.update(step + 1 - bar.n)
    bar.close()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize(trainer.device)
    seconds = time.perf_counter() - start
    history = losses.cpu().t().tolist()
    rates = trainer.rate_bits.cpu().tolist() if trainer.rate_bits is not None else [None] * len(trainer.models)
    return [FitResult(model, history[i], seconds, str(trainer.device), seed, config.steps, replace(config, seed=seed),
                      trainer.quant, rates[i])
            for i, (model, seed) in enumerate(zip(trainer.fitted_models(), trainer.seeds))]


def _check_finite(losses: torch.Tensor, step: int, window: int) -> None:
    start = max(0, step + 1 - window)
    bad = (~torch.isfinite(losses[start : step + 1])).nonzero()
    if len(bad):
        row, clip = (int(v) for v in bad[0])
        where = f" (clip {clip})" if losses.shape[1] > 1 else ""
        raise FitDivergedError(f"fit diverged: loss is {losses[start + row, clip].item()} at step {start + row + 1}{where}")


def _fast_adam(device: torch.device) -> dict:
    # Fused Adam (one kernel for all parameters) exists on CPU and CUDA in torch >= 2.4.
    return {"fused": True} if device.type in ("cpu", "cuda") else {}


def _compiled(fn):
    """torch.compile with a persistent cache (TORCHINDUCTOR_CACHE_DIR if set, else
    ~/.cache/sirenpipe/inductor), so that only the first fit on a machine pays the cold compile."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sirenpipe" / "inductor"
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache))
    return torch.compile(fn)
