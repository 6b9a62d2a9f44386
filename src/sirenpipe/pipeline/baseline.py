"""Stage `baseline`: a classical codec (baselines.CODECS) at several compression levels on a
prepared clip: real byte sizes, the same metric code as the INR rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import soundfile as sf

from ..baselines import code
from ..atomic import write_parquet
from .io import read_json
from .rows import baseline_setup, baseline_variant, layout, source_columns
from .score import score_signal


def baseline_clip(*, dataset: str, kind: str, clip_json, clip_wav, codec: str, levels: list[float], metrics: list[str],
                  out_parquet) -> None:
    meta = read_json(clip_json)
    ref, rate = sf.read(clip_wav, dtype="float64")
    peak = float(np.max(np.abs(ref)))
    rows = []
    for level in levels:
        coded = code(ref / peak, rate, codec, level)
        setup = baseline_setup(codec, level, coded.num_bytes, rate, coded.codec_rate, len(ref))
        label = f"{codec} level {level:g} ({setup['kbps']:.1f} kbps)"
        rows.append(layout(dataset=dataset, clip=meta["clip_id"], kind=kind, ablation=codec, setup=setup,
                           source=source_columns(meta), variant=baseline_variant(level),
                           metrics=score_signal(ref, coded.decoded * peak, rate, kind, metrics, label)))
    write_parquet(pd.DataFrame(rows), out_parquet)
