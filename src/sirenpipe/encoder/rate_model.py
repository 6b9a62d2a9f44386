"""The rate model: what the rate–distortion sweep (``config/rd.yaml``) measured, per recipe and
model size, for rate control to plan from; defined once here and used by its writer (the
workflow's ``rate_model`` stage) and its reader (rate control).

A rate model is one JSON document:

    {"schema": 2, "provenance": {...PROVENANCE}, "rows": [{...COLUMNS}, ...]}

Each row is a recipe (RECIPE_COLUMNS) at one model size: parameters per second of audio, the
weights' coded bits per weight, and each quality metric averaged over the sweep's clips. The
provenance says what was measured: the presets, clip duration and sample rate, the clips, the
fit budget, the sirenpipe version and the date. ``sirenpipe rate-model install FILE`` makes a
sweep's result the packaged model that ``encode --kbps`` plans from by default.

No torch and no pandas: the workflow plans its ``target_kbps`` ablations at parse time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..atomic import write_text
from ..codec.quantize import QuantConfig
from ..errors import SirenpipeError
from ..fit.config import LOSSES

SCHEMA = 2  # 2 added the training objective (loss, loss_weight); schema 1 files were all mse
PACKAGED = "rate_model.json"  # in sirenpipe/data
RECIPE_COLUMNS = ("bits", "first_layer_bits", "quant_aware", "rate_weight", "loss", "loss_weight", "per_channel", "float_bits")
SIZE_COLUMNS = ("params", "params_per_second", "bits_per_weight")
QUALITY_COLUMNS = ("psnr", "pesq", "visqol")
COLUMNS = (*RECIPE_COLUMNS, *SIZE_COLUMNS, *QUALITY_COLUMNS, "clips")
PROVENANCE = ("presets", "duration_s", "sample_rate", "clips", "fit", "sirenpipe_version", "created", "source")
SELECT_BY = "pesq"  # the quality column a plan maximizes (PESQ-WB, over the sweep's speech clips)


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

    def fit_settings(self) -> dict:
        """The FitConfig fields this recipe sets (ratecontrol.RATE_CONTROLLED["fit"] and the loss)."""
        return {"quant_aware": self.quant_aware, "rate_weight": self.rate_weight, "loss": self.loss,
                "loss_weight": self.loss_weight}

    def describe(self) -> str:
        how = "quantization-aware" if self.quant_aware else "post-training quantized"
        rate = f", rate weight {self.rate_weight:g}" if self.rate_weight else ""
        loss = f", loss {self.loss} (weight {self.loss_weight:g})" if self.loss != "mse" else ""
        return f"{self.quant().label} {how}{rate}{loss}"


@dataclass(frozen=True)
class RatePoint:
    """One row of the rate model: a recipe at one model size, averaged over the sweep's clips."""

    recipe: Recipe
    params_per_second: float
    bits_per_weight: float  # coded bytes of the weight records * 8 / weights
    quality: float  # SELECT_BY


@dataclass(frozen=True)
class RateModel:
    points: tuple[RatePoint, ...]
    provenance: dict
    source: str  # where it was read from

    def describe(self) -> str:
        p = self.provenance
        recipes = len({point.recipe for point in self.points})
        fit = p.get("fit") or {}
        budget = ", ".join(f"{k} {v}" for k, v in fit.items()) or "unknown fit budget"
        return (f"rate model {self.source}: {recipes} recipes, {len(self.points)} points, measured with "
                f"{'/'.join(p.get('presets') or ['?'])} on {len(p.get('clips') or [])} clips of {p.get('duration_s')} s "
                f"at {p.get('sample_rate')} Hz ({budget}), sirenpipe {p.get('sirenpipe_version')}, {p.get('created')}")


def rate_model_document(rows: list[dict], provenance: dict) -> dict:
    """The JSON document of a rate model; refuses rows or provenance outside the schema."""
    missing = [k for k in PROVENANCE if k not in provenance]
    if missing:
        raise SirenpipeError(f"rate model provenance lacks {', '.join(missing)}")
    clean = []
    for i, row in enumerate(rows):
        if set(row) != set(COLUMNS):
            raise SirenpipeError(f"rate model row {i}: columns {sorted(row)} differ from the schema {sorted(COLUMNS)}")
        row = {k: _json_value(row[k]) for k in COLUMNS}
        bad = _invalid(row)
        if bad:
            raise SirenpipeError(f"rate model row {i}: invalid {bad}")
        clean.append(row)
    return {"schema": SCHEMA, "provenance": {k: provenance[k] for k in PROVENANCE}, "rows": clean}


def write_rate_model(path, rows: list[dict], provenance: dict) -> None:
    """The document as JSON, one row a line."""
    document = rate_model_document(rows, provenance)
    rows = ",\n".join(f"  {json.dumps(row)}" for row in document["rows"])
    text = json.dumps({**document, "rows": []}, indent=1).replace('"rows": []', f'"rows": [\n{rows}\n ]')
    write_text(path, text + "\n")


def load_rate_model(path=None) -> RateModel:
    """A rate model file (default: the packaged one); any defect is a one-line SirenpipeError."""
    source = resources.files("sirenpipe.data").joinpath(PACKAGED) if path is None else Path(path)
    name = f"(packaged) {PACKAGED}" if path is None else str(path)
    try:
        document = json.loads(source.read_text())
        if document.get("schema") == 1:  # before the objective was a recipe dimension: all mse
            document["rows"] = [{"loss": "mse", "loss_weight": 0.0, **row} for row in document["rows"]]
        elif document.get("schema") != SCHEMA:
            raise ValueError(f"schema {document.get('schema')!r}, this sirenpipe reads {SCHEMA} and 1")
        rate_model_document(document["rows"], document["provenance"])
        points = tuple(_point(row) for row in document["rows"] if _number(row[SELECT_BY]))
    except SirenpipeError as exc:
        raise SirenpipeError(f"{name}: {exc}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SirenpipeError(f"{name}: not a rate model ({type(exc).__name__}: {exc})") from None
    if not points:
        raise SirenpipeError(f"{name}: no rows with {SELECT_BY}")
    return RateModel(points, document["provenance"], name)


def install_rate_model(path) -> Path:
    """Check a rate model (a sweep's results/tables/rate_model.json) and make it the packaged one."""
    load_rate_model(path)
    target = Path(str(resources.files("sirenpipe.data").joinpath(PACKAGED)))
    write_text(target, Path(path).read_text())
    return target


def _point(row: dict) -> RatePoint:
    bits = int(row["bits"])
    first = row["first_layer_bits"]
    recipe = Recipe(bits, bool(row["quant_aware"]), float(row["rate_weight"]), bool(row["per_channel"]),
                    int(row["float_bits"]), None if first is None or int(first) == bits else int(first),
                    row["loss"], float(row["loss_weight"]))
    return RatePoint(recipe, float(row["params_per_second"]), float(row["bits_per_weight"]), float(row[SELECT_BY]))


def _invalid(row: dict) -> str | None:
    """The first field of a row that rate control could not use, or None."""
    checks = {
        "bits": isinstance(row["bits"], int) and 2 <= row["bits"] <= 8,
        "first_layer_bits": row["first_layer_bits"] is None
        or (isinstance(row["first_layer_bits"], int) and 2 <= row["first_layer_bits"] <= 8),
        "quant_aware": isinstance(row["quant_aware"], bool),
        "per_channel": isinstance(row["per_channel"], bool),
        "float_bits": row["float_bits"] in (16, 32),
        "rate_weight": _number(row["rate_weight"]) and row["rate_weight"] >= 0,
        "loss": row["loss"] in LOSSES,
        "loss_weight": _number(row["loss_weight"]) and row["loss_weight"] >= 0,
        "params_per_second": _number(row["params_per_second"]) and row["params_per_second"] > 0,
        "bits_per_weight": _number(row["bits_per_weight"]) and row["bits_per_weight"] > 0,
    }
    return next((name for name, ok in checks.items() if not ok), None)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _json_value(value):
    """Plain JSON: numpy scalars as Python numbers, NaN as null."""
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value
