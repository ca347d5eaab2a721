"""The grid shortcut of numeric statistics gives what value-by-value summarising gives."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steward.data.numeric import (
    GRID_SCALES,
    NumericStatistics,
    _decimal_grid,
    _from_values,
    _integer_grid,
    numeric_statistics,
)


def value_by_value(raw: np.ndarray) -> NumericStatistics:
    """The statistics without the shortcut (the reference)."""
    values = np.asarray(raw, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return _from_values(finite, raw.size - finite.size)


def assert_same(ours: NumericStatistics, reference: NumericStatistics) -> None:
    assert (ours.count, ours.unusable) == (reference.count, reference.unusable)
    assert (ours.min, ours.max) == (reference.min, reference.max)
    assert ours.registers == reference.registers
    assert ours.sketch == reference.sketch
    if reference.mean is None:
        assert ours.mean is None
        return
    assert ours.mean is not None
    assert math.isclose(ours.mean, reference.mean, rel_tol=1e-12, abs_tol=1e-12)
    assert math.isclose(ours.m2, reference.m2, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(-300, 300), min_size=1, max_size=400),
    st.integers(-(1 << 40), 1 << 40),
    st.sampled_from(["int8", "int16", "int32", "int64", "uint16", "uint64"]),
)
def test_integers_in_a_narrow_range_give_the_same_statistics(
    numbers: list[int], offset: int, dtype: str
) -> None:
    info = np.iinfo(dtype)
    shifted = [min(max(n + offset, info.min), info.max) for n in numbers]
    raw = np.array(shifted, dtype=dtype)
    assert_same(numeric_statistics(raw), value_by_value(raw))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(-20_000, 20_000), min_size=1, max_size=400),
    st.sampled_from(GRID_SCALES),
    st.lists(st.sampled_from([math.nan, math.inf, -math.inf, -0.0]), max_size=5),
)
def test_decimals_on_a_grid_give_the_same_statistics(
    numerators: list[int], scale: int, specials: list[float]
) -> None:
    raw = np.array([k / scale for k in numerators] + specials, dtype=np.float64)
    assert_same(numeric_statistics(raw), value_by_value(raw))


def test_the_shortcut_is_taken_for_few_distinct_values() -> None:
    rng = np.random.default_rng(0)
    ages = rng.integers(1, 95, 50_000)
    weights = np.round(rng.normal(70, 15, 50_000), 2)
    assert _integer_grid(ages) is not None
    assert _decimal_grid(weights) is not None
    assert _integer_grid(np.arange(10_000)) is None  # unique ids: nothing to count
    for raw in (ages, weights):
        assert_same(numeric_statistics(raw), value_by_value(raw))


@pytest.mark.parametrize(
    "odd_one",
    [0.1 + 0.2, 2.000001, 1e-7, 3e17, 2.0**60, np.nextafter(0.5, 1.0)],
)
def test_one_value_off_the_grid_falls_back_and_changes_nothing(odd_one: float) -> None:
    values = np.round(np.random.default_rng(1).normal(50, 10, 5_000), 1)
    values[2_500] = odd_one
    assert _decimal_grid(values) is None
    assert_same(numeric_statistics(values), value_by_value(values))


def test_large_integers_keep_an_exact_mean() -> None:
    raw = np.array([(1 << 51) + n % 7 for n in range(1_000)], dtype=np.int64)
    statistics = numeric_statistics(raw)
    assert statistics.mean == float(sum(int(v) for v in raw) / raw.size)
    assert_same(statistics, value_by_value(raw))
