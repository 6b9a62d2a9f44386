"""The SIREN family's rows of the rate model, and its plans for a byte budget.

A row is a recipe (RECIPE_COLUMNS: bit width, the input layer's bits, quantization-aware or not,
rate weight, training objective, per-channel scales, float bits) at one model size: parameters
per second of audio and the weights' coded bits per weight, with the quality measured there. A
plan scales the preset's layer layout (every layer by one factor): for each recipe, the widest
model whose predicted size fits the budget, and the recipe whose quality curve is highest at
that model's parameters per second wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ...codec.header import CRC, PREFIX, StreamHeader
from ...codec.quantize import QuantConfig
from ...fit.config import LOSSES
from ...models.config import INRConfig, input_weight_names, model_config
from ..base import QUALITY_COLUMNS, SELECT_BY, PlanCandidate, interpolate, is_number

RECIPE_COLUMNS = ("bits", "first_layer_bits", "quant_aware", "rate_weight", "loss", "loss_weight", "per_channel", "float_bits")
SIZE_COLUMNS = ("params", "params_per_second", "bits_per_weight")
DEFAULT_PRESET = "siamese-siren"  # the layer layout plans are scaled from when no preset is named
SIZE_MARGIN = 0.03  # plans aim this far below the budget: the coded size of a fit varies around the model's
WIDTHS = range(4, 1025, 2)  # candidate widths of the model's first layer
LAPLACE_RECORD_BYTES = 9  # mode, scale and word count of a range-coded weight record (codec.entropy)
PEAK_SCALE_PLACEHOLDER = 0.12345678901234568  # a peak scale with the longest JSON form, for header sizes


@dataclass(frozen=True)
class Recipe:
    """How a model is fitted and quantized, as the rate model's rows name it."""

    bits: int
    quant_aware: bool
    rate_weight: float
    per_channel: bool = True
    float_bits: int = 16
    first_layer_bits: int | None = None  # None: the input layer has `bits` too
    loss: str = "mse"  # the training objective (fit.config.LOSSES) and its weight
    loss_weight: float = 0.0

    def quant(self) -> QuantConfig:
        return QuantConfig(self.bits, self.per_channel, "entropy", self.float_bits, self.first_layer_bits)

    def stream_settings(self) -> dict:
        return self.quant().to_dict()

    def fit_settings(self) -> dict:
        """The FitConfig fields this recipe sets (SirenFamily.rate_controlled["fit"] and the loss)."""
        return {"quant_aware": self.quant_aware, "rate_weight": self.rate_weight, "loss": self.loss,
                "loss_weight": self.loss_weight}

    def describe(self) -> str:
        how = "quantization-aware" if self.quant_aware else "post-training quantized"
        rate = f", rate weight {self.rate_weight:g}" if self.rate_weight else ""
        loss = f", loss {self.loss} (weight {self.loss_weight:g})" if self.loss != "mse" else ""
        return f"{self.quant().label} {how}{rate}{loss}"

    def describe_plan(self, plan: PlanCandidate) -> str:
        widths = "/".join(map(str, plan.model.shared + plan.model.head_widths))
        return f"SIREN widths {widths} ({plan.model.num_parameters():,} parameters), {self.describe()}"


@dataclass(frozen=True)
class RatePoint:
    """One row: a recipe at one model size, averaged over the sweep's clips."""

    recipe: Recipe
    params_per_second: float
    bits_per_weight: float  # coded bytes of the weight records * 8 / weights
    quality: float  # the rate model's SELECT_BY column


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


def recipe_of(row: dict) -> Recipe:
    bits = int(row["bits"])
    first = row["first_layer_bits"]
    return Recipe(bits, bool(row["quant_aware"]), float(row["rate_weight"]), bool(row["per_channel"]),
                  int(row["float_bits"]), None if first is None or int(first) == bits else int(first),
                  row["loss"], float(row["loss_weight"]))


class SirenRates:
    """The SIREN family's part of the rate model (mixed into SirenFamily)."""

    rate_columns = (*RECIPE_COLUMNS, *SIZE_COLUMNS)
    legacy_rate_schemas = (1, 2)  # 2 added the training objective; schema 1 rows were all mse

    def upgrade_rate_row(self, row, schema):
        return {"loss": "mse", "loss_weight": 0.0, **row}

    def rate_sources(self, scores):
        """Entropy-coded curve points (what rate control can produce); not ablations that were
        themselves rate-controlled. Score tables from before the family column hold SIREN rows only."""
        mine = scores["family"].fillna(self.name) == self.name if "family" in scores else True
        return scores[mine & (scores["status"] == "ok") & scores["curve"].notna() & scores["target_kbps"].isna()
                      & (scores["coding"] == "entropy")]

    def rate_rows(self, scores):
        """One row per recipe and model size: PESQ over the speech clips only (it is a speech
        measure), ViSQOL and PSNR over all; a clip's quality is that of its best decoder variant."""
        rows = self.rate_sources(scores)
        if rows.empty:
            return []
        # integer settings read back as floats where other rows (the codecs') lack them; scores from before the
        # input layer had its own bit width (it had `bits`), and before the objective was a setting (mse)
        first = rows["first_layer_bits"].fillna(rows["bits"]) if "first_layer_bits" in rows else rows["bits"]
        rows = rows.assign(first_layer_bits=first.astype(int), bits=rows["bits"].astype(int),
                           float_bits=rows["float_bits"].astype(int),
                           loss=rows["loss"].fillna("mse") if "loss" in rows else "mse",
                           loss_weight=rows["loss_weight"].fillna(0.0) if "loss_weight" in rows else 0.0)
        quality = [m for m in QUALITY_COLUMNS if m in rows]
        if "pesq" in quality and "kind" in rows:
            rows = rows.assign(pesq=rows["pesq"].where(rows["kind"] == "speech"))
        recipe = list(RECIPE_COLUMNS)
        per_clip = rows.groupby(["ablation", "dataset", "clip", *recipe, "params", "weights", "duration_s",
                                 "coded_weight_bytes"], dropna=False)[quality].max().reset_index()
        per_clip["params_per_second"] = per_clip["params"] / per_clip["duration_s"]
        per_clip["bits_per_weight"] = per_clip["coded_weight_bytes"] * 8 / per_clip["weights"]
        table = per_clip.groupby([*recipe, "params"])[["params_per_second", "bits_per_weight", *quality]].mean()
        table["clips"] = per_clip.groupby([*recipe, "params"]).size()
        for missing in set(QUALITY_COLUMNS) - set(quality):
            table[missing] = float("nan")
        return table.reset_index().sort_values([*recipe, "params"]).to_dict("records")

    def invalid_rate_field(self, row: dict) -> str | None:
        checks = {
            "bits": isinstance(row["bits"], int) and 2 <= row["bits"] <= 8,
            "first_layer_bits": row["first_layer_bits"] is None
            or (isinstance(row["first_layer_bits"], int) and 2 <= row["first_layer_bits"] <= 8),
            "quant_aware": isinstance(row["quant_aware"], bool),
            "per_channel": isinstance(row["per_channel"], bool),
            "float_bits": row["float_bits"] in (16, 32),
            "rate_weight": is_number(row["rate_weight"]) and row["rate_weight"] >= 0,
            "loss": row["loss"] in LOSSES,
            "loss_weight": is_number(row["loss_weight"]) and row["loss_weight"] >= 0,
            "params_per_second": is_number(row["params_per_second"]) and row["params_per_second"] > 0,
            "bits_per_weight": is_number(row["bits_per_weight"]) and row["bits_per_weight"] > 0,
        }
        return next((name for name, ok in checks.items() if not ok), None)

    def points(self, rows: list[dict]) -> list[RatePoint]:
        return [RatePoint(recipe_of(r), float(r["params_per_second"]), float(r["bits_per_weight"]), float(r[SELECT_BY]))
                for r in rows]

    def plan(self, budget_bytes, num_samples, sample_rate, rows, preset, loss):
        preset = preset or DEFAULT_PRESET
        duration = num_samples / sample_rate
        by_recipe: dict[Recipe, list[RatePoint]] = {}
        for p in self.points(rows):
            if loss is None or p.recipe.loss == loss:
                by_recipe.setdefault(p.recipe, []).append(p)
        best = None
        for recipe, curve in by_recipe.items():
            curve.sort(key=lambda p: p.params_per_second)
            fitted = _widest_fitting(recipe, curve, budget_bytes, num_samples, sample_rate, preset, duration)
            if fitted is None:
                continue
            config, size = fitted
            quality = _at(curve, config.num_parameters() / duration, "quality", extrapolate_below=True)
            if best is None or quality > best.predicted_quality:
                best = PlanCandidate(self.name, None, config, recipe, size, quality)  # a scaled model: no preset's
        return best

    def smallest_stream(self, num_samples, sample_rate, preset):
        return predicted_bytes(scaled_model(preset or DEFAULT_PRESET, WIDTHS[0]), QuantConfig(2, True, "entropy", 16), 1.0,
                               sample_rate, num_samples, preset or DEFAULT_PRESET)

    def describe_rows(self, rows):
        points = self.points(rows)
        recipes = sorted({p.recipe for p in points}, key=lambda r: (r.bits, r.quant_aware, r.rate_weight, r.loss, r.loss_weight))
        return [f"{self.label} {recipe.describe()}: parameters per second "
                + ", ".join(f"{p.params_per_second:,.0f}" for p in points if p.recipe == recipe) for recipe in recipes]


def _widest_fitting(recipe, curve, budget, num_samples, sample_rate, preset, duration):
    """(config, predicted bytes) of the widest model of the preset that fits the budget with the margin."""
    found = None
    for width in WIDTHS:  # sizes grow with width: stop at the first that does not fit
        config = scaled_model(preset, width)
        bpw = _at(curve, config.num_parameters() / duration, "bits_per_weight")
        size = predicted_bytes(config, recipe.quant(), bpw, sample_rate, num_samples, preset)
        if size > budget * (1 - SIZE_MARGIN):
            break
        found = (config, size)
    return found


def _at(curve: list[RatePoint], params_per_second: float, field: str, extrapolate_below=False) -> float:
    """A field of a recipe's curve at a density, linear in log density."""
    return interpolate([math.log(p.params_per_second) for p in curve], [getattr(p, field) for p in curve],
                       math.log(params_per_second), extrapolate_below)
