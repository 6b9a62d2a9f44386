"""Fuzzing the decoder: every mutated .sirn input must end in BitstreamError, quickly, and
without allocating more than the input's size justifies.

One exception is legitimate: a header edited to other *valid* values with its CRC recomputed
(say omega 100 -> 1, or a digit of the sample count) is a well-formed stream of another model. Those must decode consistently
(the decoded header is the edited one: compared with the header JSON the mutation wrote, never
with the decoder's own parse) and are counted as "valid after re-CRC"."""

from __future__ import annotations

import json
import struct
from collections import Counter

import pytest
from conftest import VALID_AFTER_RECRC, check_mutation, header_mutation, recrc
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sirenpipe.codec import QuantConfig, compress
from sirenpipe.decoder import decompress, read_header
from sirenpipe.models import INR, model_config

torch.manual_seed(0)
_MODEL = INR(model_config("siamese-siren", shared=(24,), head_widths=(24,), pe_frequencies=4))
with torch.no_grad():  # a peaked weight distribution, so that the stream holds every kind of tensor record
    _MODEL.trunk[0].linear.weight.mul_(torch.randn_like(_MODEL.trunk[0].linear.weight).abs() ** 3)
# the newest format: version 3, the input layer at its own bit width
BASE = compress(_MODEL, sample_rate=16000, num_samples=16000, peak_scale=0.5, quant=QuantConfig(3, True, first_layer_bits=4))
assert BASE[4] == 3 and {t.coding for t in decompress(BASE).payload.tensors} == {"fixed", "laplace", "histogram", "float"}
HEADER_END = read_header(BASE)[1]
OUTCOMES: Counter = Counter()  # reported by conftest's terminal summary
STARTED = [0]  # inputs handed to the decoder; conftest claims "no other outcome" only if all were counted


def with_header(header: dict, payload: bytes = BASE[HEADER_END:-4]) -> bytes:
    raw = json.dumps(header).encode()
    return recrc(BASE[:5] + struct.pack("<I", len(raw)) + raw + payload)


def written_header(raw: bytes):
    """The header a mutation wrote, in the decoder's canonical form (known fields, sorted, compact),
    built from the written JSON alone; None where it is not even a JSON object."""
    try:
        d = json.loads(raw.decode("utf-8"))
        fields = {k: d[k] for k in ("model", "sample_rate", "num_samples", "peak_scale", "quant")}
        return json.dumps({**fields, "preset": d.get("preset")}, sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


HEADER = json.loads(BASE[9:HEADER_END])
absurd = st.one_of(st.integers(-(2**63), 2**63), st.floats(allow_nan=True), st.text(max_size=5), st.none(),
                   st.lists(st.integers(-5, 10**6), max_size=40), st.booleans())
paths = [("model", "shared"), ("model", "head_widths"), ("model", "num_heads"), ("model", "pe_frequencies"),
         ("model", "omega"), ("model", "arch"), ("quant", "bits"), ("quant", "per_channel"), ("quant", "coding"),
         ("quant", "float_bits"), ("quant", "first_layer_bits"), ("sample_rate",),
         ("num_samples",), ("peak_scale",), ("preset",)]


@st.composite
def mutated(draw):
    kind = draw(st.sampled_from(["truncate", "bitflip", "magic", "version", "header_field", "header_bytes",
                                 "payload_recrc", "random", "append"]))
    data = bytearray(BASE)
    if kind in ("header_field", "header_bytes"):
        data, raw = header_mutation(draw, kind, BASE, HEADER_END, paths, absurd)
        return kind, data, written_header(raw)
    return kind, unedited(draw, kind, data), None


def unedited(draw, kind, data):
    """Mutations that do not write a new header: none of them may decode."""
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if kind == "bitflip":
        for bit in draw(st.sets(st.integers(0, 8 * len(data) - 1), min_size=1, max_size=4)):  # distinct bits
            data[bit // 8] ^= 1 << (bit % 8)
        return bytes(data)
    if kind == "magic":
        return recrc(draw(st.binary(min_size=4, max_size=4).filter(lambda b: b != b"SIRN")) + bytes(data[4:-4]))
    if kind == "version":
        return recrc(bytes(data[:4]) + bytes([draw(st.integers(0, 255).filter(lambda v: v != BASE[4]))]) + bytes(data[5:-4]))
    if kind == "payload_recrc":  # valid CRC over a damaged or resized payload
        payload = bytearray(BASE[HEADER_END:-4])
        cut = draw(st.integers(-len(payload), 64))
        payload = payload[:cut] if cut < 0 else payload + bytes(cut or 1)
        return with_header(HEADER, bytes(payload))
    if kind == "append":
        return BASE + draw(st.binary(min_size=1, max_size=64))
    return draw(st.binary(max_size=512))


@settings(max_examples=10_000, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_every_mutation_is_a_bitstream_error(case):
    kind, data, expected_header = case
    STARTED[0] += 1
    check_mutation(decompress, kind, data, expected_header, ("header_field", "header_bytes"), OUTCOMES)


def test_fuzz_tried_at_least_10000_inputs_of_every_kind():
    total = sum(OUTCOMES.values())
    if total == 0:
        pytest.skip("run together with test_every_mutation_is_a_bitstream_error")
    assert total >= 10_000
    kinds = Counter()
    for (kind, _), n in OUTCOMES.items():
        kinds[kind] += n
    assert len(kinds) == 9 and min(kinds.values()) > 100
    valid = sum(n for (kind, outcome), n in OUTCOMES.items() if outcome == VALID_AFTER_RECRC)
    assert valid < 0.5 * (kinds["header_field"] + kinds["header_bytes"])
