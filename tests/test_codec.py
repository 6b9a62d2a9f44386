import json
import struct
import zlib

import numpy as np
import pytest
import torch

from sirenpipe.codec import QuantConfig, compress, stream_sizes
from sirenpipe.codec.quantize import pack_ints, quantize_weight, unpack_ints
from sirenpipe.decoder import decompress, read_header, synthesize
from sirenpipe.errors import BitstreamError
from sirenpipe.evaluation.paper import paper_style_bytes
from sirenpipe.models import build_model

RATE, N = 22050, 220500


@pytest.fixture(scope="module")
def siamese():
    torch.manual_seed(0)
    return build_model("siamese-siren")


@pytest.fixture(scope="module")
def stream(siamese):
    return compress(siamese, sample_rate=RATE, num_samples=N, peak_scale=0.5, preset="siamese-siren")


def _payload_bytes(model, bits, per_channel=False, float_bits=32):
    """Format version 2 with fixed-length codes: scales, a mode byte and packed codes per weight."""
    total = 0
    for name, p in model.state_dict().items():
        if name.endswith("weight"):
            total += float_bits // 8 * (p.shape[0] if per_channel else 1) + 1 + (p.numel() * bits + 7) // 8
        else:
            total += float_bits // 8 * p.numel()
    return total


def test_int8_siamese_siren_is_about_143_kB_and_sized_from_the_real_bytes(siamese):
    stream = compress(siamese, sample_rate=RATE, num_samples=N, peak_scale=0.5, quant=QuantConfig(8, coding="fixed"))
    header, offset = read_header(stream)
    assert len(stream) == offset + _payload_bytes(siamese, 8) + 4
    assert 142_000 < len(stream) < 144_000
    sizes = stream_sizes(stream, header)
    assert sizes.parameters == 140_546
    assert sizes.kbps == pytest.approx(len(stream) * 8 / 10 / 1000)
    assert paper_style_bytes(siamese, 8) == 294_920  # paper: 303.7 kB incl. its pickle overhead


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("per_channel", [False, True])
def test_roundtrip_error_is_at_most_half_a_step(siamese, bits, per_channel):
    data = compress(siamese, sample_rate=RATE, num_samples=N, peak_scale=1.0, quant=QuantConfig(bits, per_channel, "fixed"))
    assert len(data) == read_header(data)[1] + _payload_bytes(siamese, bits, per_channel) + 4
    decoded = decompress(data).payload.model.state_dict()
    for name, w in siamese.state_dict().items():
        if name.endswith("weight"):
            peak = w.abs().amax(dim=1, keepdim=True) if per_channel else w.abs().max()
            step = peak / (2 ** (bits - 1) - 1)
            assert torch.all((decoded[name] - w).abs() <= step / 2 + 1e-7)
        else:
            assert torch.equal(decoded[name], w)  # biases stay fp32


def test_quantize_is_symmetric_and_uses_the_full_range():
    w = np.array([[-1.0, 0.5, 0.0], [0.25, 1.0, -0.1]], dtype=np.float32)
    codes, scale = quantize_weight(torch.from_numpy(w), QuantConfig(8))
    assert codes.max() == 127 and codes.min() == -127
    assert scale.item() == pytest.approx(1 / 127)
    w[0, 1] = 0.6
    codes, scale = quantize_weight(torch.from_numpy(w), QuantConfig(4, per_channel=True))
    assert codes.tolist() == [[-7, 4, 0], [2, 7, -1]] and scale.flatten().tolist() == pytest.approx([1 / 7, 1 / 7])


@pytest.mark.parametrize("bits", range(2, 9))
def test_bit_packing_roundtrip(bits):
    qmax = 2 ** (bits - 1) - 1
    values = np.random.default_rng(bits).integers(-qmax, qmax + 1, size=1001).astype(np.int8)
    packed = pack_ints(values, bits)
    assert len(packed) == (1001 * bits + 7) // 8
    assert np.array_equal(unpack_ints(packed, 1001, bits), values)


def test_header_roundtrip_and_synthesis_restores_level(stream, siamese):
    decoded = decompress(stream)
    h = decoded.header
    assert (h.sample_rate, h.num_samples, h.peak_scale, h.preset) == (RATE, N, 0.5, "siamese-siren")
    heads = synthesize(decoded)
    assert heads.shape == (2, N)
    with torch.no_grad():
        expected = decoded.payload.model(torch.linspace(-1, 1, N).unsqueeze(-1)).T.numpy() * 0.5
    assert np.allclose(heads, expected, atol=1e-6)
    assert synthesize(decoded, 44100).shape == (2, 2 * N)
    assert synthesize(decoded, 8000).shape == (2, 80000)


def _recrc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def _with_header(stream: bytes, edit) -> bytes:
    _, offset = read_header(stream)
    header = json.loads(stream[9:offset])
    edit(header)
    raw = json.dumps(header).encode()
    return _recrc(stream[:5] + struct.pack("<I", len(raw)) + raw + stream[offset:-4])


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda s: s[:-1], "CRC"),
        (lambda s: s[:100], "CRC"),
        (lambda s: s[:5], "only 5 bytes"),
        (lambda s: b"RIFF" + s[4:], "magic"),
        (lambda s: s[:200] + bytes([s[200] ^ 0x01]) + s[201:], "CRC"),
        (lambda s: _recrc(s[:4] + b"\x09" + s[5:-4]), "version 9"),
        (lambda s: _recrc(s[:5] + struct.pack("<I", 10**6) + s[9:-4]), "header length"),
        (lambda s: _with_header(s, lambda h: h["model"].update(shared=[8192] * 30)), "payload"),
        (lambda s: _with_header(s, lambda h: h.update(num_samples=-5)), "sample count"),
        (lambda s: _with_header(s, lambda h: h["quant"].update(bits=1)), "bits"),
        (lambda s: _with_header(s, lambda h: h["quant"].update(float_bits=16.0)), "float_bits"),  # not an int: slices
        (lambda s: _with_header(s, lambda h: h.update(num_samples=True)), "sample count"),
        (lambda s: _with_header(s, lambda h: h.pop("sample_rate")), "sample_rate"),
        (lambda s: _recrc(s[:9] + b"{not json" + s[18:-4]), "header"),
    ],
)
def test_damaged_or_foreign_bytes_raise_bitstream_error(stream, mutate, message):
    with pytest.raises(BitstreamError, match=message):
        decompress(mutate(stream))


def test_decompress_rejects_non_bytes():
    with pytest.raises(BitstreamError):
        decompress("SIRN")
