"""Pairing a reference with a degraded signal for scoring."""

from __future__ import annotations

import sys

import numpy as np

from .audio import read_audio, resample, to_mono


def load_pair(ref_path: str, deg_path: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Both files as mono float at the reference's rate, at their stored levels.

    Lengths are cropped to the shorter one (a decoded clip usually covers only the encoded
    --duration of a longer original); a crop of more than 1% is reported on stderr.
    """
    ref_data, rate = read_audio(ref_path)
    deg_data, deg_rate = read_audio(deg_path)
    ref = to_mono(ref_data)
    deg = resample(to_mono(deg_data), deg_rate, rate)
    n = min(len(ref), len(deg))
    if abs(len(ref) - len(deg)) > 0.01 * max(len(ref), len(deg)):
        print(f"note: scoring the first {n / rate:.2f} s (reference {len(ref) / rate:.2f} s, degraded {len(deg) / rate:.2f} s)", file=sys.stderr)
    return ref[:n].astype(np.float64), deg[:n].astype(np.float64), rate
