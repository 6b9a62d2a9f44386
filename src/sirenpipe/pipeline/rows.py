"""The one layout of a row of the score tables (``results/*/…/*.parquet``, ``scores.parquet``).

Every row, whether an INR codec's decoded clip, a classical codec's level or a clip that could not
be used, is laid out the same way:

    identity (dataset, clip, kind[, ablation]) · status, error · setup · source · variant · metrics

- setup: what was run (preset, architecture, sizes, fit settings; ``setup_columns`` of each kind);
- source: the clip's provenance (``source_columns``) and the library version;
- metrics: value, mode and reason of each metric (``metric_columns``).

A row of a kind leaves out the groups it has nothing for (a failed clip has no ablation, setup,
variant or metrics); Parquet stores the missing cells as null once the tables are combined.
"""

from __future__ import annotations

from .. import __version__
from ..families import get_family


def layout(*, dataset: str, clip: str, kind: str, ablation: str | None = None, status: str = "ok",
           error: str | None = None, setup: dict | None = None, source: dict, variant: str | None = None,
           metrics: dict | None = None) -> dict:
    """One row in the table's column order. `ablation` and `variant` are left out when None."""
    row = {"dataset": dataset, "clip": clip, "kind": kind}
    if ablation is not None:
        row["ablation"] = ablation
    row.update({"status": status, "error": error, **(setup or {}), **source})
    if variant is not None:
        row["variant"] = variant
    return {**row, **(metrics or {})}


def source_columns(meta: dict) -> dict:
    """Provenance of a prepared clip (its metadata JSON) and the library version."""
    return {"source": meta["source"], "offset_s": meta["offset"], "license": meta["license"],
            "library_version": __version__}


def metric_columns(results: dict) -> dict:
    """{name: value, name_mode: mode, name_reason: reason} of each MetricResult."""
    columns = {}
    for name, r in results.items():
        columns.update({name: r.value, f"{name}_mode": r.mode, f"{name}_reason": r.reason})
    return columns


def inr_setup(ablation: dict, stream, sizes, history: dict) -> dict:
    """What an ablation of a model family ran: the model and its real size, then what its family
    says of its stream and fit (ModelFamily.setup_columns), then the fit's seed, time and device."""
    h = stream.header
    return {
        "preset": ablation["preset"], "curve": ablation.get("curve"), "target_kbps": ablation.get("target_kbps"),
        "family": stream.family, "arch": h.model.arch, "params": sizes.parameters, "bytes": sizes.bytes,
        "kbps": sizes.kbps, **get_family(stream.family).setup_columns(stream, history),
        "seed": history["seed"], "fit_seconds": history["seconds"], "fit_clips_together": history.get("clips_together", 1),
        "device": history["device"], "final_loss": history["final_loss"], "sample_rate": h.sample_rate,
        "duration_s": h.duration,
    }


def baseline_setup(codec: str, level: float, num_bytes: int, rate: int, codec_rate: int, num_samples: int) -> dict:
    """What a classical codec ran: its level, the real encoded size and the rates."""
    duration = num_samples / rate
    return {"preset": f"{codec}-{level:g}", "arch": codec, "bytes": num_bytes, "kbps": num_bytes * 8 / duration / 1000,
            "sample_rate": rate, "codec_rate": codec_rate, "duration_s": duration}


def baseline_variant(level: float) -> str:
    """A codec's rows are told apart by level, in the variant column."""
    return f"level {level:g}"


def failure_row(failure: dict) -> dict:
    """A clip that could not be used (found at workflow parse time: config.catalogue)."""
    return layout(dataset=failure["dataset"], clip=failure["clip_id"], kind=failure["kind"], status="failed",
                  error=failure["error"], source={"source": failure["source"], "library_version": __version__})
