"""Fuzzing the version-4 (latent-grid) decoder as test_bitstream_fuzz.py does versions 1-3: every
mutated input ends in BitstreamError, quickly, without allocating more than its size justifies.

Edits whose CRC is recomputed may form a well-formed stream of another model: a header with other
valid values, other network integers, other range-coder words (a range coder decodes any words to
some latents). Those must decode to the header that was written and are counted as "valid after
re-CRC"; no other mutation may decode."""

from __future__ import annotations

import json
import struct
from collections import Counter

import numpy as np
import pytest
from conftest import VALID_AFTER_RECRC, check_mutation, header_mutation, recrc, speech_like
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sirenpipe.audio import Clip
from sirenpipe.decoder import decompress, read_header
from sirenpipe.encoder.api import encode_clip
from sirenpipe.fit import LatentFitConfig

_x = speech_like(8000, 0.5)
BASE = encode_clip(Clip(_x / np.abs(_x).max(), 8000, 0.5, 8000, 0.5), "lg-xs",
                   fit_config=LatentFitConfig(steps=40, rate_weight=3e-4), progress=False).data
assert BASE[4] == 4 and b'"family":"latent_grid"' in BASE
HEADER_END = read_header(BASE)[1]
HEADER = json.loads(BASE[9:HEADER_END])
_SIZES = decompress(BASE).payload.sizes
NETWORK_END = HEADER_END + _SIZES["arm"] + _SIZES["synthesis"]
OUTCOMES: Counter = Counter()
RECRC_KINDS = ("header_field", "header_bytes", "network_recrc", "words_recrc")


def with_header(header: dict, payload: bytes = BASE[HEADER_END:-4]) -> bytes:
    raw = json.dumps(header).encode()
    return recrc(BASE[:5] + struct.pack("<I", len(raw)) + raw + payload)


def written_header(raw: bytes):
    """The header a mutation wrote, in the decoder's canonical form; None where it is not one."""
    try:
        d = json.loads(raw.decode("utf-8"))
        fields = {k: d[k] for k in ("model", "sample_rate", "num_samples", "peak_scale")}
        extra = {k: d[k] for k in ("preset", "variant", "family") if d.get(k) is not None}
        return json.dumps({**fields, **extra, "preset": d.get("preset")}, sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


absurd = st.one_of(st.integers(-(2**63), 2**63), st.integers(-3, 70), st.floats(allow_nan=True), st.text(max_size=5),
                   st.none(), st.lists(st.integers(-5, 100), max_size=12), st.booleans())
paths = [("model", f) for f in HEADER["model"]] + [("sample_rate",), ("num_samples",), ("peak_scale",), ("preset",),
                                                    ("variant",), ("quant",), ("family",)]


@st.composite
def mutated(draw):
    kind = draw(st.sampled_from(["truncate", "bitflip", "version", "header_field", "header_bytes", "network_recrc",
                                 "words_recrc", "payload_recrc", "random", "append"]))
    data = bytearray(BASE)
    if kind in ("header_field", "header_bytes"):
        data, raw = header_mutation(draw, kind, BASE, HEADER_END, paths, absurd)
        return kind, data, written_header(raw)
    if kind in ("network_recrc", "words_recrc"):
        low, high = (HEADER_END, NETWORK_END - 1) if kind == "network_recrc" else (NETWORK_END, len(BASE) - 5)
        for _ in range(draw(st.integers(1, 3))):
            data[draw(st.integers(low, high))] ^= draw(st.integers(1, 255))
        return kind, recrc(bytes(data[:-4])), written_header(BASE[9:HEADER_END])
    if kind == "truncate":
        return kind, bytes(data[: draw(st.integers(0, len(data) - 1))]), None
    if kind == "bitflip":
        for bit in draw(st.sets(st.integers(0, 8 * len(data) - 1), min_size=1, max_size=4)):
            data[bit // 8] ^= 1 << (bit % 8)
        return kind, bytes(data), None
    if kind == "version":
        return kind, recrc(bytes(data[:4]) + bytes([draw(st.integers(0, 255).filter(lambda v: v != 4))]) + bytes(data[5:-4])), None
    if kind == "payload_recrc":
        payload = bytearray(BASE[HEADER_END:-4])
        cut = draw(st.integers(-len(payload), 64))
        payload = payload[:cut] if cut < 0 else payload + bytes(cut or 1)
        return kind, with_header(HEADER, bytes(payload)), None
    if kind == "append":
        return kind, BASE + draw(st.binary(min_size=1, max_size=64)), None
    return kind, draw(st.binary(max_size=512)), None


@settings(max_examples=10_000, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_every_v4_mutation_is_a_bitstream_error(case):
    kind, data, expected_header = case
    check_mutation(decompress, kind, data, expected_header, RECRC_KINDS, OUTCOMES)


def test_v4_fuzz_tried_at_least_10000_inputs_of_every_kind():
    total = sum(OUTCOMES.values())
    if total == 0:
        pytest.skip("run together with test_every_v4_mutation_is_a_bitstream_error")
    print("\nversion 4 fuzzing:", *(f"{k:14s} {o:50s} {n}" for (k, o), n in sorted(OUTCOMES.items())), sep="\n  ")
    assert total >= 10_000
    kinds = Counter()
    for (kind, _), n in OUTCOMES.items():
        kinds[kind] += n
    assert len(kinds) == 10 and min(kinds.values()) > 100
    errors = sum(n for (kind, outcome), n in OUTCOMES.items() if outcome != VALID_AFTER_RECRC)
    assert errors > 0.6 * total
