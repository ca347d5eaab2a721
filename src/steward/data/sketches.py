"""The mergeable sketches behind a profile: quantiles and distinct counts.

* A DDSketch-style quantile sketch: values fall into logarithmic buckets
  ``ceil(log_gamma |x|)`` with ``gamma = (1 + a) / (1 - a)``, ``a = 1%``; each
  bucket only counts, so merging is adding counts, and every quantile it
  returns is within 1% relative error of a true value of the data.
* A HyperLogLog sketch of 64-bit value hashes (4096 registers, about 1.6%
  standard error); merging takes the register-wise maximum. Its registers
  depend only on the set of distinct values, not on how often each occurs.

Both are computed with numpy on whole arrays, never value by value in Python.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SKETCH_RELATIVE_ACCURACY = 0.01
_GAMMA = (1 + SKETCH_RELATIVE_ACCURACY) / (1 - SKETCH_RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
_SMALLEST = 1e-12  # |x| below this counts as zero in the sketch
HLL_PRECISION = 12
HLL_REGISTER_COUNT = 1 << HLL_PRECISION


# -- the pieces -----------------------------------------------------------------


def _add_counts(a: dict[int, int], b: dict[int, int]) -> dict[int, int]:
    merged = dict(a)
    for key, count in b.items():
        merged[key] = merged.get(key, 0) + count
    return merged


def _bucket_counts(values: np.ndarray, weights: np.ndarray | None = None) -> dict[int, int]:
    """Counts per bucket ``ceil(log_gamma x)`` of positive values (worked in place: one buffer).

    ``weights``: how many times each value occurs (once each without).
    """
    if values.size == 0:
        return {}
    scaled = np.log(values)
    np.divide(scaled, _LOG_GAMMA, out=scaled)
    np.ceil(scaled, out=scaled)
    index = scaled.astype(np.int64)
    low = int(index.min())
    index -= low
    counts = np.bincount(index, weights=weights)
    present = np.nonzero(counts)[0]
    return {int(i) + low: int(counts[i]) for i in present}


@dataclass(frozen=True)
class QuantileSketch:
    """Counts of values in logarithmic buckets (positive, negative, zero)."""

    positive: dict[int, int] = field(default_factory=dict)
    negative: dict[int, int] = field(default_factory=dict)
    zero: int = 0

    @classmethod
    def of(
        cls, values: np.ndarray, low: float | None = None, counts: np.ndarray | None = None
    ) -> QuantileSketch:
        """Sketch of finite float64 values; ``low``: their minimum, if known.

        Values all at least ``_SMALLEST`` (most columns: ages, weights, counts)
        go straight into positive buckets, without masks or copies.

        Args:
            values: the values.
            low: their minimum, if known.
            counts: how many times each value occurs (integers; once each
                without): the sketch of distinct values with their counts is
                the sketch of the values they stand for.
        """
        if low is not None and low >= _SMALLEST:
            return cls(positive=_bucket_counts(values, counts))
        magnitude = np.abs(values)
        significant = magnitude >= _SMALLEST
        positive = significant & (values > 0)
        negative = significant & (values < 0)
        if counts is None:
            return cls(
                positive=_bucket_counts(values[positive]),
                negative=_bucket_counts(-values[negative]),
                zero=int((~significant).sum()),
            )
        return cls(
            positive=_bucket_counts(values[positive], counts[positive]),
            negative=_bucket_counts(-values[negative], counts[negative]),
            zero=int(counts[~significant].sum()),
        )

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """The sketch of both parts."""
        return QuantileSketch(
            _add_counts(self.positive, other.positive),
            _add_counts(self.negative, other.negative),
            self.zero + other.zero,
        )

    @property
    def count(self) -> int:
        """How many values were sketched."""
        return sum(self.positive.values()) + sum(self.negative.values()) + self.zero

    def buckets(self) -> Iterator[tuple[float, int]]:
        """(representative value, count) in ascending value order."""
        for index in sorted(self.negative, reverse=True):
            yield -2 * _GAMMA**index / (_GAMMA + 1), self.negative[index]
        if self.zero:
            yield 0.0, self.zero
        for index in sorted(self.positive):
            yield 2 * _GAMMA**index / (_GAMMA + 1), self.positive[index]

    def quantile(self, q: float) -> float | None:
        """The value at quantile ``q`` (within the sketch's relative accuracy)."""
        total = self.count
        if total == 0:
            return None
        rank = q * (total - 1)
        seen = 0
        value = 0.0
        for value, count in self.buckets():
            seen += count
            if seen > rank:
                return value
        return value

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "positive": {str(k): v for k, v in self.positive.items()},
            "negative": {str(k): v for k, v in self.negative.items()},
            "zero": self.zero,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuantileSketch:
        """Read ``to_json`` data."""
        return cls(
            {int(k): int(v) for k, v in data["positive"].items()},
            {int(k): int(v) for k, v in data["negative"].items()},
            int(data["zero"]),
        )


def hll_registers(hashes: np.ndarray) -> np.ndarray:
    """The HyperLogLog registers (uint8, ``HLL_REGISTER_COUNT``) of 64-bit hashes."""
    registers = np.zeros(HLL_REGISTER_COUNT, dtype=np.uint8)
    if hashes.size == 0:
        return registers
    index = (hashes >> np.uint64(64 - HLL_PRECISION)).astype(np.intp)
    rest = hashes & np.uint64((1 << (64 - HLL_PRECISION)) - 1)
    # A register keeps the largest rank of its values, and the rank (leading
    # zeros of the remaining bits + 1) only grows as the bits get smaller: so
    # take each register's smallest remainder, then rank just those.
    unset = np.iinfo(np.uint64).max
    smallest = np.full(HLL_REGISTER_COUNT, unset, dtype=np.uint64)
    np.minimum.at(smallest, index, rest)
    seen = smallest != unset
    lowest = smallest[seen]
    _, exponent = np.frexp(lowest.astype(np.float64))  # floor(log2) + 1
    rank = np.where(lowest == 0, 64 - HLL_PRECISION + 1, 64 - HLL_PRECISION - exponent + 1)
    registers[seen] = rank.astype(np.uint8)
    return registers


def hll_estimate(registers: np.ndarray) -> int:
    """The distinct count that HyperLogLog ``registers`` estimate."""
    m = float(HLL_REGISTER_COUNT)
    alpha = 0.7213 / (1 + 1.079 / m)
    estimate = alpha * m * m / float(np.sum(np.power(2.0, -registers.astype(np.float64))))
    zeros = int(np.count_nonzero(registers == 0))
    if estimate <= 2.5 * m and zeros:
        estimate = m * math.log(m / zeros)
    return round(estimate)


def _mix64(values: np.ndarray, copy: bool = True) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the 64 output bits.

    With ``copy=False``, ``values`` (uint64) is overwritten with the result.
    """
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64, copy=copy)
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


def hash_numbers(values: np.ndarray) -> np.ndarray:
    """64-bit hashes of float64 values (-0.0 and 0.0 hash alike)."""
    return _mix64((values + 0.0).view(np.uint64), copy=False)  # the sum is a new array


_STRING_HASH_BASE = np.uint64(0x100000001B3)


def hash_strings(array: Any) -> np.ndarray:
    """64-bit hashes of a null-free arrow string array, computed on its buffers.

    A polynomial hash of the bytes (``sum (b_i + 1) * P^i`` modulo 2^64, summed
    with ``np.add.reduceat``) mixed with the length, then finalised: all in
    numpy, without turning strings into Python objects.
    """
    import pyarrow as pa

    array = array.cast(pa.large_string())
    if len(array) == 0:
        return np.zeros(0, dtype=np.uint64)
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    lengths = np.diff(offsets)
    total = int(offsets[-1] - offsets[0])
    hashes = lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    if total:
        data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
        starts = offsets[:-1] - offsets[0]
        position = np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)
        with np.errstate(over="ignore"):
            powers = np.cumprod(
                np.full(int(lengths.max()), _STRING_HASH_BASE, dtype=np.uint64), dtype=np.uint64
            )
            terms = (data.astype(np.uint64) + np.uint64(1)) * powers[position]
            non_empty = lengths > 0
            sums = np.add.reduceat(terms, starts[non_empty])
            hashes[non_empty] += sums
    return _mix64(hashes, copy=False)
