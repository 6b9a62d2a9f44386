"""What the workflow needs at parse time: resolved ablations, the clip catalogue, the vocabularies.

This is the only sirenpipe module ``workflow/rules/common.smk`` imports. Every ``snakemake``
invocation (``-n`` included, and each cluster job's own parse) imports it, so it must stay light:
no torch, scipy or pandas (``tests/test_pipeline.py`` checks this in a fresh interpreter).
"""

from __future__ import annotations

import glob
import re
import sys

from .. import __version__ as VERSION
from ..allocator import allocator_env
from ..baselines import CODECS
from ..codec.variants import DEFAULT_ALPHA, VARIANTS, allowed_variants, default_variant
from ..datasets import ClipSource, discover, probe_all, selection_rank
from ..encoder.ratecontrol import plan_rate
from ..errors import SirenpipeError
from ..families import FAMILIES, family_of_preset
from ..families.siren import auto_clips_per_fit
from ..models.config import model_config

__all__ = [
    "CODEC_NAMES",
    "FAMILY_NAMES",
    "VARIANTS",
    "VERSION",
    "ClipSource",
    "active_datasets",
    "allocator_env",
    "auto_clips_per_fit",
    "catalogue",
    "fit_groups",
    "fit_owners",
    "one_of",
    "resolve_ablation",
    "selection_rank",
]

CODEC_NAMES: tuple[str, ...] = tuple(CODECS)  # the classical codec baselines (baselines.py)
FAMILY_NAMES: tuple[str, ...] = tuple(FAMILIES)  # the model families (sirenpipe.families)


def one_of(names) -> str:
    """A wildcard constraint matching exactly these names (nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def resolve_ablation(ablation: dict, defaults: dict, clip_samples: int | None = None,
                     sample_rate: int | None = None) -> dict:
    """An ablation with its family's defaults (defaults[family]) filled in and its model config
    resolved: everything a job needs, and exactly what its params (and so its rerun trigger)
    contain. Any setting its family does not take is a one-line error naming the ablation.

    clips_per_fit (a workflow setting, not the fit's) is resolved here: "auto" batches short
    clips on GPUs only, in families that can (see auto_clips_per_fit); clip_samples is the clips'
    length. An ablation with target_kbps gets what rate control chooses (the SIREN's widths,
    quantization and recipe; the latent grid's objective weight) from its plan for clips of
    clip_samples at sample_rate (encoder.ratecontrol.plan_rate), and a family whose fit aims at the
    rate (the latent grid) gets the target in its fit's params.
    """
    name = ablation["name"]
    try:
        family = family_of_preset(ablation["preset"])
    except KeyError as exc:
        raise ValueError(f"ablation {name}: {exc.args[0]}") from None
    own = defaults.get(family.name, {})
    fit_settings = {**own.get("fit", {}), **ablation.get("fit", {})}
    stream_settings = {**own.get("quant", {}), **ablation.get("quant", {})}
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in ablation.get("model", {}).items()}
    target = ablation.get("target_kbps")
    if target is not None:
        plan = _rate_plan(ablation, target, clip_samples, sample_rate, family, fit_settings.get("loss"))
        fit_settings.update(plan.recipe.fit_settings())
        stream_settings = plan.recipe.stream_settings() or {}
        overrides.update({k: getattr(plan.model, k) for k in family.rate_controlled.get("model", ())})
    together = fit_settings.pop("clips_per_fit", "auto")
    try:
        fit_config = family.fit_config(fit_settings)
        stream = family.stream_config(stream_settings)
        model = model_config(ablation["preset"], **overrides).to_dict()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"ablation {name}: {exc}") from None
    if together == "auto":
        together = family.auto_clips_per_fit(fit_config, clip_samples)
    elif together != 1 and not family.batches_clips:
        raise ValueError(f"ablation {name}: the {family.label} family fits one clip at a time (clips_per_fit: 1 or auto)")
    variants = list(ablation.get("variants") or [default_variant(model["num_heads"])])
    allowed = allowed_variants(model["num_heads"])
    refused = [v for v in variants if v not in allowed]
    if refused:
        raise ValueError(f"ablation {name}: decoder variant(s) {', '.join(refused)} need two heads; "
                         f"this model allows: {', '.join(allowed)}")
    quant = None if stream is None else stream.to_dict()
    resolved = {
        "name": name,
        "preset": ablation["preset"],
        "model": model,
        "fit": fit_config.to_dict(),
        "clips_per_fit": int(together),
        "quant": quant,
        # the stream settings a quantization- or rate-aware fit trains with (None: the fit never
        # sees them, so a quant-only edit re-quantizes without refitting)
        "fit_quant": quant if family.fit_sees_stream(fit_config) else None,
        "variants": variants,
        "alpha": float(ablation.get("alpha", DEFAULT_ALPHA)),
        "target_kbps": None if target is None else float(target),
        "curve": ablation.get("curve"),
    }
    if target is not None and family.fits_to_rate:  # the stream the fit aims at: its bitrate and header's preset
        resolved["fit_target"] = {"kbps": float(target), "preset": ablation["preset"]}
    return resolved


def _rate_plan(ablation: dict, target, clip_samples: int | None, sample_rate: int | None, family, loss: str | None):
    """Rate control's plan for the ablation's preset; a fit.loss (its own or the defaults')
    restricts it to that objective's recipes."""
    name = ablation["name"]
    clash = [f"{group}.{key}" for group, keys in family.rate_controlled.items() for key in keys
             if key in ablation.get(group, {})]
    if clash:
        raise ValueError(f"ablation {name}: target_kbps chooses {', '.join(clash)} itself; drop them")
    if not clip_samples or not sample_rate:
        raise ValueError(f"ablation {name}: target_kbps needs the clips' length and sample rate")
    try:
        return plan_rate(target, clip_samples, sample_rate, ablation["preset"], loss=loss)
    except SirenpipeError as exc:
        raise ValueError(f"ablation {name}: {exc}") from None


def fit_owners(ablations: dict) -> dict[str, str]:
    """{ablation: the ablation whose fit it uses}: the first (in config order) with the same
    model, fit settings, fitting quantizer, rate target and batching; itself when it is the first."""
    owners, first = {}, {}
    for name, a in ablations.items():
        key = repr((a["model"], a["fit"], a["fit_quant"], a.get("fit_target"), a["clips_per_fit"]))
        owners[name] = first.setdefault(key, name)
    return owners


def active_datasets(datasets: dict) -> dict:
    """The configured datasets less optional ones that are absent and fallbacks not needed."""
    present = {}
    for name, spec in datasets.items():
        location = spec.get("root") or spec.get("glob")
        if spec.get("optional") and not (location and glob.glob(location)):
            print(f"note: dataset {name}: {location} not found; skipped", file=sys.stderr)
            continue
        present[name] = spec
    return {n: s for n, s in present.items() if s.get("unless") not in present}


def catalogue(datasets: dict, sample_rate: int, duration: float, probe_cache) -> tuple[dict, list]:
    """Clips per active dataset ({dataset: {clip_id: ClipSource}}), each found and loaded once
    (results cached in probe_cache), and the unusable ones (unreadable, silent, NaN) as failure
    records, so that one broken file is named in the tables instead of stopping the run."""
    clips, failed = {}, []
    for name, spec in active_datasets(datasets).items():
        clips[name] = {}
        spec = {k: v for k, v in spec.items() if k not in ("optional", "unless")}
        sources = discover(spec, duration)
        reasons = probe_all(sources, sample_rate, duration, probe_cache)
        for source in sources:
            reason = reasons[source.clip_id]
            if reason is None:
                clips[name][source.clip_id] = source
            else:
                failed.append({**source.to_dict(), "dataset": name, "error": reason})
        if len(clips[name]) < spec["clips"]:
            print(f"warning: dataset {name}: {len(clips[name])} usable clips, {spec['clips']} requested",
                  file=sys.stderr)
    return clips, failed


def fit_groups(clip_ids, seed: int, size: int) -> tuple[list[list[str]], dict[str, int]]:
    """Clips in groups of `size` (one batched fit each), in the dataset's selection order
    (raising `clips` adds clips at the end, so earlier groups stay as they are), and each
    clip's group index."""
    ordered = sorted(clip_ids, key=lambda c: selection_rank(seed, c))
    groups = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    return groups, {c: i for i, group in enumerate(groups) for c in group}
