import dataclasses
import functools
import os

# The workflow's one library import at parse time: light (no torch, scipy or pandas).
from sirenpipe.pipeline.config import (
    CODEC_NAMES,
    VARIANTS,
    VERSION,
    allocator_env,
    catalogue,
    fit_groups,
    fit_owners,
    one_of,
    resolve_ablation,
)

# Fit jobs start under tcmalloc when it is installed (faster full-batch fits on CPU; docs/performance.md).
os.environ.update(allocator_env())

DURATION = config["clip"]["duration"]
PROBE_CACHE = ".snakemake/sirenpipe/probe-cache.json"
CLIP_SAMPLES = round(DURATION * config["clip"]["sample_rate"])
ABLATIONS = {
    a["name"]: resolve_ablation(
        a, config.get("defaults", {}), CLIP_SAMPLES, config["clip"]["sample_rate"]
    )
    for a in config["ablations"]
}
# Ablations whose model and fit settings are equal share one fit (the first one's): e.g. the
# same model quantized at several bit widths is fitted once.
FIT_OWNER = fit_owners(ABLATIONS)
# Clips per dataset, found and loaded once at parse time (cached): unusable ones (unreadable,
# silent, NaN) are kept aside as failures, so that one broken file is named in the tables
# instead of stopping the run.
CLIPS, FAILED = catalogue(
    config["datasets"], config["clip"]["sample_rate"], DURATION, PROBE_CACHE
)


wildcard_constraints:
    dataset="[A-Za-z0-9_-]+",
    ablation="[A-Za-z0-9_.-]+",
    clip="[A-Za-z0-9_.-]+",
    variant=one_of(VARIANTS),
    codec=one_of(CODEC_NAMES),


def source_of(wildcards):
    return CLIPS[wildcards.dataset][wildcards.clip]


def kind_of(wildcards):
    return source_of(wildcards).kind


def ablation_params(stage):
    """The slice of an ablation's settings that a stage depends on, plus the library version:
    Snakemake reruns a job exactly when its params change."""
    keys = {
        "fit": ("model", "fit", "fit_quant", "fit_target"),
        "quantize": ("preset", "quant", "target_kbps", "alpha"),
        "decode": ("alpha",),
        "score": ("name", "preset", "variants", "curve", "target_kbps"),
    }[stage]

    def params(wildcards):
        ablation = ABLATIONS[wildcards.ablation]
        # keys a family's ablations lack (fit_target: a fit that aims at the rate) stay out
        present = {key: ablation[key] for key in keys if key in ablation}
        return {**present, "version": VERSION}

    return params


def ablations_matching(batched):
    """A wildcard constraint matching exactly the ablations that own their fit (FIT_OWNER) and
    whose clips are fitted together (batched=True: rules fit_clips + split_fit) or one at a
    time (rule fit)."""
    return one_of(
        n
        for n, a in ABLATIONS.items()
        if FIT_OWNER[n] == n and (a["clips_per_fit"] > 1) == batched
    )


def fit_of(extension):
    """Input function: the checkpoint ("pt") or history ("json") of the fit an ablation uses."""

    def path(wildcards):
        owner = FIT_OWNER[wildcards.ablation]
        return f"results/{wildcards.dataset}/{owner}/fit/{wildcards.clip}.{extension}"

    return path


@functools.cache  # input functions call it once per job: sort each dataset once
def fit_batches(dataset, ablation):
    """A batched ablation's clip groups (in the dataset's selection order) and each clip's group."""
    seed = config["datasets"][dataset].get("seed", 0)
    return fit_groups(CLIPS[dataset], seed, ABLATIONS[ablation]["clips_per_fit"])


def batch_members(wildcards):
    groups, _ = fit_batches(wildcards.dataset, wildcards.ablation)
    return groups[int(wildcards.batch)]


def batch_wavs(wildcards):
    d = wildcards.dataset
    return [f"results/{d}/clips/{c}.wav" for c in batch_members(wildcards)]


def batch_of_clip(wildcards):
    d, a = wildcards.dataset, wildcards.ablation
    _, index = fit_batches(d, a)
    return f"results/{d}/{a}/fit-batches/{index[wildcards.clip]}.pt"


def needs_gpu(wildcards):
    return int(ABLATIONS[wildcards.ablation]["fit"]["device"].startswith("cuda"))


def decoded_wavs(wildcards):
    variants = ABLATIONS[wildcards.ablation]["variants"]
    return {
        v: f"results/{wildcards.dataset}/{wildcards.ablation}/decoded/{v}/{wildcards.clip}.wav"
        for v in variants
    }


def score_files(wildcards=None):
    """Every per-clip table: INR ablations, then classical codec baselines."""
    inr = [
        f"results/{d}/{a}/scores/{c}.parquet"
        for d, clips in CLIPS.items()
        for a in ABLATIONS
        for c in clips
    ]
    codecs = config.get("baselines", {})
    return inr + [
        f"results/{d}/baselines/{k}/{c}.parquet"
        for d, clips in CLIPS.items()
        for k in codecs
        for c in clips
    ]


def fits():
    """(dataset, ablation, clip) of every fit (ablations sharing a fit: its owner's only)."""
    owners = [a for a in ABLATIONS if FIT_OWNER[a] == a]
    return [(d, a, c) for d, clips in CLIPS.items() for a in owners for c in clips]


def fit_histories(wildcards=None):
    return [f"results/{d}/{a}/fit/{c}.json" for d, a, c in fits()]


def history_labels():
    """The run each of fit_histories() belongs to: the loss curves average each label's fits."""
    return [f"{d} / {a}" for d, a, c in fits()]


def spectrogram_clips(dataset):
    return sorted(CLIPS[dataset])[
        : config.get("figures", {}).get("spectrogram_clips", 1)
    ]


def spectrogram_inputs(wildcards):
    d, c = wildcards.dataset, wildcards.clip
    files = {"reference": f"results/{d}/clips/{c}.wav"}
    for name, ablation in ABLATIONS.items():
        for v in ablation["variants"]:
            files[f"{name} / {v}"] = f"results/{d}/{name}/decoded/{v}/{c}.wav"
    return files


def clip_metadata_files(wildcards=None):
    return [f"results/{d}/clips/{c}.json" for d, clips in CLIPS.items() for c in clips]


def paper_files():
    """The comparison with the paper and RESULTS.md, when the config asks for them."""
    if not config.get("paper_comparison", False):
        return []
    return ["results/tables/paper_comparison.md", "results/RESULTS.md"]


def rate_distortion_files():
    """The BD-rate table and rate control's model, when the config has a rate_distortion section."""
    if "rate_distortion" not in config:
        return []
    return [
        "results/tables/bd_rate.md",
        "results/tables/rate_model.json",
        "results/RATE_DISTORTION.md",
    ]


def figure_files():
    files = ["results/figures/metric_bars.png", "results/figures/loss_curves.png"]
    files += [f"results/figures/rate_quality_{m}.png" for m in config["metrics"]]
    files += [
        f"results/figures/spectrograms/{d}/{c}.png"
        for d in CLIPS
        for c in spectrogram_clips(d)
    ]
    return files
