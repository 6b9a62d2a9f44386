import dataclasses
import functools
import glob
import os
import re
import sys

import sirenpipe
from sirenpipe.allocator import allocator_env
from sirenpipe.datasets import discover, probe_all, selection_rank
from sirenpipe.stages import resolve_ablation

# Fit jobs start under tcmalloc when it is installed (1.6-1.9x faster full-batch fits on CPU).
os.environ.update(allocator_env())

VERSION = sirenpipe.__version__
DURATION = config["clip"]["duration"]
PROBE_CACHE = ".snakemake/sirenpipe/probe-cache.json"
CLIP_SAMPLES = round(DURATION * config["clip"]["sample_rate"])
ABLATIONS = {
    a["name"]: resolve_ablation(a, config.get("defaults", {}), CLIP_SAMPLES)
    for a in config["ablations"]
}


def kind_of(dataset):
    spec = config["datasets"][dataset]
    return spec.get("kind") or {"librispeech": "speech", "gtzan": "music"}[spec["type"]]


def active_datasets():
    """The configured datasets less optional ones that are absent and fallbacks not needed."""
    present = {}
    for name, spec in config["datasets"].items():
        location = spec.get("root") or spec.get("glob")
        if spec.get("optional") and not (location and glob.glob(location)):
            print(
                f"note: dataset {name}: {location} not found; skipped", file=sys.stderr
            )
            continue
        present[name] = spec
    return {n: s for n, s in present.items() if s.get("unless") not in present}


def _catalogue():
    """Clips per dataset, found and loaded once at parse time (cached): unusable ones (unreadable,
    silent, NaN) are kept aside as failures, so that one broken file is named in the tables
    instead of stopping the run."""
    clips, failed = {}, []
    for name, spec in active_datasets().items():
        clips[name] = {}
        spec = {k: v for k, v in spec.items() if k not in ("optional", "unless")}
        sources = discover(spec, DURATION)
        reasons = probe_all(
            sources, config["clip"]["sample_rate"], DURATION, PROBE_CACHE
        )
        for source in sources:
            reason = reasons[source.clip_id]
            if reason is None:
                clips[name][source.clip_id] = source
            else:
                failed.append(
                    {
                        **source.to_dict(),
                        "dataset": name,
                        "kind": kind_of(name),
                        "error": reason,
                    }
                )
        if len(clips[name]) < spec["clips"]:
            print(
                f"warning: dataset {name}: {len(clips[name])} usable clips, {spec['clips']} requested",
                file=sys.stderr,
            )
    return clips, failed


CLIPS, FAILED = _catalogue()


wildcard_constraints:
    dataset="[A-Za-z0-9_-]+",
    ablation="[A-Za-z0-9_.-]+",
    clip="[A-Za-z0-9_.-]+",
    variant="f0|mean|siamese|blind",
    codec="opus|vorbis|mp3",


def source_of(wildcards):
    return CLIPS[wildcards.dataset][wildcards.clip]


def ablation_params(stage):
    """The slice of an ablation's settings that a stage depends on, plus the library version:
    Snakemake reruns a job exactly when its params change."""
    keys = {
        "fit": ("model", "fit"),
        "quantize": ("preset", "quant"),
        "decode": ("alpha",),
        "score": ("name", "preset"),
    }[stage]

    def params(wildcards):
        ablation = ABLATIONS[wildcards.ablation]
        return {**{key: ablation[key] for key in keys}, "version": VERSION}

    return params


def ablations_matching(batched):
    """A wildcard constraint matching exactly the ablations whose clips are fitted together
    (batched=True: rules fit_clips + split_fit) or one at a time (rule fit)."""
    names = [n for n, a in ABLATIONS.items() if (a["clips_per_fit"] > 1) == batched]
    return "|".join(re.escape(n) for n in names) or "(?!)"


@functools.cache  # input functions call it once per job: sort each dataset once
def fit_batches(dataset, ablation):
    """The clips of a batched ablation in groups of clips_per_fit, in the dataset's selection
    order (raising `clips` adds clips at the end, so earlier groups stay as they are), and
    each clip's group index."""
    seed = config["datasets"][dataset].get("seed", 0)
    clips = sorted(CLIPS[dataset], key=lambda c: selection_rank(seed, c))
    size = ABLATIONS[ablation]["clips_per_fit"]
    groups = [clips[i : i + size] for i in range(0, len(clips), size)]
    return groups, {c: i for i, group in enumerate(groups) for c in group}


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


def fit_histories(wildcards=None):
    return [
        f"results/{d}/{a}/fit/{c}.json"
        for d, clips in CLIPS.items()
        for a in ABLATIONS
        for c in clips
    ]


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
    return ["results/tables/paper_comparison.md", "RESULTS.md"]


def figure_files():
    metrics = [m for m in config["metrics"] if m != "cdpam"]
    files = ["results/figures/metric_bars.png", "results/figures/loss_curves.png"]
    files += [f"results/figures/rate_quality_{m}.png" for m in metrics]
    files += [
        f"results/figures/spectrograms/{d}/{c}.png"
        for d in CLIPS
        for c in spectrogram_clips(d)
    ]
    return files
