"""Summaries merge: the summary of two windows is the summary of both together."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steward.errors import InvalidInput
from steward.monitoring.statistics.summary import (
    OTHER,
    DatasetSummary,
    quantile_edges,
    summarize,
    summarize_categorical,
    summarize_numeric,
)

floats = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.just(float("nan")),
    st.just(float("inf")),
)


@settings(max_examples=150, deadline=None)
@given(
    reference=st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=60),
    a=st.lists(floats, max_size=80),
    b=st.lists(floats, max_size=80),
    sample_size=st.integers(1, 50),
)
def test_numeric_merge_equals_whole(
    reference: list[float], a: list[float], b: list[float], sample_size: int
) -> None:
    edges = quantile_edges(np.asarray(reference), bins=10)
    left = summarize_numeric(np.asarray(a, dtype=float), edges, sample_size=sample_size)
    right = summarize_numeric(np.asarray(b, dtype=float), edges, sample_size=sample_size)
    whole = summarize_numeric(np.asarray(a + b, dtype=float), edges, sample_size=sample_size)
    merged = left.merge(right)
    assert (merged.count, merged.nulls, merged.infinities) == (
        whole.count,
        whole.nulls,
        whole.infinities,
    )
    assert np.array_equal(merged.counts, whole.counts)
    assert np.allclose(merged.sums, whole.sums, rtol=1e-9, atol=1e-6)
    assert merged.total == pytest.approx(whole.total, rel=1e-9, abs=1e-6)
    assert merged.total_squares == pytest.approx(whole.total_squares, rel=1e-9, abs=1e-6)
    if whole.count:
        assert merged.minimum == whole.minimum and merged.maximum == whole.maximum
    assert len(merged.sample) == min(sample_size, whole.count)
    finite = [x for x in a + b if np.isfinite(x)]
    assert set(merged.sample.tolist()) <= set(finite)
    assert merged.sample_is_complete == (whole.count <= sample_size)


@settings(max_examples=150, deadline=None)
@given(
    a=st.lists(st.one_of(st.none(), st.sampled_from("abcdefgh")), max_size=60),
    b=st.lists(st.one_of(st.none(), st.sampled_from("abcdefghij")), max_size=60),
)
def test_categorical_merge_equals_whole_below_the_cap(
    a: list[str | None], b: list[str | None]
) -> None:
    merged = summarize_categorical(pd.Series(a, dtype=object)).merge(
        summarize_categorical(pd.Series(b, dtype=object))
    )
    whole = summarize_categorical(pd.Series(a + b, dtype=object))
    assert merged.counts == whole.counts
    assert (merged.count, merged.nulls) == (whole.count, whole.nulls)


def test_categorical_cap_pools_the_rarest_into_other() -> None:
    values = pd.Series([f"level-{i % 3000}" for i in range(9000)] + ["top"] * 50)
    summary = summarize_categorical(values, max_categories=100)
    assert len(summary.counts) == 100
    assert summary.counts["top"] == 50
    assert sum(summary.counts.values()) == summary.count == 9050
    assert summary.truncated and OTHER in summary.counts


def test_dataset_summary_round_trips_and_refuses_foreign_edges() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)})
    summary = summarize(df)
    again = DatasetSummary.from_dict(summary.to_dict())
    assert again.to_dict() == summary.to_dict()
    other = summarize(df * 1 if False else pd.DataFrame({"x": rng.normal(5, size=50)}))
    with pytest.raises(InvalidInput, match="same reference"):
        summary.merge(other)


def test_windows_merge_against_a_reference() -> None:
    rng = np.random.default_rng(1)
    reference = summarize(pd.DataFrame({"x": rng.normal(size=2000)}))
    data = pd.DataFrame({"x": rng.normal(size=3000)})
    first = summarize(data.iloc[:1000], like=reference)
    second = summarize(data.iloc[1000:], like=reference)
    whole = summarize(data, like=reference)
    merged = first.merge(second)
    assert np.array_equal(merged.columns["x"].counts, whole.columns["x"].counts)  # type: ignore[union-attr]
    assert merged.rows == 3000


def test_pyarrow_tables_are_summarised_like_dataframes() -> None:
    import pyarrow as pa

    df = pd.DataFrame({"x": [1.0, None, 3.0, float("inf")], "c": ["a", None, "b", "a"]})
    from_arrow = summarize(pa.Table.from_pandas(df))
    from_pandas = summarize(df)
    assert from_arrow.to_dict()["columns"] == from_pandas.to_dict()["columns"]
    assert from_pandas.columns["x"].nulls == 1  # type: ignore[union-attr]
    assert from_pandas.columns["x"].infinities == 1  # type: ignore[union-attr]
