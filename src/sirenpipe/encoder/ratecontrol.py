"""Rate control: aim a stream at a bitrate (``sirenpipe encode --kbps``, an ablation's ``target_kbps``).

A target of K kbps for a clip of D seconds is a budget of K·D·125 bytes. Every family that may
encode the clip (all of them, or those a preset, a family name or the fit settings allow) plans
from its rows of the rate model (what the rate–distortion sweep, ``config/rd.yaml``, measured):
its best model and recipe within the budget and the quality they predict
(ModelFamily.plan). The plan of highest predicted quality wins. The encode then keeps the stream
within the budget however the fit turns out: the SIREN re-quantizes at fewer bits, the latent
grid refits with a higher rate weight; either fails in one line rather than exceed it. The rate
model's schema and file are :mod:`.rate_model`'s.

No torch: the workflow plans its ``target_kbps`` ablations at parse time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import SirenpipeError
from ..families import FAMILIES, budget_bytes, family_of_preset, get_family
from ..families.base import SELECT_BY, PlanCandidate
from .rate_model import RateModel, load_rate_model


@dataclass(frozen=True)
class RatePlan:
    target_kbps: float
    budget_bytes: int
    rate_model: RateModel = field(compare=False, hash=False)  # what the plan was made from
    chosen: PlanCandidate  # the winning family's plan
    candidates: tuple[PlanCandidate, ...] = field(compare=False, hash=False, default=())  # every family's best

    @property
    def family(self) -> str:
        return self.chosen.family

    @property
    def model(self):
        return self.chosen.model

    @property
    def recipe(self):
        return self.chosen.recipe

    @property
    def preset(self) -> str | None:
        return self.chosen.preset

    @property
    def predicted_bytes(self) -> int:
        return self.chosen.predicted_bytes

    @property
    def predicted_quality(self) -> float:
        return self.chosen.predicted_quality

    def describe(self) -> str:
        others = [c for c in self.candidates if c is not self.chosen]
        beside = "".join(f"; beside {get_family(c.family).label}{' ' + c.preset if c.preset else ''} at "
                         f"{SELECT_BY} {c.predicted_quality:.2f}" for c in others)
        quality = (f"{SELECT_BY} {self.predicted_quality:.2f} (as on the rate model's clips)"
                   if self.predicted_quality == self.predicted_quality else "no quality (the rate model has no row of it)")
        return (f"target {self.target_kbps:g} kbps = {self.budget_bytes} bytes: {self.chosen.describe()}, predicted "
                f"{self.predicted_bytes} bytes and {quality}{beside}")


def plan_families(preset: str | None = None, family: str | None = None, fit_settings=None) -> list:
    """The families a plan may choose among: the preset's, the named one, or those that take the
    fit settings (an object: its family; a dict: the families that take every key); else all."""
    if preset is not None:
        chosen = [family_of_preset(preset)]
    elif family is not None:
        chosen = [get_family(family)]
    else:
        chosen = list(FAMILIES.values())
    if isinstance(fit_settings, dict):
        chosen = [f for f in chosen if all(k in f.fit_options for k in fit_settings)]
    elif fit_settings is not None:
        chosen = [f for f in chosen if isinstance(fit_settings, type(f.fit_config({})))]
    if family is not None and preset is not None and chosen and chosen[0].name != family:
        raise ValueError(f"preset {preset} is of the {chosen[0].label} family, not {family!r}")
    if not chosen:
        raise ValueError("no model family takes these fit settings" + (f" with preset {preset}" if preset else ""))
    return chosen


def plan_rate(target_kbps: float, num_samples: int, sample_rate: int, preset: str | None = None,
              rate_model: RateModel | None = None, loss: str | None = None, family: str | None = None,
              fit_settings=None) -> RatePlan:
    """The family, model and recipe for a stream of at most target_kbps (see the module
    docstring); with `loss`, among that training objective's recipes only."""
    budget = budget_bytes(target_kbps, num_samples, sample_rate)
    rate_model = load_rate_model() if rate_model is None else rate_model
    families = plan_families(preset, family, fit_settings)
    candidates = [c for f in families
                  if (c := f.plan(budget, num_samples, sample_rate, rate_model.rows.get(f.name, []), preset, loss))]
    losses = {row["loss"] for f in families for row in rate_model.rows.get(f.name, [])}
    if not candidates and loss is not None and losses and loss not in losses:
        raise SirenpipeError(f"the {rate_model.source} rate model has no recipe with loss {loss!r}; "
                             f"it has {', '.join(sorted(losses)) or 'none'}")
    if not candidates:
        measured = families if preset is not None else [f for f in families if rate_model.rows.get(f.name)]
        unmeasured = [f.label for f in families if f not in measured]
        if not measured:
            raise SirenpipeError(f"the {rate_model.source} rate model has no rows of the {' or '.join(unmeasured)} "
                                 "family: name a preset, or plan from a rate model with its rows (sirenpipe rate-model show)")
        smallest = min(f.smallest_stream(num_samples, sample_rate, preset) for f in measured)
        duration = num_samples / sample_rate
        what = f"preset {preset}" if preset else " or ".join(f"the {f.label} family" for f in measured)
        unplanned = f"; the rate model has no rows of the {' or '.join(unmeasured)} family" if unmeasured else ""
        raise SirenpipeError(f"target {target_kbps:g} kbps ({budget} bytes for {duration:.2f} s) is below the "
                             f"smallest stream of {what} ({smallest} bytes, {smallest * 8 / duration / 1000:.1f} kbps)"
                             f"{unplanned}")
    chosen = max(candidates, key=lambda c: c.predicted_quality if c.predicted_quality == c.predicted_quality else -1e9)
    return RatePlan(float(target_kbps), budget, rate_model, chosen, tuple(candidates))
