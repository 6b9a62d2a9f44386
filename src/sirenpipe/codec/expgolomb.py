"""Signed exp-Golomb codes for the latent codec's network integers.

A signed integer v is zigzag mapped to u >= 0 (v > 0 -> 2v - 1, v <= 0 -> -2v: 0, 1, -1, 2, -2 ->
0, 1, 2, 3, 4), then written with the exp-Golomb code of order k:

    x = u + 2^k, n = bit length of x:  (n - 1 - k) zero bits, then the n bits of x, MSB first

so a value takes 2n - 1 - k bits, at least k + 1. The bits of all values are packed MSB first and
zero padded to a whole byte. A prefix may have at most MAX_PREFIX zero bits, so each order
holds |v| below about 2^(20 + k); the reader rejects longer prefixes, which also bounds its work
on garbage bytes.
"""

from __future__ import annotations

import numpy as np

from ..errors import BitstreamError

ORDERS = range(0, 13)
MAX_PREFIX = 20
_POWERS = np.int64(1) << np.arange(63, dtype=np.int64)  # 2^0 .. 2^62


def zigzag(values) -> np.ndarray:
    """Signed ints -> non-negative ints (int64)."""
    v = _as_ints(values)
    return np.where(v > 0, 2 * v - 1, -2 * v)


def unzigzag(u) -> np.ndarray:
    """The inverse of zigzag (int64)."""
    u = np.asarray(u, dtype=np.int64)
    return np.where(u & 1 == 1, (u + 1) >> 1, -(u >> 1))


def nbits(values, k: int) -> int:
    """Exactly the number of bits write(values, k) produces before padding."""
    lengths = _lengths(values, k)
    if lengths is None:
        raise ValueError(f"a value needs a prefix longer than {MAX_PREFIX} bits at exp-Golomb order {k}")
    return int(lengths.sum())


def write(values, k: int) -> bytes:
    """The exp-Golomb codes of order k of the signed `values`, packed MSB first, zero padded."""
    _check_order(k, ValueError)
    u = zigzag(values)
    if _lengths(values, k) is None:
        raise ValueError(f"a value needs a prefix longer than {MAX_PREFIX} bits at exp-Golomb order {k}")
    parts = []
    for x in (u + (1 << k)).tolist():
        n = x.bit_length()
        parts.append("0" * (n - 1 - k))
        parts.append(format(x, "b"))
    bits = "".join(parts)
    if not bits:
        return b""
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def read(data: bytes, count: int, k: int) -> np.ndarray:
    """`count` signed values of exp-Golomb order k from the start of `data` (int64); truncated or
    corrupt data raises BitstreamError. Bits after the last value (padding) are not looked at."""
    return _read_bits(data, count, k)[0]


def best_order(values, orders=ORDERS) -> int:
    """The order k in `orders` that codes `values` in the fewest bits (ties: the smallest k)."""
    best = None
    for k in sorted(orders):
        lengths = _lengths(values, k)
        if lengths is not None and (best is None or int(lengths.sum()) < best[0]):
            best = (int(lengths.sum()), k)
    if best is None:
        raise ValueError(f"no exp-Golomb order in {list(orders)} can code these values")
    return best[1]


def _read_bits(data: bytes, count: int, k: int) -> tuple[np.ndarray, int]:
    """(values, bits consumed): read() plus where the last value ends."""
    _check_order(k, BitstreamError)
    count = int(count)
    available = 8 * len(data)
    if count < 0 or count * (k + 1) > available:  # each value takes at least k + 1 bits
        raise BitstreamError(f"corrupt .sirn payload: {count} exp-Golomb values cannot fit in {len(data)} bytes")
    bits = format(int.from_bytes(data, "big"), f"0{available}b") if data else ""
    out = np.empty(count, dtype=np.int64)
    pos = 0
    for i in range(count):
        one = bits.find("1", pos, pos + MAX_PREFIX + 1)
        if one < 0:
            if available - pos > MAX_PREFIX:
                raise BitstreamError(f"corrupt .sirn payload: exp-Golomb prefix longer than {MAX_PREFIX} bits")
            raise BitstreamError("corrupt .sirn payload: exp-Golomb data ends early")
        end = one + (one - pos) + 1 + k  # the zeros, then n = zeros + 1 + k bits of x
        if end > available:
            raise BitstreamError("corrupt .sirn payload: exp-Golomb data ends early")
        out[i] = int(bits[one:end], 2) - (1 << k)
        pos = end
    return unzigzag(out), pos


def _lengths(values, k: int) -> np.ndarray | None:
    """Each value's code length in bits (int64), or None where a prefix would exceed MAX_PREFIX."""
    _check_order(k, ValueError)
    v = _as_ints(values)
    limit = (1 << (MAX_PREFIX + 1 + k)) - (1 << k)  # u below this: at most MAX_PREFIX zeros
    if v.size and (v.max() > limit // 2 or v.min() < -(limit // 2)):  # before zigzag can overflow
        return None
    x = zigzag(v) + (1 << k)
    if x.size and x.max() >= limit + (1 << k):
        return None
    n = np.searchsorted(_POWERS, x, side="right")  # bit length: how many powers of 2 are <= x
    return (2 * n - 1 - k).astype(np.int64)


def _as_ints(values) -> np.ndarray:
    v = np.asarray(values)
    if v.size and v.dtype.kind not in "iub":
        raise ValueError(f"exp-Golomb values must be integers, not {v.dtype}")
    return v.astype(np.int64).reshape(-1)


def _check_order(k, error: type[Exception]) -> None:
    if not (isinstance(k, (int, np.integer)) and int(k) in ORDERS):
        raise error(f"exp-Golomb order {k!r} is outside [{ORDERS.start}, {ORDERS.stop - 1}]")
