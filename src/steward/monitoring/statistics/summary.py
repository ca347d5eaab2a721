"""Mergeable per-column summaries: what drift and quality checks read.

A reference is summarised once and never re-read: numeric columns keep
count, nulls, infinities, min/max, sum and sum of squares, a histogram over
fixed edges (quantiles of the reference) with per-bin sums, and a bounded
uniform sample for exact tests at small sizes; categorical columns keep
counts per category, capped, with an "other" bucket. Windows summarised
against the same edges merge: ``a.merge(b)`` equals the summary of the
concatenated data (the sample is a uniform sample of the union, not the same
draw). Everything is vectorised with NumPy; no Python loop per row.

An adapter from the data team's dataset profiles only needs to build a
``DatasetSummary`` from their counts, quantiles and top categories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from steward.errors import InvalidInput
from steward.monitoring.statistics import frames

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_BINS = 100
"""Fine histogram bins: each holds about 1% of the reference."""
DEFAULT_SAMPLE_SIZE = 5_000
"""Values kept per numeric column for exact tests; smaller columns are kept whole."""
DEFAULT_MAX_CATEGORIES = 1_000
"""Distinct categories kept per column; the rest are counted in ``OTHER``."""
DISCRETE_LEVELS = 10
"""Integer columns of the reference with at most this many values are categorical."""
OTHER = "__other__"
"""The bucket of categories beyond the cap."""


@dataclass(frozen=True, eq=False)
class NumericSummary:
    """A mergeable summary of one numeric column.

    ``counts`` and ``sums`` have ``len(edges) + 1`` cells: values below
    ``edges[0]``, one cell per interval ``[edges[i], edges[i+1])`` (the last
    one closed), and values above ``edges[-1]``.
    """

    count: int
    nulls: int
    infinities: int
    minimum: float
    maximum: float
    total: float
    total_squares: float
    edges: np.ndarray
    counts: np.ndarray
    sums: np.ndarray
    sample: np.ndarray
    sample_size: int = DEFAULT_SAMPLE_SIZE
    kind: Literal["numeric"] = "numeric"

    @property
    def rows(self) -> int:
        """All rows seen, including nulls and infinities."""
        return self.count + self.nulls + self.infinities

    @property
    def mean(self) -> float:
        """Mean of the finite values (NaN when there are none)."""
        return self.total / self.count if self.count else float("nan")

    @property
    def std(self) -> float:
        """Population standard deviation of the finite values."""
        if not self.count:
            return float("nan")
        variance = self.total_squares / self.count - self.mean**2
        return float(np.sqrt(max(variance, 0.0)))

    @property
    def sample_is_complete(self) -> bool:
        """True when the sample holds every finite value (exact tests possible)."""
        return len(self.sample) == self.count

    def merge(self, other: NumericSummary) -> NumericSummary:
        """The summary of both windows together.

        Raises:
            InvalidInput: the two were summarised over different edges.
        """
        if not np.array_equal(self.edges, other.edges):
            raise InvalidInput(
                "numeric summaries over different histogram edges cannot be merged; summarise "
                "both windows against the same reference (summarize(data, like=reference))."
            )
        count = self.count + other.count
        return NumericSummary(
            count=count,
            nulls=self.nulls + other.nulls,
            infinities=self.infinities + other.infinities,
            minimum=float(np.fmin(self.minimum, other.minimum)),
            maximum=float(np.fmax(self.maximum, other.maximum)),
            total=self.total + other.total,
            total_squares=self.total_squares + other.total_squares,
            edges=self.edges,
            counts=self.counts + other.counts,
            sums=self.sums + other.sums,
            sample=_merge_samples(self, other, max(self.sample_size, other.sample_size)),
            sample_size=max(self.sample_size, other.sample_size),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "kind": self.kind,
            "count": self.count,
            "nulls": self.nulls,
            "infinities": self.infinities,
            "minimum": _json_float(self.minimum),
            "maximum": _json_float(self.maximum),
            "total": self.total,
            "total_squares": self.total_squares,
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "sums": self.sums.tolist(),
            "sample": self.sample.tolist(),
            "sample_size": self.sample_size,
        }


@dataclass(frozen=True, eq=False)
class CategoricalSummary:
    """A mergeable summary of one categorical column (category → count)."""

    count: int
    nulls: int
    counts: dict[str, int]
    max_categories: int = DEFAULT_MAX_CATEGORIES
    kind: Literal["categorical"] = "categorical"

    @property
    def rows(self) -> int:
        """All rows seen, including nulls."""
        return self.count + self.nulls

    @property
    def truncated(self) -> bool:
        """True when rare categories were folded into ``OTHER``."""
        return OTHER in self.counts

    def merge(self, other: CategoricalSummary) -> CategoricalSummary:
        """The summary of both windows together (exact until the cap is reached)."""
        counts = dict(self.counts)
        for key, value in other.counts.items():
            counts[key] = counts.get(key, 0) + value
        cap = max(self.max_categories, other.max_categories)
        return CategoricalSummary(
            count=self.count + other.count,
            nulls=self.nulls + other.nulls,
            counts=_cap_categories(counts, cap),
            max_categories=cap,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "kind": self.kind,
            "count": self.count,
            "nulls": self.nulls,
            "counts": dict(self.counts),
            "max_categories": self.max_categories,
        }


@dataclass(frozen=True, eq=False)
class UnsupportedSummary:
    """A column whose type is not checked for drift (dates, nested values…)."""

    rows: int
    dtype: str
    kind: Literal["unsupported"] = "unsupported"

    def merge(self, other: UnsupportedSummary) -> UnsupportedSummary:
        """Rows of both windows."""
        return UnsupportedSummary(rows=self.rows + other.rows, dtype=self.dtype)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {"kind": self.kind, "rows": self.rows, "dtype": self.dtype}


ColumnSummary = NumericSummary | CategoricalSummary | UnsupportedSummary


@dataclass(frozen=True, eq=False)
class DatasetSummary:
    """Summaries of every column of one window, plus its row count and dtypes."""

    rows: int
    columns: dict[str, ColumnSummary]
    dtypes: dict[str, str]
    duplicate_rows: int | None = None
    notes: tuple[str, ...] = field(default=())

    def merge(self, other: DatasetSummary) -> DatasetSummary:
        """The summary of both windows together; columns in only one are kept as they are.

        ``duplicate_rows`` is dropped: duplicates across windows cannot be counted
        from per-window counts.
        """
        columns: dict[str, ColumnSummary] = {}
        for name in [*self.columns, *(c for c in other.columns if c not in self.columns)]:
            mine, theirs = self.columns.get(name), other.columns.get(name)
            if mine is not None and theirs is not None:
                if mine.kind != theirs.kind:
                    raise InvalidInput(
                        f"column {name!r} is {mine.kind} in one summary and {theirs.kind} in "
                        "the other; summaries of different schemas cannot be merged."
                    )
                columns[name] = mine.merge(theirs)  # type: ignore[arg-type]
            else:
                columns[name] = mine if mine is not None else theirs  # type: ignore[assignment]
        return DatasetSummary(
            rows=self.rows + other.rows,
            columns=columns,
            dtypes={**other.dtypes, **self.dtypes},
            duplicate_rows=None,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "rows": self.rows,
            "dtypes": dict(self.dtypes),
            "duplicate_rows": self.duplicate_rows,
            "columns": {name: column.to_dict() for name, column in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetSummary:
        """Rebuild a summary written by ``to_dict``."""
        columns: dict[str, ColumnSummary] = {}
        for name, raw in data["columns"].items():
            if raw["kind"] == "numeric":
                columns[name] = NumericSummary(
                    count=raw["count"],
                    nulls=raw["nulls"],
                    infinities=raw["infinities"],
                    minimum=float(raw["minimum"]),
                    maximum=float(raw["maximum"]),
                    total=raw["total"],
                    total_squares=raw["total_squares"],
                    edges=np.asarray(raw["edges"], dtype=np.float64),
                    counts=np.asarray(raw["counts"], dtype=np.int64),
                    sums=np.asarray(raw["sums"], dtype=np.float64),
                    sample=np.asarray(raw["sample"], dtype=np.float64),
                    sample_size=raw["sample_size"],
                )
            elif raw["kind"] == "categorical":
                columns[name] = CategoricalSummary(
                    count=raw["count"],
                    nulls=raw["nulls"],
                    counts=dict(raw["counts"]),
                    max_categories=raw["max_categories"],
                )
            else:
                columns[name] = UnsupportedSummary(rows=raw["rows"], dtype=raw["dtype"])
        return cls(
            rows=data["rows"],
            columns=columns,
            dtypes=dict(data["dtypes"]),
            duplicate_rows=data.get("duplicate_rows"),
        )


def _json_float(value: float) -> float | str:
    return value if np.isfinite(value) else str(value)


def _merge_samples(a: NumericSummary, b: NumericSummary, size: int) -> np.ndarray:
    """A uniform sample of the union from uniform samples of each part."""
    total = a.count + b.count
    if len(a.sample) + len(b.sample) <= size:
        return np.concatenate([a.sample, b.sample])
    rng = np.random.default_rng(total)
    take = min(size, total)
    from_a = int(rng.hypergeometric(a.count, b.count, take)) if a.count and b.count else None
    if from_a is None:
        from_a = take if a.count else 0
    from_a = min(from_a, len(a.sample))
    from_b = min(take - from_a, len(b.sample))
    part_a = rng.choice(a.sample, from_a, replace=False) if from_a else a.sample[:0]
    part_b = rng.choice(b.sample, from_b, replace=False) if from_b else b.sample[:0]
    return np.concatenate([part_a, part_b])


def _cap_categories(counts: dict[str, int], cap: int) -> dict[str, int]:
    if len(counts) <= cap:
        return counts
    other = counts.pop(OTHER, 0)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[: cap - 1])
    kept[OTHER] = other + sum(value for _, value in ranked[cap - 1 :])
    return kept


def quantile_edges(values: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Histogram edges at the quantiles of ``values`` (finite values only), deduplicated."""
    return _edges_of_sorted(np.sort(np.asarray(values, dtype=np.float64)), bins)


def _edges_of_sorted(ordered: np.ndarray, bins: int) -> np.ndarray:
    """Quantile edges (NumPy's default linear interpolation) of an already sorted array."""
    if ordered.size == 0:
        return np.array([0.0, 1.0])
    position = np.linspace(0.0, 1.0, bins + 1) * (ordered.size - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, ordered.size - 1)
    fraction = position - low
    edges = ordered[low] + fraction * (ordered[high] - ordered[low])
    edges = np.unique(np.clip(edges, ordered[0], ordered[-1]))
    if edges.size == 1:
        edges = np.array([edges[0], np.nextafter(edges[0], np.inf)])
    return edges


def summarize_numeric(
    values: np.ndarray,
    edges: np.ndarray | None = None,
    bins: int = DEFAULT_BINS,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: int = 0,
) -> NumericSummary:
    """Summarise a float array (NaN = null) over ``edges`` (quantile edges if None).

    One sort per column: cell counts and sums then come from ``searchsorted``
    of the edges into the sorted values and a cumulative sum, which is several
    times faster than locating every value among the edges.
    """
    values = np.asarray(values, dtype=np.float64)
    finite_mask = np.isfinite(values)
    all_finite = bool(finite_mask.all())
    finite = values if all_finite else values[finite_mask]
    nan_count = 0 if all_finite else int(np.isnan(values).sum())
    infinities = int(values.size - finite.size - nan_count)
    ordered = np.sort(finite)
    if edges is None:
        edges = _edges_of_sorted(ordered, bins)
    n = ordered.size
    starts = np.searchsorted(ordered, edges, side="left")
    bounds = np.empty(len(edges) + 2, dtype=np.int64)
    bounds[0] = 0
    bounds[1:-2] = starts[:-1]
    bounds[-2] = np.searchsorted(ordered, edges[-1], side="right")  # last cell is closed
    bounds[-1] = n
    counts = np.diff(bounds)
    running = np.empty(n + 1)
    running[0] = 0.0
    np.cumsum(ordered, out=running[1:])
    sums = np.diff(running[bounds])
    del running
    if n:
        minimum, maximum = float(ordered[0]), float(ordered[-1])
        total, total_squares = float(ordered.sum()), float(np.dot(ordered, ordered))
    else:
        minimum, maximum, total, total_squares = float("nan"), float("nan"), 0.0, 0.0
    if n <= sample_size:
        sample = finite.copy()
    else:
        rng = np.random.default_rng(seed)
        sample = finite[np.sort(rng.choice(n, sample_size, replace=False))]
    return NumericSummary(
        count=int(n),
        nulls=nan_count,
        infinities=infinities,
        minimum=minimum,
        maximum=maximum,
        total=total,
        total_squares=total_squares,
        edges=edges,
        counts=counts.astype(np.int64),
        sums=sums,
        sample=sample,
        sample_size=sample_size,
    )


def summarize_categorical(
    values: pd.Series, max_categories: int = DEFAULT_MAX_CATEGORIES
) -> CategoricalSummary:
    """Summarise a pandas Series of categories (counts per category, capped)."""
    counted = values.value_counts(dropna=True, sort=False)
    counted = counted[counted > 0]
    counts = {str(key): int(value) for key, value in counted.items()}
    # Distinct values can share a text form (1 and "1"): their counts add up.
    if len(counts) < len(counted):
        counts = {}
        for key, value in counted.items():
            counts[str(key)] = counts.get(str(key), 0) + int(value)
    count = int(counted.sum())
    return CategoricalSummary(
        count=count,
        nulls=int(len(values) - count),
        counts=_cap_categories(counts, max_categories),
        max_categories=max_categories,
    )


def summarize(
    data: Any,
    like: DatasetSummary | None = None,
    categorical: list[str] | tuple[str, ...] = (),
    bins: int = DEFAULT_BINS,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    count_duplicates: bool = False,
) -> DatasetSummary:
    """Summarise a DataFrame or pyarrow Table, column by column.

    Args:
        data: the window.
        like: a reference summary: numeric columns reuse its edges and kinds so
            the two can be compared and merged. Columns it lacks get their own.
        categorical: columns to treat as categorical whatever their dtype.
        bins: fine histogram bins for new numeric columns.
        sample_size: values kept per numeric column for exact tests.
        max_categories: distinct categories kept per categorical column.
        count_duplicates: also count duplicate rows (hashes every row).

    Returns:
        The window's summary.
    """
    import pandas as pd

    forced = set(categorical)
    columns: dict[str, ColumnSummary] = {}
    dtypes: dict[str, str] = {}
    for name, series in frames.iter_columns(data):
        dtypes[name] = frames.dtype_name(series)
        known = like.columns.get(name) if like is not None else None
        kind = frames.column_kind(series, categorical=name in forced)
        if isinstance(known, CategoricalSummary) and kind == "numeric":
            kind = "categorical"
        elif (
            known is None
            and kind == "numeric"
            and pd.api.types.is_integer_dtype(series.dtype)
            and series.nunique(dropna=True) <= DISCRETE_LEVELS
        ):
            kind = "categorical"  # codes, flags and labels: compare shares, not distances
        if kind == "numeric":
            edges = known.edges if isinstance(known, NumericSummary) else None
            columns[name] = summarize_numeric(
                frames.numeric_values(series), edges, bins=bins, sample_size=sample_size
            )
        elif kind == "categorical":
            columns[name] = summarize_categorical(series, max_categories)
        else:
            columns[name] = UnsupportedSummary(rows=len(series), dtype=dtypes[name])
    duplicates = None
    if count_duplicates and isinstance(data, pd.DataFrame) and len(data.columns):
        duplicates = _duplicate_rows(data)
    return DatasetSummary(
        rows=frames.row_count(data), columns=columns, dtypes=dtypes, duplicate_rows=duplicates
    )


def _duplicate_rows(df: pd.DataFrame) -> int:
    import pandas as pd

    try:
        hashes = pd.util.hash_pandas_object(df, index=False).to_numpy()
    except TypeError:  # unhashable cells (lists, dicts): compare their text
        hashes = pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy()
    return int(hashes.size - np.unique(hashes).size)


def replace_edges(summary: NumericSummary, **changes: Any) -> NumericSummary:
    """A copy of ``summary`` with fields changed (for adapters and tests)."""
    return replace(summary, **changes)


def as_summary(
    data: Any, like: DatasetSummary | None, categorical: Sequence[str], sample_size: int
) -> DatasetSummary:
    """``data`` itself when it is a summary, else its summary (like ``summarize``).

    Raises:
        InvalidInput: ``data`` is neither a summary nor a DataFrame or pyarrow Table.
    """
    if isinstance(data, DatasetSummary):
        return data
    frames.column_names(data)  # raises a clear error for anything but a frame
    return summarize(data, like=like, categorical=tuple(categorical), sample_size=sample_size)


def align_categories(
    reference: CategoricalSummary, current: CategoricalSummary
) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """Reference and current counts over the same categories.

    Returns:
        (categories, reference counts, current counts, categories unseen in the reference).
        When the reference was capped, unseen categories are counted in its "other" bucket.
    """
    keys = list(reference.counts)
    unseen = [key for key in current.counts if key not in reference.counts and key != OTHER]
    folded = OTHER in reference.counts
    if not folded:
        keys.extend(unseen)
        if OTHER in current.counts:
            keys.append(OTHER)
    index = {key: i for i, key in enumerate(keys)}
    ref_counts = np.array([reference.counts.get(key, 0) for key in keys], dtype=np.float64)
    cur_counts = np.zeros(len(keys))
    for key, value in current.counts.items():
        cur_counts[index.get(key, index.get(OTHER, 0))] += value
    return keys, ref_counts, cur_counts, unseen
