"""The latent-grid family's network quantization: the integers and steps a fitted model's ARM and
synthesis network are sent with (format version 4).

Network quantization (Cool-chic `nnquant/quantizemodel.py`, C3 `quantization_step_search`): per
module, a greedy search over power-of-two steps, first the weights' (biases at a fine step), then
the biases', each candidate scored by distortion + rate_weight * (exact latent bits under the
integer ARM + exp-Golomb bits of the module) / samples.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from ...codec import expgolomb
from ...codec.bitstream_v4 import LatentPayload
from ...codec.latent_coding import (FRAC_BITS, MAX_CODE, MAX_SHIFT, IntegerArm, NetworkShifts, dequantize_module,
                                    exact_bits, is_bias, quantize_module)
from ...models.latent import LatentGridModel

# The steps searched first, and all those the format allows (codec/latent_coding.py), searched when
# none of the first represents a module (weights beyond their integers' range, an ARM that would
# overflow): a fitted model always quantizes to some stream.
WEIGHT_SHIFTS = {"arm": range(4, FRAC_BITS + 1), "synthesis": range(4, 17)}
BIAS_SHIFTS = {"arm": range(4, FRAC_BITS + 1), "synthesis": range(4, 21)}
ALL_SHIFTS = {"arm": range(0, FRAC_BITS + 1), "synthesis": range(0, MAX_SHIFT + 1)}


def module_bits(codes: dict[str, np.ndarray]) -> int:
    """Exp-Golomb bits of a module's integers at their best orders (weights and biases apart)."""
    weights = np.concatenate([v.ravel() for k, v in codes.items() if not is_bias(k)] or [np.zeros(0, np.int64)])
    biases = np.concatenate([v.ravel() for k, v in codes.items() if is_bias(k)] or [np.zeros(0, np.int64)])
    return sum(expgolomb.nbits(v, expgolomb.best_order(v)) for v in (weights, biases))


@torch.no_grad()
def quantize_networks(model: LatentGridModel, distortion, rate_weight: float) -> tuple[LatentPayload, LatentGridModel, dict]:
    """(the stream's payload, the model with the networks the decoder will use, a report) of a
    fitted model. distortion: model output (N, heads) -> the fit's distortion (a float)."""
    config, n = model.config, model.num_samples
    latents = [q.numpy().astype(np.int8) for q in model.quantized_latents("hard")]
    state = {k: v.numpy() for k, v in model.network_state().items()}
    quantized = copy.deepcopy(model)

    def arm_cost(shifts: NetworkShifts):
        codes = quantize_module(state, config, "arm", shifts)
        bits = exact_bits(latents, IntegerArm(codes, shifts, config)) + module_bits(codes)
        return rate_weight * bits / n, codes

    def synthesis_cost(shifts: NetworkShifts):
        codes = quantize_module(state, config, "synthesis", shifts)
        _load(quantized, dequantize_module(codes, shifts))
        return distortion(quantized("hard")) + rate_weight * module_bits(codes) / n, codes

    chosen, codes = {}, {}
    for module, cost in (("arm", arm_cost), ("synthesis", synthesis_cost)):
        finest_bias = _finest_bias(state, config, module)  # the biases as exact as they can be while the weights are chosen
        weight = _best(lambda s: cost(NetworkShifts(s, finest_bias)), WEIGHT_SHIFTS[module], ALL_SHIFTS[module])
        bias = _best(lambda s: cost(NetworkShifts(weight, s)), BIAS_SHIFTS[module], ALL_SHIFTS[module])
        chosen[module] = NetworkShifts(weight, bias)
        codes[module] = cost(chosen[module])[1]
    _load(quantized, dequantize_module(codes["synthesis"], chosen["synthesis"]))
    _load(quantized, dequantize_module(codes["arm"], chosen["arm"]))
    arm = IntegerArm(codes["arm"], chosen["arm"], config)
    report = {"latent_bits": exact_bits(latents, arm), "float_arm_bits": float(model.rate_bits(model.quantized_latents("hard"))),
              "arm_bits": module_bits(codes["arm"]), "synthesis_bits": module_bits(codes["synthesis"]),
              "shifts": {m: (s.weight, s.bias) for m, s in chosen.items()}}
    return LatentPayload(latents, codes, chosen), quantized.eval(), report


def _finest_bias(state: dict, config, module: str) -> int:
    """The finest bias step of the searched range whose integers hold every bias of the module
    (biases beyond 1 in magnitude do not fit the finest synthesis step)."""
    largest = max((float(np.abs(state[name]).max(initial=0)) for name in config.module_shapes(module) if is_bias(name)),
                  default=0.0)
    fitting = [s for s in ALL_SHIFTS[module] if largest * 2.0**s <= MAX_CODE]
    return min(max(BIAS_SHIFTS[module]), max(fitting, default=0))


def _best(cost, candidates, wider) -> int:
    """The candidate of least cost; one that cannot be represented (too large integers, an ARM
    that would overflow) is skipped. When none can, the `wider` candidates are tried."""
    for pool in (candidates, [c for c in wider if c not in candidates]):
        scored = []
        for candidate in pool:
            try:
                scored.append((cost(candidate)[0], candidate))
            except (ValueError, OverflowError):
                continue
        if scored:
            return min(scored)[1]
    raise ValueError("no network quantization step represents this model (are its parameters finite?)")


def _load(model: LatentGridModel, values: dict[str, np.ndarray]) -> None:
    params = dict(model.named_parameters())
    for name, value in values.items():
        params[name].copy_(torch.as_tensor(value))
