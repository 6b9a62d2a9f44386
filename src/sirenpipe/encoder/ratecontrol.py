"""Rate control: aim a stream at a bitrate (``sirenpipe encode --kbps``, an ablation's ``target_kbps``).

A target of K kbps for a clip of D seconds is a budget of K·D·125 bytes. The plan picks, for
the preset's layer layout, a width (every layer scaled by one factor) and a recipe (bit width,
quantization-aware or not, rate weight) from the rate model: what the rate–distortion sweep
(``config/rd.yaml``) measured, per recipe and model size, as coded bits per weight and quality
against parameters per second of audio. For each recipe the widest model whose predicted size
fits the budget is taken; the recipe whose measured quality curve is highest at that model's
parameters per second wins. After encoding, `api.compress_within` re-quantizes at fewer bits if the real
stream is still too large, so a stream never exceeds its target. The rate model's schema and file
are :mod:`.rate_model`'s.

No torch: the workflow plans its ``target_kbps`` ablations at parse time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from ..codec.header import CRC, PREFIX, StreamHeader
from ..codec.quantize import QuantConfig
from ..errors import SirenpipeError
from ..models.config import INRConfig, input_weight_names, model_config
from .rate_model import SELECT_BY, RateModel, RatePoint, Recipe, load_rate_model

# What rate control chooses for a target bitrate (encode --kbps, an ablation's target_kbps), by
# config section; a rate-controlled encode may not set any of them itself.
RATE_CONTROLLED = {
    "model": ("shared", "head_widths"),
    "quant": ("bits", "per_channel", "coding", "float_bits", "first_layer_bits"),
    "fit": ("quant_aware", "rate_weight", "loss_weight"),
}
# The training objective (fit.loss) is chosen too, unless one is named: then the plan is made
# among that objective's recipes.
SIZE_MARGIN = 0.03  # plans aim this far below the budget: the coded size of a fit varies around the model's
WIDTHS = range(4, 1025, 2)  # candidate widths of the model's first layer
LAPLACE_RECORD_BYTES = 9  # mode, scale and word count of a range-coded weight record (codec.entropy)
PEAK_SCALE_PLACEHOLDER = 0.12345678901234568  # a peak scale with the longest JSON form, for header sizes


@dataclass(frozen=True)
class RatePlan:
    target_kbps: float
    budget_bytes: int
    rate_model: RateModel = field(compare=False, hash=False)  # what the plan was made from
    model: INRConfig
    recipe: Recipe
    predicted_bytes: int
    predicted_quality: float  # SELECT_BY, interpolated from the rate model

    @property
    def quant(self) -> QuantConfig:
        return self.recipe.quant()

    def describe(self) -> str:
        widths = "/".join(map(str, self.model.shared + self.model.head_widths))
        return (f"target {self.target_kbps:g} kbps = {self.budget_bytes} bytes: widths {widths} "
                f"({self.model.num_parameters():,} parameters), {self.recipe.describe()}, predicted "
                f"{self.predicted_bytes} bytes and {SELECT_BY} {self.predicted_quality:.2f} (as on the rate model's clips)")


def scaled_model(preset: str, width: int) -> INRConfig:
    """The preset with every hidden layer scaled so that the first one is `width` wide."""
    base = model_config(preset)
    first = (base.shared or base.head_widths)[0]

    def scale(widths):
        return tuple(max(2, round(w * width / first)) for w in widths)

    return replace(base, shared=scale(base.shared), head_widths=scale(base.head_widths))


def predicted_bytes(config: INRConfig, quant: QuantConfig, bits_per_weight: float, sample_rate: int, num_samples: int,
                    preset: str | None) -> int:
    """A stream's size: framing, header, per weight tensor its scales, record and codes at
    bits_per_weight (capped at fixed-length codes), and the biases as floats."""
    header = StreamHeader(config, sample_rate, num_samples, PEAK_SCALE_PLACEHOLDER, quant, preset, "siamese")
    total = PREFIX.size + len(header.to_json()) + CRC.size
    float_bytes = quant.float_bits // 8
    shapes = config.weight_shapes()
    input_layer = input_weight_names(shapes)
    for name, (out, inp) in shapes.items():
        scales = out if quant.per_channel else 1
        codes = min(bits_per_weight, quant.for_layer(name in input_layer).bits) * out * inp / 8
        total += float_bytes * (scales + out) + LAPLACE_RECORD_BYTES + math.ceil(codes)
    return total


def budget_bytes(target_kbps: float, num_samples: int, sample_rate: int) -> int:
    """The most bytes a stream of this clip may have at target_kbps."""
    return math.floor(target_kbps * 1000 * num_samples / sample_rate / 8)


def plan_rate(target_kbps: float, num_samples: int, sample_rate: int, preset: str = "siamese-siren",
              rate_model: RateModel | None = None, loss: str | None = None) -> RatePlan:
    """The model and recipe for a stream of at most target_kbps (see the module docstring);
    with `loss`, among the recipes of that training objective only."""
    if not (isinstance(target_kbps, (int, float)) and math.isfinite(target_kbps) and target_kbps > 0):
        raise SirenpipeError(f"target bitrate must be a positive number of kbps, got {target_kbps!r}")
    duration = num_samples / sample_rate
    budget = budget_bytes(target_kbps, num_samples, sample_rate)
    rate_model = load_rate_model() if rate_model is None else rate_model
    by_recipe: dict[Recipe, list[RatePoint]] = {}
    for p in rate_model.points:
        if loss is None or p.recipe.loss == loss:
            by_recipe.setdefault(p.recipe, []).append(p)
    if not by_recipe:
        raise SirenpipeError(f"the {rate_model.source} rate model has no recipe with loss {loss!r}; "
                             f"it has {', '.join(sorted({p.recipe.loss for p in rate_model.points}))}")
    best = None
    for recipe, curve in by_recipe.items():
        curve.sort(key=lambda p: p.params_per_second)
        fitted = _widest_fitting(recipe, curve, budget, num_samples, sample_rate, preset, duration)
        if fitted is None:
            continue
        config, size = fitted
        quality = _interpolate(curve, config.num_parameters() / duration, "quality", extrapolate_below=True)
        if best is None or quality > best.predicted_quality:
            best = RatePlan(float(target_kbps), budget, rate_model, config, recipe, size, quality)
    if best is None:
        smallest = predicted_bytes(scaled_model(preset, WIDTHS[0]), QuantConfig(2, True, "entropy", 16), 1.0,
                                   sample_rate, num_samples, preset)
        raise SirenpipeError(f"target {target_kbps:g} kbps ({budget} bytes for {duration:.2f} s) is below the "
                             f"smallest stream of this preset ({smallest} bytes, "
                             f"{smallest * 8 / duration / 1000:.1f} kbps)")
    return best


def _widest_fitting(recipe, curve, budget, num_samples, sample_rate, preset, duration):
    """(config, predicted bytes) of the widest model of the preset that fits the budget with the margin."""
    found = None
    for width in WIDTHS:  # sizes grow with width: stop at the first that does not fit
        config = scaled_model(preset, width)
        bpw = _interpolate(curve, config.num_parameters() / duration, "bits_per_weight")
        size = predicted_bytes(config, recipe.quant(), bpw, sample_rate, num_samples, preset)
        if size > budget * (1 - SIZE_MARGIN):
            break
        found = (config, size)
    return found


def _interpolate(curve: list[RatePoint], params_per_second: float, field: str, extrapolate_below=False) -> float:
    """A field of a recipe's curve at a density, linear in log density; held beyond the densest
    point, and below the sparsest either held or (extrapolate_below: quality falls with fewer
    parameters) continued along the first segment."""
    xs = [math.log(p.params_per_second) for p in curve]
    ys = [getattr(p, field) for p in curve]
    x = math.log(params_per_second)
    if x <= xs[0]:
        if extrapolate_below and len(xs) > 1 and xs[1] > xs[0]:
            return ys[0] + (ys[1] - ys[0]) * (x - xs[0]) / (xs[1] - xs[0])
        return ys[0]
    for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else y1
    return ys[-1]


def lower_bits(quant: QuantConfig) -> QuantConfig | None:
    """The next smaller bit width, or None at the smallest."""
    return replace(quant, bits=quant.bits - 1) if quant.bits > 2 else None
