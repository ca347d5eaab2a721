"""The statistics of a numeric column's values, with a shortcut for values on a grid.

Most numeric columns of real tables take few distinct values compared with
their rows: ages, counts, codes, flags, prices and measurements written with
a few decimals. Such values are integers ``k`` over a power of ten ``s``
(``k / s``, ``s`` from 1 to 10,000) whose ``k`` span a range smaller than the
number of values. Counting each ``k`` (``np.bincount``) then gives the
distinct values with their counts, and every statistic is computed on those
instead of on every value: the same quantile sketch and distinct-count
registers (both depend only on the values and their counts), the same
minimum and maximum, and the mean and the sum of squared deviations up to
floating-point rounding (the mean of the integers ``k`` is even exact before
its one division). A value counts as on the grid only if ``k / s`` gives back
exactly its float64: the shortcut never changes a value.

Other columns (unique identifiers, measurements with many decimals) are
summarised value by value.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import numpy as np

from steward.data.sketches import QuantileSketch, hash_numbers, hll_registers

GRID_SCALES = (1, 10, 100, 1000, 10_000)
"""The denominators tried for values on a grid: up to four decimals."""
_GRID_SAMPLE = 256
"""Values looked at to pick a column's denominator before checking them all."""
_EXACT_INTEGERS = 1 << 52
"""Numerators below this in magnitude are exact in float64: ``k / s`` is one rounding."""


@dataclass(frozen=True)
class NumericStatistics:
    """What a profile keeps of a numeric column's usable (finite, non-null) values."""

    count: int
    unusable: int
    """NaN and infinities: counted as missing (no mean, spread or quantile holds them)."""
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    m2: float = 0.0
    registers: bytes | None = None
    """HyperLogLog registers of the distinct values (None: no values)."""
    sketch: QuantileSketch = field(default_factory=QuantileSketch)


def numeric_statistics(raw: np.ndarray) -> NumericStatistics:
    """The statistics of an integer or floating numpy array without nulls."""
    if raw.dtype.kind in "iu":
        grid = _integer_grid(raw)
        if grid is not None:
            return _from_counts(*grid, unusable=0)
        return _from_values(np.asarray(raw, dtype=np.float64), 0)
    finite = np.asarray(raw, dtype=np.float64)
    usable = np.isfinite(finite)
    if not usable.all():
        finite = finite[usable]
    unusable = raw.size - finite.size
    grid = _decimal_grid(finite)
    if grid is not None:
        return _from_counts(*grid, unusable=unusable)
    return _from_values(finite, unusable)


def _integer_grid(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(distinct values as float64, their counts, the mean) when their range is narrow."""
    if values.size == 0:
        return None
    low, high = int(values.min()), int(values.max())
    if high - low + 1 > values.size // 2 or max(-low, high) >= _EXACT_INTEGERS:
        return None
    # int64 first: an int8 minus its minimum could wrap, a uint64 does not mix with int64.
    offsets = values.astype(np.int64, copy=False) - low
    return _counted(offsets, low, max(-low, high), 1)


def _decimal_grid(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(distinct values, their counts, the mean), or None.

    None unless every value is exactly ``k / s`` for one ``s`` of
    ``GRID_SCALES`` and the ``k`` span fewer integers than half the values.
    """
    if values.size == 0:
        return None
    sample = values[:: max(1, values.size // _GRID_SAMPLE)]
    scale = next((s for s in GRID_SCALES if np.array_equal(np.rint(sample * s) / s, sample)), 0)
    if not scale:
        return None
    numerators = values * scale
    np.rint(numerators, out=numerators)
    low, high = float(numerators.min()), float(numerators.max())
    if high - low + 1 > values.size // 2 or max(-low, high) >= _EXACT_INTEGERS:
        return None
    if not np.array_equal(numerators / scale, values):
        return None
    offsets = numerators.astype(np.int64)
    offsets -= int(low)
    return _counted(offsets, int(low), int(max(-low, high)), scale)


def _counted(
    offsets: np.ndarray, low: int, bound: int, scale: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Distinct values ``(low + offset) / scale`` (ascending), their counts and mean.

    ``bound``: the largest magnitude of a numerator ``low + offset``.
    """
    counts = np.bincount(offsets)
    present = np.flatnonzero(counts)
    counts = counts[present]
    numerators = present + low
    values = numerators / scale if scale > 1 else numerators.astype(np.float64)
    count = int(offsets.size)
    if bound * count < 1 << 63:  # the numerators' sum is exact in int64
        total = int(np.dot(numerators, counts))
    else:
        total = sum(map(operator.mul, numerators.tolist(), counts.tolist()))
    return values, counts, total / (count * scale)  # integers: one correctly rounded division


def _from_counts(
    values: np.ndarray, counts: np.ndarray, mean: float, unusable: int
) -> NumericStatistics:
    """Statistics of distinct ``values`` (ascending) occurring ``counts`` times."""
    deviations = values - mean
    np.square(deviations, out=deviations)
    low = float(values[0])
    return NumericStatistics(
        count=int(counts.sum()),
        unusable=unusable,
        min=low,
        max=float(values[-1]),
        mean=mean,
        m2=float(np.dot(deviations, counts)),
        registers=hll_registers(hash_numbers(values)).tobytes(),
        sketch=QuantileSketch.of(values, low, counts),
    )


def _from_values(finite: np.ndarray, unusable: int) -> NumericStatistics:
    """Statistics of finite float64 values, value by value."""
    if finite.size == 0:
        return NumericStatistics(count=0, unusable=unusable)
    mean = float(finite.mean())
    low = float(finite.min())
    deviations = finite - mean
    np.square(deviations, out=deviations)
    return NumericStatistics(
        count=int(finite.size),
        unusable=unusable,
        min=low,
        max=float(finite.max()),
        mean=mean,
        m2=float(deviations.sum()),
        registers=hll_registers(hash_numbers(finite)).tobytes(),
        sketch=QuantileSketch.of(finite, low),
    )
