"""Stage `score`: one row per decoder variant of a clip × ablation, sizes from the real `.sirn`
file and scores from the decoded WAVs (not the training-time model)."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import soundfile as sf

from ..codec import stream_sizes
from ..decoder import decompress
from ..errors import SirenpipeError
from ..atomic import write_parquet
from .io import read_json
from .rows import inr_setup, layout, metric_columns, source_columns


def score_clip(*, dataset: str, kind: str, clip_json, clip_wav, sirn, fit_history, decoded: dict, ablation: dict,
               metrics: list[str], out_parquet) -> None:
    """decoded: {variant: decoded WAV}; ablation: at least its name and preset."""
    meta, history = read_json(clip_json), read_json(fit_history)
    data = Path(sirn).read_bytes()
    stream = decompress(data)
    setup = inr_setup(ablation, stream, stream_sizes(data, stream.header), history)
    ref, rate = sf.read(clip_wav, dtype="float64")
    rows = []
    for variant, wav in decoded.items():
        est, est_rate = sf.read(wav, dtype="float64")
        if est_rate != rate:
            raise SirenpipeError(f"{wav}: decoded at {est_rate} Hz, the clip is {rate} Hz")
        rows.append(layout(dataset=dataset, clip=meta["clip_id"], kind=kind, ablation=ablation["name"], setup=setup,
                           source=source_columns(meta), variant=variant,
                           metrics=score_signal(ref, est, rate, kind, metrics, variant)))
    write_parquet(pd.DataFrame(rows), out_parquet)


def score_signal(ref, est, rate: int, kind: str, metrics: list[str], label: str) -> dict:
    """Metric columns (value, mode, reason) of one decoded signal, logged with `label`."""
    from ..metrics import score

    start = time.perf_counter()
    results = score(ref=ref, est=est, sample_rate=rate, kind=kind, metrics=metrics)
    print(f"score {label}: " + ", ".join(f"{n}={r.value}" for n, r in results.items())
          + f" ({time.perf_counter() - start:.1f} s)")
    return metric_columns(results)
