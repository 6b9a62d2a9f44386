"""The rate model: what the rate–distortion sweep (``config/rd.yaml``) measured, per model family,
for rate control to plan from; defined once here and used by its writer (the workflow's
``rate_model`` stage) and its reader (rate control).

A rate model is one JSON document:

    {"schema": 3, "provenance": {...PROVENANCE}, "rows": [{"family": ..., ...}, ...]}

Each row belongs to one family (sirenpipe.families), which defines its columns
(ModelFamily.rate_columns: the SIREN's are a recipe at one model size, the latent grid's a preset
at one rate target) and checks them; every row also has the quality metrics (QUALITY_COLUMNS)
averaged over the sweep's clips and how many clips. The provenance says what was measured: the
presets, clip duration and sample rate, the clips, each family's fit budget, the sirenpipe
version and the date. Schema 1 and 2 files (before families) hold SIREN rows only.
``sirenpipe rate-model install FILE`` makes a sweep's result the packaged model that
``encode --kbps`` plans from by default.

No torch and no pandas: the workflow plans its ``target_kbps`` ablations at parse time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..atomic import write_text
from ..errors import SirenpipeError
from ..families import FAMILIES, get_family
from ..families.base import QUALITY_COLUMNS, SELECT_BY, is_number

SCHEMA = 3  # 3: rows of every family; 2 added the SIREN's training objective (loss, loss_weight); 1 was all mse
PACKAGED = "rate_model.json"  # in sirenpipe/data
PROVENANCE = ("presets", "duration_s", "sample_rate", "clips", "fit", "sirenpipe_version", "created", "source")


@dataclass(frozen=True)
class RateModel:
    rows: dict[str, list[dict]]  # family -> its rows that have SELECT_BY
    provenance: dict
    source: str  # where it was read from

    def describe(self) -> str:
        p = self.provenance
        counts = ", ".join(f"{len(rows)} {get_family(name).label} rows" for name, rows in self.rows.items() if rows)
        fit = p.get("fit") or {}
        budget = "; ".join(f"{family}: " + ", ".join(f"{k} {v}" for k, v in settings.items())
                           for family, settings in fit.items()) or "unknown fit budget"
        return (f"rate model {self.source}: {counts or 'no rows'}, measured with "
                f"{'/'.join(p.get('presets') or ['?'])} on {len(p.get('clips') or [])} clips of {p.get('duration_s')} s "
                f"at {p.get('sample_rate')} Hz ({budget}), sirenpipe {p.get('sirenpipe_version')}, {p.get('created')}")


def rate_model_document(rows: list[dict], provenance: dict) -> dict:
    """The JSON document of a rate model; refuses rows or provenance outside the schema."""
    missing = [k for k in PROVENANCE if k not in provenance]
    if missing:
        raise SirenpipeError(f"rate model provenance lacks {', '.join(missing)}")
    fit = provenance["fit"]
    if not (isinstance(fit, dict) and all(name in FAMILIES and isinstance(v, dict) for name, v in fit.items())):
        raise SirenpipeError("rate model provenance: fit must name each family's fit settings")
    clean = []
    for i, row in enumerate(rows):
        name = row.get("family")
        if name not in FAMILIES:
            raise SirenpipeError(f"rate model row {i}: unknown family {name!r}")
        family = FAMILIES[name]
        columns = ("family", *family.rate_columns, *QUALITY_COLUMNS, "clips")
        if set(row) != set(columns):
            raise SirenpipeError(f"rate model row {i}: columns {sorted(row)} differ from the {family.label} "
                                 f"family's {sorted(columns)}")
        row = {k: _json_value(row[k]) for k in columns}
        bad = family.invalid_rate_field(row)
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
        schema = document.get("schema")
        legacy = [f for f in FAMILIES.values() if schema in f.legacy_rate_schemas]
        if legacy:  # a schema from before families: one family's rows
            document["rows"] = [{**legacy[0].upgrade_rate_row(row, schema), "family": legacy[0].name}
                                for row in document["rows"]]
            fit = document["provenance"].get("fit")
            document["provenance"]["fit"] = {legacy[0].name: fit} if fit else {}
        elif schema != SCHEMA:
            raise ValueError(f"schema {schema!r}, this sirenpipe reads {SCHEMA}, 2 and 1")
        rate_model_document(document["rows"], document["provenance"])
        rows = {family: [] for family in FAMILIES}
        for row in document["rows"]:
            if is_number(row[SELECT_BY]):
                rows[row["family"]].append(row)
    except SirenpipeError as exc:
        raise SirenpipeError(f"{name}: {exc}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SirenpipeError(f"{name}: not a rate model ({type(exc).__name__}: {exc})") from None
    if not any(rows.values()):
        raise SirenpipeError(f"{name}: no rows with {SELECT_BY}")
    return RateModel(rows, document["provenance"], name)


def install_rate_model(path) -> Path:
    """Check a rate model (a sweep's results/tables/rate_model.json) and make it the packaged one."""
    load_rate_model(path)
    target = Path(str(resources.files("sirenpipe.data").joinpath(PACKAGED)))
    write_text(target, Path(path).read_text())
    return target


def _json_value(value):
    """Plain JSON: numpy scalars as Python numbers, NaN as null."""
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value
