"""The encoder's front door, for the CLI and the workflow alike: a clip to .sirn bytes through its
model family (sirenpipe.families: fit, freeze, serialize), the stream naming the decoder variant
measured closest to the clip. Decoding is the decoder's (sirenpipe.decoder.decode)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..codec.variants import DEFAULT_ALPHA
from ..families import Encoded, family_of, get_family
from ..models import model_config
from .choice import choose_variant
from .ratecontrol import RatePlan, plan_rate
from .rate_model import RateModel

if TYPE_CHECKING:
    from ..audio import Clip

__all__ = ["Encoded", "encode_at_rate", "encode_clip", "encode_fitted", "encode_plan", "settings_of"]


def settings_of(family, fit_config=None, stream_config=None, fit_overrides: dict | None = None):
    """(fit settings, stream settings) of a family from what a caller gave: None (the family's
    defaults), a dict of settings, or the family's own settings object; fit_overrides on top."""
    if fit_config is None or isinstance(fit_config, dict):
        fit = family.fit_config({**(fit_config or {}), **(fit_overrides or {})})
    else:
        family.check_fit_config(fit_config)
        fit = family.fit_config({**fit_config.to_dict(), **(fit_overrides or {})}) if fit_overrides else fit_config
    if stream_config is None or isinstance(stream_config, dict):
        stream = family.stream_config(stream_config or {})
    elif not family.stream_options:
        raise ValueError(f"the {family.label} family takes no stream settings, got {type(stream_config).__name__}")
    else:
        stream = stream_config
    return fit, stream


def encode_clip(
    clip: Clip,
    preset: str | None = "siamese-siren",
    model=None,
    fit_config=None,
    stream_config=None,
    progress: bool = True,
    budget_bytes: int | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> Encoded:
    """Fit a model (a preset, or an explicit config of any family) to the clip and encode it with
    its family. fit_config and stream_config: the family's settings objects (the SIREN's
    FitConfig and QuantConfig, the latent grid's LatentFitConfig and none), dicts of settings, or
    None for the family's defaults. With a byte budget, the stream fits it (the SIREN re-quantizes
    at fewer bits, the latent grid aims its rate there and refits). `alpha` is the noise-estimate
    amplitude the stream's decoder variant is chosen at."""
    config = model if model is not None else model_config(preset)
    family = family_of(config)
    fit, stream = settings_of(family, fit_config, stream_config)
    return family.encode(clip, config, fit, stream, budget_bytes=budget_bytes, preset=preset if model is None else None,
                         choose=lambda data, c: choose_variant(data, c, alpha), progress=progress)


def encode_at_rate(clip: Clip, target_kbps: float, preset: str | None = None, fit_config=None, progress: bool = True,
                   rate_model: RateModel | None = None, alpha: float = DEFAULT_ALPHA, loss: str | None = None,
                   family: str | None = None) -> Encoded:
    """Encode at or below target_kbps for this clip: rate control's plan (ratecontrol.plan_rate,
    from `rate_model`, default the packaged one) chooses the family, the model and the recipe,
    among the families the preset, `family` or the fit settings allow, and among the recipes of
    `loss` if given (or the fit settings' loss, when they are a dict that names one); the fit
    settings' own steps, seed and the like are kept."""
    if loss is None and isinstance(fit_config, dict):
        loss = fit_config.get("loss")
    plan = plan_rate(target_kbps, len(clip.samples), clip.sample_rate, preset, rate_model, loss, family, fit_config)
    return encode_plan(clip, plan, fit_config, progress, alpha)


def encode_plan(clip: Clip, plan: RatePlan, fit_config=None, progress: bool = True, alpha: float = DEFAULT_ALPHA) -> Encoded:
    """Encode with rate control's plan (encode_at_rate): its family, model and recipe over the fit
    settings given, within its budget."""
    chosen = get_family(plan.family)
    fit, stream = settings_of(chosen, fit_config, plan.recipe.stream_settings(), plan.recipe.fit_settings())
    encoded = chosen.encode(clip, plan.model, fit, stream, budget_bytes=plan.budget_bytes, preset=plan.preset,
                            choose=lambda data, c: choose_variant(data, c, alpha), progress=progress)
    encoded.plan = plan
    return encoded


def encode_fitted(result, clip: Clip, stream_config=None, budget_bytes: int | None = None, preset: str | None = None,
                  alpha: float = DEFAULT_ALPHA) -> Encoded:
    """The stream of a fit made earlier (the workflow's quantize stage): frozen within the budget
    by its family, naming the decoder variant measured closest to the clip at `alpha`."""
    family = family_of(result.model.config)
    _, stream = settings_of(family, result.config, stream_config)
    return family.encode_fitted(result, clip, stream, budget_bytes=budget_bytes, preset=preset,
                                choose=lambda data, c: choose_variant(data, c, alpha))
