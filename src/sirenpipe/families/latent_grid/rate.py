"""The latent-grid family's rows of the rate model, and its plans for a byte budget.

A latent grid meets a bitrate through its rate weight, which adapts during the fit towards the
latents' share of the budget (latent_rate_target); what a preset cannot do is spend more than its
size allows (its rate saturates). So a row is a preset and an objective at one rate target: the
bitrate its streams reached there, and their quality. A plan predicts each curve's bitrate at the
budget (in log bitrate between the targets measured; above the highest, the same share of the
target, unless the preset saturated there: then no more than it reached) and its quality at that
bitrate (held above the highest measured), and takes the best.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...fit.config import LOSSES
from ...models.config import PRESETS, model_config
from ..base import QUALITY_COLUMNS, SELECT_BY, PlanCandidate, interpolate, is_number

RATE_COLUMNS = ("preset", "loss", "loss_weight", "target_kbps", "kbps", "params")
LATENT_BUDGET_SHARE = 0.95  # a rate target aims the latents at this share of the budget, less side_bytes_estimate
SATURATED = 0.85  # a preset reaching less than this share of its highest target measured cannot spend more


def side_bytes_estimate(config) -> int:
    """A generous estimate of a version-4 stream's bytes besides the latents' codes: prefix, JSON
    header and CRC (about 400 bytes), the networks at 12 bits per parameter, the alphabets."""
    return 400 + (12 * config.num_parameters()) // 8 + 2 * config.num_grids + 32


def latent_rate_target(config, budget_bytes: int, num_samples: int) -> float:
    """Bits per sample of the latents that a stream of budget_bytes leaves room for."""
    from ...errors import SirenpipeError

    bits = 8 * (LATENT_BUDGET_SHARE * budget_bytes - side_bytes_estimate(config)) / num_samples
    if bits <= 0:
        raise SirenpipeError(f"{budget_bytes} bytes cannot hold a {config.num_parameters():,}-parameter latent-grid "
                             f"model's networks and header")
    return bits


@dataclass(frozen=True)
class LatentRecipe:
    """The objective a latent-grid plan fits with (None: the fit settings' own)."""

    loss: str | None = None
    loss_weight: float | None = None

    def fit_settings(self) -> dict:
        """The objective, and its weight where the rows measured one (else the objective's default)."""
        return {} if self.loss is None else {"loss": self.loss, "loss_weight": self.loss_weight}

    def stream_settings(self) -> None:
        return None

    def describe(self) -> str:
        if self.loss is None:
            return "the fit settings' objective"
        weight = "" if self.loss == "mse" or self.loss_weight is None else f" (weight {self.loss_weight:g})"
        return f"loss {self.loss}{weight}"

    def describe_plan(self, plan: PlanCandidate) -> str:
        return (f"latent grid {plan.preset} ({plan.model.num_parameters():,} network parameters, the rate weight adapting "
                f"to the budget), {self.describe()}")


def _better(quality: float, than: float) -> bool:
    """Higher, where NaN (not predicted) loses to any number."""
    if math.isnan(quality):
        return False
    return math.isnan(than) or quality > than


class LatentGridRates:
    """The latent-grid family's part of the rate model (mixed into LatentGridFamily)."""

    rate_columns = RATE_COLUMNS

    def rate_sources(self, scores):
        """Curve points at a rate target of a preset's own model (no overrides)."""
        if "family" not in scores:
            return scores.iloc[:0]
        rows = scores[(scores["family"] == self.name) & (scores["status"] == "ok") & scores["curve"].notna()
                      & scores["target_kbps"].notna()]
        return rows[[model_config(p).num_parameters() == n for p, n in zip(rows["preset"], rows["params"])]]

    def rate_rows(self, scores):
        """One row per preset, objective and rate target: the mean bitrate the streams reached and
        their quality (PESQ over the speech clips only, ViSQOL and PSNR over all; a clip's quality
        is that of its best decoder variant)."""
        rows = self.rate_sources(scores)
        if rows.empty:
            return []
        quality = [m for m in QUALITY_COLUMNS if m in rows]
        if "pesq" in quality and "kind" in rows:
            rows = rows.assign(pesq=rows["pesq"].where(rows["kind"] == "speech"))
        keys = ["preset", "loss", "loss_weight", "target_kbps"]
        per_clip = rows.groupby(["ablation", "dataset", "clip", *keys, "kbps", "params"])[quality].max().reset_index()
        table = per_clip.groupby(keys)[["kbps", "params", *quality]].mean()
        table["clips"] = per_clip.groupby(keys).size()
        for missing in set(QUALITY_COLUMNS) - set(quality):
            table[missing] = float("nan")
        table = table.reset_index().sort_values(keys)
        return [{**row, "params": int(row["params"])} for row in table.to_dict("records")]

    def invalid_rate_field(self, row: dict) -> str | None:
        checks = {
            "preset": row["preset"] in PRESETS and model_config(row["preset"]).family == self.name,
            "loss": row["loss"] in LOSSES,
            "loss_weight": is_number(row["loss_weight"]) and row["loss_weight"] >= 0,
            "target_kbps": is_number(row["target_kbps"]) and row["target_kbps"] > 0,
            "kbps": is_number(row["kbps"]) and row["kbps"] > 0,
            "params": isinstance(row["params"], int) and row["params"] > 0,
        }
        return next((name for name, ok in checks.items() if not ok), None)

    def plan(self, budget_bytes, num_samples, sample_rate, rows, preset, loss):
        kbps = budget_bytes * 8 / (num_samples / sample_rate) / 1000
        curves: dict[tuple, list[dict]] = {}
        for row in rows:
            if (preset is None or row["preset"] == preset) and (loss is None or row["loss"] == loss):
                curves.setdefault((row["preset"], row["loss"], float(row["loss_weight"])), []).append(row)
        if preset is not None and not curves:  # a named preset needs no row: its rate weight adapts all the same
            curves[(preset, loss, None)] = []
        best = None
        for (name, objective, weight), curve in curves.items():
            config = model_config(name)
            if LATENT_BUDGET_SHARE * budget_bytes <= side_bytes_estimate(config):
                continue
            recipe = LatentRecipe(objective, weight)
            if not curve:
                best = best or PlanCandidate(self.name, name, config, recipe, budget_bytes, float("nan"))
                continue
            curve.sort(key=lambda r: r["target_kbps"])
            last = curve[-1]
            if kbps > last["target_kbps"] and last["kbps"] >= SATURATED * last["target_kbps"]:
                reached = kbps * last["kbps"] / last["target_kbps"]  # not saturated there: the same share of a higher target
            else:
                reached = math.exp(interpolate([math.log(r["target_kbps"]) for r in curve],
                                               [math.log(r["kbps"]) for r in curve], math.log(kbps), extrapolate_below=True))
            reached = min(kbps, reached)
            by_rate = sorted(curve, key=lambda r: r["kbps"])
            quality = interpolate([math.log(r["kbps"]) for r in by_rate], [r[SELECT_BY] for r in by_rate],
                                  math.log(reached), extrapolate_below=True)
            size = min(budget_bytes, math.floor(reached * 1000 * num_samples / sample_rate / 8))
            if best is None or _better(quality, best.predicted_quality):
                best = PlanCandidate(self.name, name, config, recipe, size, quality)
        return best

    def smallest_stream(self, num_samples, sample_rate, preset):
        names = [preset] if preset else self.presets()
        return min(math.ceil(side_bytes_estimate(model_config(p)) / LATENT_BUDGET_SHARE) for p in names)

    def describe_rows(self, rows):
        curves: dict[tuple, list[dict]] = {}
        for row in rows:
            curves.setdefault((row["preset"], row["loss"], row["loss_weight"]), []).append(row)
        return [f"{self.label} {p} ({LatentRecipe(loss, weight).describe()}): kbps reached "
                + ", ".join(f"{r['kbps']:.1f} at {r['target_kbps']:g}" for r in sorted(c, key=lambda r: r["target_kbps"]))
                for (p, loss, weight), c in curves.items()]
