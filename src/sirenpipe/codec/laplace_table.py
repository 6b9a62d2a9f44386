"""Integer probabilities of a quantized Laplace, identical on every machine (latent codec).

The entropy model gives each integer latent a Laplace distribution of location mu and scale b.
The range coder needs every symbol's probability in an alphabet [lo, hi] as integers that the
encoder and the decoder compute bit for bit alike, so nothing here uses libm or numpy's exp:

    parameters   mu = m + f / 16 with m in [-64, 63], f in [-8, 7];
                 log b = s / 8 - 5 with s in [0, 80] (b from e^-5 to e^5)
    tail table   T_s[k] = round(HALF * exp(-k / (16 b_s))), k = 0 .. MAX_EDGE + 1, computed once
                 per s with the decimal module at 50 digits (r = exp(-1 / (16 b_s)), then
                 T_s[k] = HALF * r^k by repeated multiplication, rounded half-even to an integer)
    CDF          at an edge e / 16 above mu (e an integer): ONE - T[e] for e >= 0, T[-e] for e < 0
    masses       symbol v covers [v - 1/2, v + 1/2] (the first bin reaches -inf, the last +inf):
                 C(e_up) - C(e_lo) + FLOOR, with e_up = 16 (v - m) + 8 - f, e_lo = e_up - 16

Every row of masses therefore sums exactly to row_total(lo, hi) = ONE + (hi - lo + 1) FLOOR, and
every symbol keeps a probability of at least FLOOR / row_total (about 2^-12), so any symbol the
encoder meets can be coded. The decimal arithmetic is fully specified (General Decimal Arithmetic),
so the table is the same with the C and the pure-Python decimal modules on any CPU.
"""

from __future__ import annotations

import decimal
import functools
from decimal import Decimal

import numpy as np

ONE = 2**32  # the CDF's total
HALF = 2**31  # the mass of each tail, T[0]
TOTAL_BITS = 31  # tail values are scaled to 2**TOTAL_BITS
FLOOR = 2**20  # added to every symbol's mass
NUM_SCALES = 81  # s in [0, 80]
MU_FRAC = 16  # mu in 1/16ths
M_MIN, M_MAX = -64, 63
F_MIN, F_MAX = -8, 7
MAX_EDGE = 2048  # largest |e| for symbols and m in [-64, 63]: 16 * 127 + 16

# Every field given, so nothing depends on decimal.DefaultContext, which a program may change.
_CTX = decimal.Context(
    prec=50,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999999,
    Emax=999999,
    capitals=1,
    clamp=0,
    flags=[],
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


@functools.lru_cache(maxsize=None)
def tail(s: int) -> np.ndarray:
    """T_s[k] = round(HALF * exp(-k / (16 b_s))) for k = 0 .. MAX_EDGE + 1 (int64, read-only)."""
    s = int(s)
    if not 0 <= s < NUM_SCALES:
        raise ValueError(f"scale index {s} is outside [0, {NUM_SCALES - 1}]")
    ctx = _CTX.copy()  # its flags are never shared between calls
    inv_16b = ctx.divide(ctx.exp(ctx.subtract(Decimal(5), ctx.divide(Decimal(s), Decimal(8)))), Decimal(16))
    ratio = ctx.exp(ctx.minus(inv_16b))  # exp(-1 / (16 b)), one edge step further out
    table = np.zeros(MAX_EDGE + 2, dtype=np.int64)
    value = Decimal(HALF)
    for k in range(MAX_EDGE + 2):
        rounded = int(value.to_integral_value(rounding=decimal.ROUND_HALF_EVEN, context=ctx))
        if rounded == 0:  # decreasing: the rest stays 0
            break
        table[k] = rounded
        value = ctx.multiply(value, ratio)
    table.flags.writeable = False
    return table


@functools.lru_cache(maxsize=None)
def tails() -> np.ndarray:
    """All tail tables, one row per scale index s: int64 (NUM_SCALES, MAX_EDGE + 2), read-only."""
    table = np.stack([tail(s) for s in range(NUM_SCALES)])
    table.flags.writeable = False
    return table


def row_total(lo: int, hi: int) -> int:
    """The exact sum of every row of masses(lo, hi, ...)."""
    _check_alphabet(lo, hi)
    return ONE + (hi - lo + 1) * FLOOR


def masses(lo: int, hi: int, m, f, s) -> np.ndarray:
    """Integer masses of symbols lo..hi under Laplace(m + f/16, b_s), one row per parameter set:
    int64 (P, hi - lo + 1), each entry >= FLOOR, each row summing to row_total(lo, hi)."""
    _check_alphabet(lo, hi)
    m, f, s = _check_parameters(m, f, s)
    v = np.arange(lo, hi + 1, dtype=np.int64)
    e_up = MU_FRAC * (v[None, :] - m[:, None]) + MU_FRAC // 2 - f[:, None]  # (P, n) edge above v
    cdf = _cdf(e_up, s)
    cdf[:, -1] = ONE  # the last bin reaches +inf
    below = np.concatenate([np.zeros((len(m), 1), dtype=np.int64), cdf[:, :-1]], axis=1)  # -inf, then
    return cdf - below + FLOOR


def symbol_masses(symbols, lo: int, hi: int, m, f, s) -> np.ndarray:
    """masses(lo, hi, m, f, s)[i, symbols[i] - lo] for every i, without building the whole table."""
    _check_alphabet(lo, hi)
    m, f, s = _check_parameters(m, f, s)
    v = np.asarray(symbols, dtype=np.int64).reshape(-1)
    if v.shape != m.shape:
        raise ValueError(f"{v.size} symbols for {m.size} parameter sets")
    if v.size and (v.min() < lo or v.max() > hi):
        raise ValueError(f"symbols outside the alphabet [{lo}, {hi}]")
    e_up = MU_FRAC * (v - m) + MU_FRAC // 2 - f
    upper = np.where(v == hi, ONE, _cdf(e_up, s))
    lower = np.where(v == lo, 0, _cdf(e_up - MU_FRAC, s))
    return upper - lower + FLOOR


def code_length_bits(symbols, lo: int, hi: int, m, f, s) -> float:
    """Ideal code length in bits of `symbols` under these models (float; for reports and rate
    estimates only, never for coding)."""
    mass = symbol_masses(symbols, lo, hi, m, f, s)
    return float(-np.log2(mass / row_total(lo, hi)).sum())


def quantize_parameters(mu_fixed, log_scale_fixed, frac_bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(m, f, s) from mu and log b in fixed point with `frac_bits` fractional bits (int64 arrays).

    Pure integer: mu is rounded half up to 1/16 and split into m (clamped to [-64, 63]) and f
    (clamped to [-8, 7]); log b is rounded half up to 1/8 and s = that + 40, clamped to [0, 80]."""
    frac_bits = int(frac_bits)
    if not 5 <= frac_bits <= 40:
        raise ValueError(f"frac_bits {frac_bits} is outside [5, 40]")
    limit = np.int64(1) << 61  # far beyond any clamp; keeps the additions below from overflowing
    mu = np.clip(np.asarray(mu_fixed, dtype=np.int64), -limit, limit)
    log_b = np.clip(np.asarray(log_scale_fixed, dtype=np.int64), -limit, limit)
    mu16 = (mu + (np.int64(1) << (frac_bits - 5))) >> (frac_bits - 4)  # >> on int64 is a floor
    m = np.clip((mu16 + 8) >> 4, M_MIN, M_MAX)
    f = np.clip(mu16 - MU_FRAC * m, F_MIN, F_MAX)
    lb8 = (log_b + (np.int64(1) << (frac_bits - 4))) >> (frac_bits - 3)
    s = np.clip(lb8 + 40, 0, NUM_SCALES - 1)
    return m.astype(np.int64), f.astype(np.int64), s.astype(np.int64)


def _cdf(e: np.ndarray, s: np.ndarray) -> np.ndarray:
    """C(e) for edges e (int64, rows matching s): ONE - T[e] above mu, T[-e] below."""
    k = np.abs(e)
    s_rows = s.reshape((-1,) + (1,) * (e.ndim - 1))
    t = np.where(k <= MAX_EDGE + 1, tails()[s_rows, np.minimum(k, MAX_EDGE + 1)], 0)
    return np.where(e >= 0, ONE - t, t)


def _check_alphabet(lo: int, hi: int) -> None:
    if not (isinstance(lo, (int, np.integer)) and isinstance(hi, (int, np.integer))):
        raise ValueError(f"alphabet bounds must be integers, not {lo!r}, {hi!r}")
    if not M_MIN <= lo < hi <= M_MAX:
        raise ValueError(f"alphabet [{lo}, {hi}] must have -64 <= lo < hi <= 63")


def _check_parameters(m, f, s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = []
    for name, x, low, high in (("m", m, M_MIN, M_MAX), ("f", f, F_MIN, F_MAX), ("s", s, 0, NUM_SCALES - 1)):
        x = np.asarray(x)
        if x.size and x.dtype.kind not in "iu":
            raise ValueError(f"{name} must be integers, not {x.dtype}")
        x = x.astype(np.int64).reshape(-1)
        if x.size and (x.min() < low or x.max() > high):
            raise ValueError(f"{name} outside [{low}, {high}]")
        arrays.append(x)
    if not arrays[0].shape == arrays[1].shape == arrays[2].shape:
        raise ValueError(f"m, f, s have different lengths {arrays[0].size}, {arrays[1].size}, {arrays[2].size}")
    return arrays[0], arrays[1], arrays[2]
