"""Stage `decode`: a `.sirn` bitstream -> one WAV per decoder variant (decoder.decode)."""

from __future__ import annotations

from pathlib import Path

from ..audio import write_wav
from ..decoder import decode


def decode_clip(sirn, variant: str, alpha: float, out_wav) -> None:
    """Decode the stored bitstream (not the training-time model) with one decoder variant, at the
    clip's sample rate."""
    decoded = decode(Path(sirn).read_bytes(), variant=variant, alpha=alpha)
    write_wav(out_wav, decoded.signal, decoded.sample_rate)
