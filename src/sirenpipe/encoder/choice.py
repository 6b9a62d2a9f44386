"""Variant choice: which decoder variant a stream names as its default, measured against the clip."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..codec.variants import DEFAULT_ALPHA, allowed_variants, default_variant, reconstruct
from ..decoder import decompress, synthesize

if TYPE_CHECKING:
    from ..audio import Clip


CHOICE_METRICS = ("pesq", "visqol")  # choose_variant sums them: both are MOS-scale (1 to about 4.5)


def choose_variant(data: bytes, clip: Clip, alpha: float = DEFAULT_ALPHA) -> str:
    """The decoder variant of this stream that scores best against the clip by PESQ-WB plus
    ViSQOL (16 kHz speech mode; on music PESQ sits at its floor for every variant and ViSQOL
    decides), each variant decoded with the noise-estimate amplitude `alpha` it will be decoded
    with; the stream names it as its default. Ties and unscorable clips keep the reference."""
    from ..metrics import score

    stream = decompress(data)
    heads = synthesize(stream, clip.sample_rate)
    reference = default_variant(len(heads))
    signal = clip.samples * np.float32(clip.peak_scale)
    quality = {}
    for v in allowed_variants(len(heads)):
        results = score(ref=signal, est=reconstruct(heads, clip.sample_rate, v, alpha), sample_rate=clip.sample_rate,
                        kind="speech", metrics=list(CHOICE_METRICS))
        if all(r.value is not None for r in results.values()):
            quality[v] = sum(r.value for r in results.values())
    if reference in quality:
        quality[reference] += 1e-9  # a tie keeps the reference
    return max(quality, key=quality.get) if quality else reference


