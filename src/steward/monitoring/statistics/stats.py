"""Vectorised drift statistics and the Benjamini-Hochberg correction.

Each function works on arrays (raw values, histogram cells or category
counts) and never loops over rows in Python. Distances computed from
histograms use the fine, quantile-edged cells of ``summary.NumericSummary``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

PSI_EPSILON = 1e-4
"""Share given to an empty cell so PSI stays finite."""


class TestOutcome(NamedTuple):
    """A statistic and, for hypothesis tests, its p-value."""

    statistic: float
    p_value: float | None


def benjamini_hochberg(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN entries stay NaN.

    A hypothesis is rejected at false-discovery rate ``alpha`` when its adjusted
    p-value is at most ``alpha``.
    """
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    valid = ~np.isnan(p)
    m = int(valid.sum())
    if m == 0:
        return adjusted
    values = p[valid]
    order = np.argsort(values)
    ranked = values[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    result = np.empty(m)
    result[order] = np.minimum(ranked, 1.0)
    adjusted[valid] = result
    return adjusted


def ks_exact(reference: np.ndarray, current: np.ndarray) -> TestOutcome:
    """Two-sample Kolmogorov-Smirnov test on raw values (exact p-value when small)."""
    from scipy import stats

    outcome = stats.ks_2samp(reference, current, method="auto")
    return TestOutcome(float(outcome.statistic), float(outcome.pvalue))


def ks_statistic_sorted(reference: np.ndarray, current: np.ndarray) -> float:
    """KS statistic of two raw arrays by sorting and ``searchsorted`` (no Python loop)."""
    a = np.sort(reference)
    b = np.sort(current)
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / a.size
    cdf_b = np.searchsorted(b, points, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


def ks_p_value(statistic: float, n_reference: int, n_current: int) -> float:
    """Asymptotic two-sided p-value of a two-sample KS statistic."""
    from scipy import stats

    effective = n_reference * n_current / (n_reference + n_current)
    return float(stats.kstwobign.sf(statistic * np.sqrt(effective)))


def ks_from_histograms(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """KS statistic evaluated at the histogram edges (low by at most one cell's mass)."""
    cdf_a = np.cumsum(reference_counts) / max(reference_counts.sum(), 1)
    cdf_b = np.cumsum(current_counts) / max(current_counts.sum(), 1)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def wasserstein_from_histograms(
    edges: np.ndarray,
    reference_counts: np.ndarray,
    reference_sums: np.ndarray,
    current_counts: np.ndarray,
    current_sums: np.ndarray,
) -> float:
    """Wasserstein-1 distance from two histograms over the same edges.

    Inside a cell, the per-cell sums give the exact integral of each CDF, so the
    distance is exact wherever the CDFs do not cross inside a cell (where they
    do, the cell counts with linear CDFs). Beyond the edges, the sums give the
    expected excess over the outer edges, exact when only one side has values
    out there.
    """
    n_a = max(int(reference_counts.sum()), 1)
    n_b = max(int(current_counts.sum()), 1)
    cdf_a = np.cumsum(reference_counts)[:-1] / n_a  # at edges[0..E-1]
    cdf_b = np.cumsum(current_counts)[:-1] / n_b
    gap = cdf_a - cdf_b
    width = np.diff(edges)
    right = edges[1:]
    inner = slice(1, -1)
    area_a = cdf_a[:-1] * width + (reference_counts[inner] * right - reference_sums[inner]) / n_a
    area_b = cdf_b[:-1] * width + (current_counts[inner] * right - current_sums[inner]) / n_b
    crossing = gap[:-1] * gap[1:] < 0
    linear = width * (np.abs(gap[:-1]) + np.abs(gap[1:])) / 2.0
    inside = float(np.sum(np.where(crossing, linear, np.abs(area_a - area_b))))
    low, high = edges[0], edges[-1]
    below_a = (reference_counts[0] * low - reference_sums[0]) / n_a
    below_b = (current_counts[0] * low - current_sums[0]) / n_b
    above_a = (reference_sums[-1] - reference_counts[-1] * high) / n_a
    above_b = (current_sums[-1] - current_counts[-1] * high) / n_b
    return inside + abs(below_a - below_b) + abs(above_a - above_b)


def wasserstein_exact(reference: np.ndarray, current: np.ndarray) -> float:
    """Wasserstein-1 distance of two raw arrays."""
    from scipy import stats

    return float(stats.wasserstein_distance(reference, current))


def coarse_cells(reference_counts: np.ndarray, groups: int = 10) -> np.ndarray:
    """Group labels merging fine cells into about ``groups`` cells of equal reference mass.

    The cells below and above the edges keep groups of their own, so values
    outside the reference range always count.
    """
    interior = reference_counts[1:-1]
    share = np.cumsum(interior) / max(interior.sum(), 1)
    labels = np.minimum((share * groups - 1e-9).astype(np.int64), groups - 1) + 1
    labels = np.maximum(labels, 1)
    return np.concatenate([[0], labels, [groups + 1]])


def regroup(counts: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Sum fine cells into the groups given by ``labels``."""
    return np.bincount(labels, weights=counts, minlength=int(labels.max()) + 1)


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Population stability index between two count vectors over the same cells."""
    p = _shares(reference_counts)
    q = _shares(current_counts)
    keep = (p > 0) | (q > 0)
    p = np.clip(p[keep], PSI_EPSILON, None)
    q = np.clip(q[keep], PSI_EPSILON, None)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, between 0 and 1) of two count vectors."""
    p = _shares(reference_counts)
    q = _shares(current_counts)
    m = (p + q) / 2.0
    divergence = 0.5 * (_kl(p, m) + _kl(q, m))
    return float(np.sqrt(max(divergence, 0.0)))


def chi_square(
    reference_counts: np.ndarray, current_counts: np.ndarray
) -> tuple[float, float, float]:
    """Chi-square test of homogeneity on a 2xk table.

    Returns:
        (statistic, p-value, share of cells with an expected count under 5).
    """
    from scipy import stats

    table = np.vstack([reference_counts, current_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0, 0.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    sparse = float(np.mean(expected < 5))
    return statistic, float(stats.chi2.sf(statistic, dof)), sparse


def _shares(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return counts / total if total > 0 else counts


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / q[mask])))
