"""The vectorised statistics agree with SciPy; BH is monotone and bounded."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from steward.monitoring.statistics import stats
from steward.monitoring.statistics.summary import quantile_edges, summarize_numeric


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=50))
def test_benjamini_hochberg_matches_scipy_and_is_monotone(p_values: list[float]) -> None:
    adjusted = stats.benjamini_hochberg(p_values)
    expected = scipy_stats.false_discovery_control(p_values, method="bh")
    assert np.allclose(adjusted, expected)
    assert np.all(adjusted >= np.asarray(p_values) - 1e-12)
    assert np.all(adjusted <= 1.0)
    order = np.argsort(p_values, kind="stable")
    assert np.all(np.diff(adjusted[order]) >= -1e-12)


def test_benjamini_hochberg_keeps_nan() -> None:
    adjusted = stats.benjamini_hochberg([0.01, float("nan"), 0.04])
    assert np.isnan(adjusted[1])
    assert adjusted[0] == pytest.approx(0.02) and adjusted[2] == pytest.approx(0.04)


def test_sorted_ks_matches_scipy() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=3000), rng.normal(0.1, size=2000)
    expected = scipy_stats.ks_2samp(a, b)
    assert stats.ks_statistic_sorted(a, b) == pytest.approx(expected.statistic)
    assert stats.ks_p_value(expected.statistic, 3000, 2000) == pytest.approx(
        expected.pvalue, rel=0.1
    )


@pytest.mark.parametrize("shift", [0.0, 0.3, 2.0])
def test_histogram_wasserstein_and_ks_are_close_to_exact(shift: float) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.lognormal(size=50_000), rng.lognormal(size=40_000) + shift
    edges = quantile_edges(a, 100)
    ref, cur = summarize_numeric(a, edges), summarize_numeric(b, edges)
    approx = stats.wasserstein_from_histograms(edges, ref.counts, ref.sums, cur.counts, cur.sums)
    assert approx == pytest.approx(scipy_stats.wasserstein_distance(a, b), abs=0.01 * a.std())
    ks = stats.ks_from_histograms(ref.counts, cur.counts)
    assert ks == pytest.approx(scipy_stats.ks_2samp(a, b).statistic, abs=0.011)


def test_psi_js_and_chi_square_on_counts() -> None:
    same = np.array([100.0, 200.0, 300.0])
    assert stats.psi(same, same) == pytest.approx(0.0)
    assert stats.js_distance(same, same) == pytest.approx(0.0)
    assert stats.js_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    expected = scipy_stats.chi2_contingency(np.vstack([same, [120.0, 180.0, 300.0]]))
    statistic, p_value, sparse = stats.chi_square(same, np.array([120.0, 180.0, 300.0]))
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue)
    assert sparse == 0.0
