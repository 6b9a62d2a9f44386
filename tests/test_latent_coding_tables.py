"""The latent codec's integer Laplace tables (laplace_table) and exp-Golomb codes (expgolomb)."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from sirenpipe.codec import expgolomb as eg
from sirenpipe.codec import laplace_table as lt
from sirenpipe.errors import BitstreamError

# SHA-256 of tails().tobytes(). The encoder and the decoder must build the same table bit for bit:
# if this changes, streams written by one version would be decoded wrongly by another.
TAILS_SHA256 = "3d57773c481380332d2343c8eb74a93e5e7da2cb9fc726db75eb0ab9d75d632c"


def _laplace_probs(lo: int, hi: int, mu: float, b: float) -> np.ndarray:
    """Float reference: Laplace(mu, b) mass of each bin [v - 1/2, v + 1/2], tails in the end bins."""

    def cdf(x: float) -> float:
        return 0.5 * math.exp((x - mu) / b) if x < mu else 1.0 - 0.5 * math.exp(-(x - mu) / b)

    edges = [0.0] + [cdf(v + 0.5) for v in range(lo, hi)] + [1.0]
    return np.diff(edges)


def _random_parameters(rng, p: int):
    return (
        rng.integers(lt.M_MIN, lt.M_MAX + 1, p),
        rng.integers(lt.F_MIN, lt.F_MAX + 1, p),
        rng.integers(0, lt.NUM_SCALES, p),
    )


# --- laplace_table ---------------------------------------------------------------------------
def test_tails_are_pinned():
    table = lt.tails()
    assert table.shape == (lt.NUM_SCALES, lt.MAX_EDGE + 2) and table.dtype == np.int64
    assert hashlib.sha256(table.tobytes()).hexdigest() == TAILS_SHA256


def test_tail_matches_the_exponential():
    for s in (0, 7, 40, 63, 80):
        t = lt.tail(s)
        assert t[0] == lt.HALF
        assert np.all(np.diff(t) <= 0) and np.all(t >= 0)
        b = math.exp(s / 8 - 5)
        reference = np.array([lt.HALF * math.exp(-k / (16 * b)) for k in range(lt.MAX_EDGE + 2)])
        assert np.max(np.abs(t - reference)) <= 0.5 + 1e-3
    assert lt.tail(0)[3] == 0 and lt.tail(80)[-1] > 0  # tiny scales die at once, wide ones never
    with pytest.raises(ValueError):
        lt.tail(81)


def test_masses_floor_and_totals():
    rng = np.random.default_rng(0)
    m, f, s = _random_parameters(rng, 500)
    for lo, hi in ((-64, 63), (-3, 4), (0, 1), (-10, 10)):
        table = lt.masses(lo, hi, m, f, s)
        assert table.shape == (500, hi - lo + 1) and table.dtype == np.int64
        assert table.min() >= lt.FLOOR
        assert np.all(table.sum(axis=1) == lt.row_total(lo, hi))
    extreme = lt.masses(-64, 63, [-64, 63, 0], [-8, 7, 0], [0, 0, 0])  # all mass in one bin
    assert extreme.min() == lt.FLOOR
    assert extreme[0, 0] > lt.ONE // 2 and extreme[1, -1] > lt.ONE // 2


@pytest.mark.parametrize(
    "lo, hi, m, f, s",
    [(-8, 8, 0, 0, 40), (-8, 8, 1, -8, 30), (-20, 15, -3, 5, 56), (-64, 63, 10, -3, 80), (-2, 5, 2, 7, 12)],
)
def test_masses_match_a_float_laplace(lo, hi, m, f, s):
    row = lt.masses(lo, hi, [m], [f], [s])[0]
    n = hi - lo + 1
    expected = (_laplace_probs(lo, hi, m + f / 16, math.exp(s / 8 - 5)) * lt.ONE + lt.FLOOR) / (lt.ONE + n * lt.FLOOR)
    assert np.max(np.abs(row / row.sum() - expected)) < 1e-6


def test_mode_is_at_the_rounded_mean():
    rng = np.random.default_rng(1)
    m = rng.integers(-10, 11, 200)
    f = rng.integers(-7, 8, 200)  # f = -8 is a tie between two bins
    s = rng.integers(0, 41, 200)  # b <= 1, so the end bins never win
    table = lt.masses(-20, 20, m, f, s)
    assert np.array_equal(np.argmax(table, axis=1) - 20, np.round(m + f / 16).astype(int))


def test_wider_scales_are_flatter():
    rows = lt.masses(-64, 63, [2] * 5, [3] * 5, [10, 20, 30, 40, 50])  # b up to 3.5: light end bins
    probs = rows / rows.sum(axis=1, keepdims=True)
    entropy = -(probs * np.log2(probs)).sum(axis=1)
    assert np.all(np.diff(rows.max(axis=1)) < 0)
    assert np.all(np.diff(entropy) > 0)


def test_centred_masses_are_symmetric():
    for hi in (1, 5, 63):
        rows = lt.masses(-hi, hi, [0] * lt.NUM_SCALES, [0] * lt.NUM_SCALES, np.arange(lt.NUM_SCALES))
        assert np.array_equal(rows, rows[:, ::-1])


def test_code_length_bits():
    rng = np.random.default_rng(2)
    m, f, s = _random_parameters(rng, 300)
    lo, hi = -12, 9
    symbols = rng.integers(lo, hi + 1, 300)
    table = lt.masses(lo, hi, m, f, s)
    picked = table[np.arange(300), symbols - lo]
    assert np.array_equal(lt.symbol_masses(symbols, lo, hi, m, f, s), picked)
    expected = -np.log2(picked / table.sum(axis=1)).sum()
    assert lt.code_length_bits(symbols, lo, hi, m, f, s) == pytest.approx(expected, rel=1e-12)
    # a sharp model centred on the symbol costs almost nothing, the same model a few steps off a lot
    assert lt.code_length_bits([3], -8, 8, [3], [0], [0]) < 0.01
    assert lt.code_length_bits([-3], -8, 8, [3], [0], [0]) > 11


def test_bad_alphabets_and_parameters():
    ok = ([0], [0], [40])
    for lo, hi in ((0, 0), (3, 2), (-65, 0), (0, 64)):
        with pytest.raises(ValueError):
            lt.masses(lo, hi, *ok)
    for m, f, s in (([64], [0], [0]), ([0], [8], [0]), ([0], [-9], [0]), ([0], [0], [81]), ([0], [0], [-1])):
        with pytest.raises(ValueError):
            lt.masses(-4, 4, m, f, s)
    with pytest.raises(ValueError):
        lt.code_length_bits([5], -4, 4, *ok)


def _fixed(x: float, frac_bits: int = 16) -> int:
    return round(x * 2**frac_bits)


@pytest.mark.parametrize(
    "mu, m, f",
    [
        (1.53, 2, -8),  # 24.48/16 -> 24/16 = 2 - 8/16
        (-0.53, 0, -8),  # -8.48/16 -> -8/16
        (0.5, 1, -8),  # half up: 8/16 is m = 1, f = -8
        (-0.5, 0, -8),
        (0.0, 0, 0),
        (0.03125, 0, 1),  # 0.5/16 rounds up to 1/16
        (-0.03125, 0, 0),  # -0.5/16 rounds up to 0
        (2.97, 3, 0),  # 47.52/16 -> 48/16
        (-3.3, -3, -5),  # -52.8/16 -> -53/16
        (63.4375, 63, 7),
        (63.6, 63, 7),  # clamped: m = 64 -> 63, f = 10 -> 7
        (1000.0, 63, 7),
        (-64.5, -64, -8),
        (-70.0, -64, -8),
        (-1e12, -64, -8),
    ],
)
def test_quantize_mu(mu, m, f):
    got_m, got_f, _ = lt.quantize_parameters(np.array([_fixed(mu)]), np.array([0]), 16)
    assert (int(got_m[0]), int(got_f[0])) == (m, f)


@pytest.mark.parametrize(
    "log_b, s",
    [
        (0.0, 40),
        (1.3, 50),  # 10.4/8 -> 10/8
        (-0.0625, 40),  # -0.5/8 rounds up to 0
        (-0.1875, 39),  # -1.5/8 rounds up to -1/8
        (0.0625, 41),
        (-5.0, 0),
        (-6.0, 0),  # clamped
        (5.0, 80),
        (5.06, 80),
        (7.5, 80),  # clamped
        (-4.94, 0),  # -39.52/8 -> -40/8
    ],
)
def test_quantize_log_scale(log_b, s):
    _, _, got = lt.quantize_parameters(np.array([0]), np.array([_fixed(log_b)]), 16)
    assert int(got[0]) == s


def test_quantize_other_precisions_and_extremes():
    # frac_bits 8: 1.53 is 392/256 = 24.5/16, which rounds half up to 25/16 = 2 - 7/16
    m, f, s = lt.quantize_parameters(np.array([392, -392]), np.array([-1 << 62, 1 << 62]), 8)
    assert m.tolist() == [2, -1] and f.tolist() == [-7, -8] and s.tolist() == [0, 80]  # -24.5 -> -24
    assert m.dtype == f.dtype == s.dtype == np.int64
    big = np.iinfo(np.int64)
    m, f, s = lt.quantize_parameters(np.array([big.max, big.min]), np.array([big.min, big.max]), 16)
    assert m.tolist() == [63, -64] and f.tolist() == [7, -8] and s.tolist() == [0, 80]
    with pytest.raises(ValueError):
        lt.quantize_parameters(np.array([0]), np.array([0]), 4)


# --- expgolomb -------------------------------------------------------------------------------
def test_zigzag():
    assert eg.zigzag([0, 1, -1, 2, -2, 3]).tolist() == [0, 1, 2, 3, 4, 5]
    v = np.arange(-1000, 1001)
    assert np.array_equal(eg.unzigzag(eg.zigzag(v)), v)


def test_known_codes():
    assert eg.write([0, 1, -1, 2], 0) == bytes([0b10100110, 0b01000000])  # 1 010 011 00100
    assert eg.write([0, 1, -1], 1) == bytes([0b10110100])  # 10 11 0100
    assert eg.write([0], 3) == bytes([0b10000000])  # 1000
    assert eg.write([], 0) == b"" and eg.nbits([], 5) == 0 and eg.read(b"", 0, 0).size == 0


@pytest.mark.parametrize("k", list(eg.ORDERS))
def test_round_trip(k):
    rng = np.random.default_rng(100 + k)
    limit = (1 << (eg.MAX_PREFIX + 1 + k)) - (1 << k)  # zigzag codes below this fit MAX_PREFIX zeros
    top, bottom = limit // 2, -((limit - 1) // 2)  # the extreme values at order k
    values = np.concatenate(
        [rng.integers(-mag, mag + 1, 300) for mag in (1, 10, 1000, 100_000)] + [np.array([0, top, bottom])]
    )
    data = eg.write(values, k)
    bits = eg.nbits(values, k)
    assert len(data) == (bits + 7) // 8
    decoded, consumed = eg._read_bits(data, len(values), k)
    assert np.array_equal(decoded, values) and decoded.dtype == np.int64
    assert consumed == bits
    padded = bytearray(data)  # the reader never looks at the padding
    if bits % 8:
        padded[-1] |= (1 << (8 - bits % 8)) - 1
    assert np.array_equal(eg.read(bytes(padded), len(values), k), values)
    for beyond in (top + 1, bottom - 1):  # one step past what MAX_PREFIX allows
        with pytest.raises(ValueError):
            eg.write([beyond], k)
        with pytest.raises(ValueError):
            eg.nbits([beyond], k)


def test_best_order():
    rng = np.random.default_rng(3)
    small = rng.integers(-2, 3, 500)
    large = rng.integers(-5000, 5001, 500)
    k_small, k_large = eg.best_order(small), eg.best_order(large)
    assert k_small <= 1 and k_large >= 8 and k_small < k_large
    for values in (small, large, rng.laplace(0, 40, 500).astype(int)):
        costs = [eg.nbits(values, k) for k in eg.ORDERS]
        assert eg.best_order(values) == int(np.argmin(costs))  # argmin: the first of ties
    assert eg.best_order([0, 0, 0]) == 0
    assert eg.best_order([5_000_000]) >= 3  # orders 0..2 cannot code it at all
    assert eg.best_order([7]) == 4  # u = 13: 7 bits at k = 2, 5 at k = 4
    assert eg.best_order([1, -1]) == 0 and eg.best_order([1, -1], orders=[2, 1]) == 1  # 6 bits each: ties


def test_truncated_data_raises():
    rng = np.random.default_rng(4)
    for k in (0, 3, 12):
        values = rng.integers(-3000, 3001, 200)
        data = eg.write(values, k)
        for cut in range(len(data)):
            with pytest.raises(BitstreamError):
                eg.read(data[:cut], len(values), k)


def test_garbage_raises_bitstream_error_only():
    rng = np.random.default_rng(5)
    failures = 0
    for trial in range(300):
        data = rng.integers(0, 256, int(rng.integers(0, 40))).astype(np.uint8).tobytes()
        count, k = int(rng.integers(0, 400)), int(rng.integers(0, 13))
        try:
            values = eg.read(data, count, k)
        except BitstreamError as exc:
            failures += 1
            assert "\n" not in str(exc)
        else:
            assert values.shape == (count,)
    assert failures > 100


def test_zero_bytes_and_impossible_counts():
    with pytest.raises(BitstreamError, match="prefix"):
        eg.read(bytes(10), 1, 0)
    with pytest.raises(BitstreamError, match="prefix"):
        eg.read(b"\x80" + bytes(10), 2, 0)  # one value 0, then 87 zeros
    assert eg.read(b"\xff", 8, 0).tolist() == [0] * 8
    with pytest.raises(BitstreamError):
        eg.read(b"\xff", 9, 0)  # more values than bits
    with pytest.raises(BitstreamError):
        eg.read(b"\xff" * 4, 3, 12)  # each value takes at least 13 bits
    with pytest.raises(BitstreamError):
        eg.read(b"\xff", -1, 0)
    with pytest.raises(BitstreamError):
        eg.read(b"\xff", 1, 13)
    with pytest.raises(ValueError):
        eg.write([1.5], 0)
