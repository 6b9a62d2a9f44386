"""Markdown for every report (summary.md, bd_rate.md, RATE_DISTORTION.md, RESULTS.md): cell text,
numbers, settings, lists and tables. The one place a report's Markdown is formatted; import it as
``from . import markdown as md``."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from ..metrics import METRIC_INFO

__all__ = ["cell", "decimals", "distinct", "escape", "integer", "joined", "missing", "number", "plural", "table", "value"]

_ALIGN = {"l": ":---", "r": "---:", "-": "---"}


def missing(x) -> bool:
    """None, pandas' NA or a float NaN."""
    return x is None or x is pd.NA or (isinstance(x, (float, np.floating)) and math.isnan(x))


def value(x) -> str:
    """One setting as text: "—" when missing, yes/no for a flag, integers without a decimal point."""
    if missing(x):
        return "—"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return str(int(x)) if float(x).is_integer() else f"{x:g}"
    return str(x)


def distinct(values) -> list:
    """The non-missing values in order of first appearance, without repeats."""
    return list(dict.fromkeys(v for v in values if not missing(v)))


def joined(values, fmt=value, sep: str = ", ") -> str:
    """The :func:`distinct` values, each through ``fmt``, joined; "—" when there are none."""
    return sep.join(fmt(v) for v in distinct(values)) or "—"


def plural(n: int, word: str) -> str:
    """"1 clip", "2 clips"."""
    return f"{n} {word}{'s' * (n != 1)}"


def number(x, places: int) -> str:
    """``x`` with ``places`` decimals; "—" when missing or not finite."""
    return "—" if missing(x) or not np.isfinite(x) else f"{x:.{places}f}"


def integer(x) -> str:
    """A count with thousands separators ("75,010"); "—" when missing."""
    return "—" if missing(x) else f"{int(x):,}"


def decimals(metric: str) -> int:
    """The decimals a metric is shown with (its registry entry; 2 for an unknown column)."""
    return METRIC_INFO[metric].decimals if metric in METRIC_INFO else 2


def cell(row, metric: str) -> str:
    """A metric's cell from a summary row (``M_mean``, ``M_ci95``, ``M_n`` and ``n``): "mean ± CI",
    "(n=k)" appended when only k of the row's clips have a value, "—" when none do."""
    mean, ci, n_valid = row[f"{metric}_mean"], row[f"{metric}_ci95"], row[f"{metric}_n"]
    if n_valid == 0 or not np.isfinite(mean):
        return "—"
    places = decimals(metric)
    text = f"{mean:.{places}f}"
    if np.isfinite(ci):
        text += f" ± {ci:.{places}f}"
    if n_valid < row["n"]:
        text += f" (n={n_valid})"
    return text


def escape(x, limit: int | None = None) -> str:
    """Text for one table cell: None -> "—", whitespace collapsed, pipes escaped, truncated to ``limit``."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return "—"
    text = re.sub(r"\s+", " ", str(x)).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|") or "—"


def table(header: list[str], rows: list[list[str]], align) -> list[str]:
    """A table's lines; ``align`` per column: "l" (left), "r" (right) or "-" (the renderer's default).
    Cells are used as given (see :func:`escape`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(_ALIGN[a] for a in align) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]
