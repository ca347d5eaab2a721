"""Drift references from dataset profiles, without the raw data.

A dataset version's profile (``steward.data``'s ``TableProfile``) keeps, per
numeric column, exact count, nulls, min, max, mean and sum of squared
deviations, and a quantile sketch whose buckets hold every value within 1%
relative error; per categorical column, counts of the top values. That is
enough to rebuild the ``DatasetSummary`` that drift tests read, without the
raw data: the histogram and the sample are taken from the sketch's buckets
(so KS at small sizes runs on values within 1% of the true ones), the moments
are exact. Columns a profile cannot describe (other types, no sketch) are
returned as lacking, for the caller to read from the version's table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from steward.monitoring.statistics.summary import (
    DEFAULT_BINS,
    DEFAULT_SAMPLE_SIZE,
    DISCRETE_LEVELS,
    OTHER,
    CategoricalSummary,
    ColumnSummary,
    DatasetSummary,
    NumericSummary,
    quantile_edges,
)

if TYPE_CHECKING:
    from steward.data.profile import ColumnProfile, TableProfile

_EXACT_INTEGER_LIMIT = 50
"""Integers up to this size are told apart by the 1%-accurate sketch, so they can be counted."""


def _sketch_values(profile: ColumnProfile) -> tuple[np.ndarray, np.ndarray]:
    """Representative values (ascending, clamped to [min, max]) and their counts."""
    assert profile.sketch is not None
    pairs = list(profile.sketch.buckets())
    values = np.array([value for value, _ in pairs], dtype=np.float64)
    counts = np.array([count for _, count in pairs], dtype=np.int64)
    if values.size and profile.min is not None and profile.max is not None:
        values = np.clip(values, profile.min, profile.max)
    return values, counts


def _numeric(profile: ColumnProfile, bins: int, sample_size: int) -> NumericSummary:
    values, counts = _sketch_values(profile)
    n = int(counts.sum())
    if n <= sample_size:
        sample = np.repeat(values, counts)
        edges = quantile_edges(sample, bins)
    else:
        ranks = (np.arange(sample_size) + 0.5) * n / sample_size
        sample = values[np.searchsorted(np.cumsum(counts), ranks, side="right")]
        edges = quantile_edges(sample, bins)
    cells = np.searchsorted(edges, values, side="right")
    cells[values == edges[-1]] = len(edges) - 1  # the last interval is closed
    cell_counts = np.bincount(cells, weights=counts, minlength=len(edges) + 1).astype(np.int64)
    cell_sums = np.bincount(cells, weights=values * counts, minlength=len(edges) + 1)
    mean = profile.mean if profile.mean is not None else 0.0
    total = mean * profile.count
    return NumericSummary(
        count=profile.count,
        nulls=profile.nulls,
        infinities=0,
        minimum=float("nan") if profile.min is None else float(profile.min),
        maximum=float("nan") if profile.max is None else float(profile.max),
        total=total,
        total_squares=profile.m2 + profile.count * mean * mean,
        edges=edges,
        counts=cell_counts,
        sums=cell_sums,
        sample=sample,
        sample_size=sample_size,
    )


def _integer_levels(profile: ColumnProfile) -> CategoricalSummary | None:
    """Integer codes, flags and labels (few small values) counted as categories."""
    if not profile.dtype.startswith(("int", "uint")) or profile.sketch is None:
        return None
    values, counts = _sketch_values(profile)
    if values.size == 0 or values.size > DISCRETE_LEVELS:
        return None
    if np.abs(values).max() > _EXACT_INTEGER_LIMIT:
        return None
    levels: dict[str, int] = {}
    for value, count in zip(np.rint(values).astype(np.int64), counts, strict=True):
        levels[str(int(value))] = levels.get(str(int(value)), 0) + int(count)
    if len(levels) > DISCRETE_LEVELS:
        return None
    return CategoricalSummary(count=profile.count, nulls=profile.nulls, counts=levels)


def _categorical(profile: ColumnProfile) -> CategoricalSummary:
    counts = dict(profile.top)
    if profile.other:
        counts[OTHER] = counts.get(OTHER, 0) + profile.other
    return CategoricalSummary(count=profile.count, nulls=profile.nulls, counts=counts)


def summary_from_profile(
    profile: TableProfile,
    columns: Sequence[str] | None = None,
    bins: int = DEFAULT_BINS,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
) -> tuple[DatasetSummary, list[str]]:
    """Build a drift reference from a dataset profile.

    Args:
        profile: the stored profile of a dataset version (or of one of its files).
        columns: the columns wanted (default: all).
        bins: fine histogram cells of numeric columns.
        sample_size: values kept per numeric column for exact tests.

    Returns:
        The summary, and the wanted columns the profile could not describe.
    """
    wanted = list(columns) if columns is not None else [c.name for c in profile.columns]
    by_name = {column.name: column for column in profile.columns}
    summaries: dict[str, ColumnSummary] = {}
    dtypes: dict[str, str] = {}
    lacking: list[str] = []
    for name in wanted:
        column = by_name.get(name)
        if column is None:
            lacking.append(name)
            continue
        summary: ColumnSummary | None = None
        if column.kind == "numeric" and column.sketch is not None:
            summary = _integer_levels(column) or _numeric(column, bins, sample_size)
        elif column.kind == "categorical":
            summary = _categorical(column)
        if summary is None:
            lacking.append(name)
            continue
        summaries[name] = summary
        dtypes[name] = _pandas_dtype(column.dtype)
    return DatasetSummary(rows=profile.rows, columns=summaries, dtypes=dtypes), lacking


def _pandas_dtype(arrow_dtype: str) -> str:
    """The short type name ``frames.dtype_name`` gives the same column read by pandas."""
    if arrow_dtype.startswith(("int", "uint")):
        return "integer"
    if arrow_dtype in ("double", "float", "halffloat") or arrow_dtype.startswith("decimal"):
        return "float"
    if arrow_dtype in ("string", "large_string", "utf8", "large_utf8", "dictionary"):
        return "string"
    if arrow_dtype.startswith("timestamp"):
        return "datetime"
    return arrow_dtype
