"""Data, prediction and label drift per column, and the overall verdict.

Both windows are summarised (``statistics/summary.py``) and compared cell by cell, so a
stored reference summary gives the same verdicts as the raw reference.

Defaults (see ``docs/monitoring.md``): when either window has at most
``small_sample`` values, drift is decided by a hypothesis test — two-sample
Kolmogorov-Smirnov for numeric columns, chi-square for categorical ones — at
``alpha`` after Benjamini-Hochberg correction across the columns. Above that,
every tiny shift is "significant", so drift is decided on effect size: the
Wasserstein distance in reference standard deviations (numeric, drift at 0.1)
and the Jensen-Shannon distance (categorical, drift at 0.1). PSI is reported
for every column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from steward.errors import InvalidInput
from steward.monitoring.checks.quality import quality_from_summaries
from steward.monitoring.checks.result import DriftResult, FeatureDrift, Role, SchemaChanges
from steward.monitoring.statistics import frames, stats
from steward.monitoring.statistics.summary import (
    DEFAULT_SAMPLE_SIZE,
    CategoricalSummary,
    ColumnSummary,
    DatasetSummary,
    NumericSummary,
    align_categories,
    as_summary,
)

NUMERIC_TESTS = ("ks", "wasserstein", "psi", "js")
CATEGORICAL_TESTS = ("chi2", "psi", "js")
P_VALUE_TESTS = ("ks", "chi2")
DEFAULT_THRESHOLDS = {"ks": 0.05, "chi2": 0.05, "wasserstein": 0.1, "psi": 0.2, "js": 0.1}
SMALL_SAMPLE = 1_000
"""Up to this many values per window, drift is decided by a p-value."""


def drift(
    reference: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    prediction: str | None = None,
    target: str | None = None,
    tests: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    importance: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    alpha: float = 0.05,
    correction: str | None = "bh",
    small_sample: int = SMALL_SAMPLE,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
) -> DriftResult:
    """Compare a current window with a reference, column by column.

    Args:
        reference: a pandas DataFrame, a pyarrow Table or a ``DatasetSummary``.
        current: the window to check, of the same kinds.
        columns: columns to check (default: every column of the reference).
        categorical: columns to treat as categorical whatever their dtype.
        prediction: the model-output column (prediction drift).
        target: the label column (label drift).
        tests: a test per column: ``ks``, ``wasserstein``, ``psi``, ``js`` or ``chi2``.
        thresholds: a threshold per column, overriding the test's default.
        importance: weights of features in the dataset verdict (default 1 each).
        drift_share: the (weighted) share of drifted features that means dataset drift.
        alpha: significance level of the hypothesis tests.
        correction: ``"bh"`` (Benjamini-Hochberg across columns) or None.
        small_sample: up to this many values, decide by p-value; above, by effect size.
        sample_size: values kept per numeric column for exact tests.

    Returns:
        A ``DriftResult``; bad input is reported in its rows, never raised.

    Raises:
        InvalidInput: an argument (not the data) is malformed.
    """
    if correction not in ("bh", None):
        raise InvalidInput(f"correction must be 'bh' or None, not {correction!r}.")
    if not 0 < drift_share <= 1:
        raise InvalidInput(f"drift_share must be in (0, 1], not {drift_share!r}.")
    tests = dict(tests or {})
    for name, test in tests.items():
        if test not in DEFAULT_THRESHOLDS:
            raise InvalidInput(
                f"unknown test {test!r} for column {name!r}; use one of "
                f"{', '.join(sorted(DEFAULT_THRESHOLDS))}."
            )
    thresholds = dict(thresholds or {})
    weights = dict(importance or {})

    reference_summary = as_summary(reference, None, categorical, sample_size)
    current_summary = as_summary(current, reference_summary, categorical, sample_size)
    roles: dict[str, Role] = {}
    if prediction:
        roles[prediction] = "prediction"
    if target:
        roles[target] = "target"
    names = list(columns) if columns is not None else list(reference_summary.columns)
    for name in roles:
        if name not in names and (
            name in reference_summary.columns or name in current_summary.columns
        ):
            names.append(name)

    rows: list[FeatureDrift] = []
    for name in names:
        ref_column = reference_summary.columns.get(name)
        cur_column = current_summary.columns.get(name)
        base = {
            "column": name,
            "role": roles.get(name, "feature"),
            "importance": float(weights.get(name, 1.0)),
        }
        if ref_column is None:
            rows.append(_not_tested(base, "?", "missing", "not in the reference window"))
            continue
        if cur_column is None:
            rows.append(_not_tested(base, ref_column.kind, "missing", "not in the current window"))
            continue
        if ref_column.kind != cur_column.kind:
            rows.append(
                _not_tested(
                    base,
                    ref_column.kind,
                    "retyped",
                    f"{ref_column.kind} in the reference but {cur_column.kind} now "
                    f"({reference_summary.dtypes.get(name)} → {current_summary.dtypes.get(name)})",
                )
            )
            continue
        chosen = tests.get(name)
        if isinstance(ref_column, NumericSummary) and isinstance(cur_column, NumericSummary):
            raw = _RawColumns(reference, current, name)
            rows.append(_numeric(base, ref_column, cur_column, raw, chosen, small_sample))
        elif isinstance(ref_column, CategoricalSummary) and isinstance(
            cur_column, CategoricalSummary
        ):
            rows.append(_categorical(base, ref_column, cur_column, chosen, small_sample))
        else:
            dtype = reference_summary.dtypes.get(name, "?")
            rows.append(
                _not_tested(base, "unsupported", "skipped", f"{dtype} columns are not checked")
            )

    rows = _decide(rows, thresholds, alpha, correction)
    schema = SchemaChanges.between(reference_summary, current_summary)
    share = _drift_share(rows)

    quality = quality_from_summaries(reference_summary, current_summary, schema)
    notes = []
    if current_summary.rows == 0:
        notes.append("the current window is empty: nothing could be compared")
    if reference_summary.rows == 0:
        notes.append("the reference window is empty: nothing could be compared")
    return DriftResult(
        features=tuple(rows),
        dataset_drift=bool(share >= drift_share),
        drift_share=share,
        drift_share_threshold=drift_share,
        schema=schema,
        reference_rows=reference_summary.rows,
        current_rows=current_summary.rows,
        quality=quality,
        reference_summary=reference_summary,
        current_summary=current_summary,
        notes=tuple(notes),
    )


class _RawColumns:
    """Raw values of one column in each window, read only if an exact test needs them."""

    def __init__(self, reference: Any, current: Any, name: str) -> None:
        self._windows = (reference, current)
        self._name = name

    def values(self, which: int) -> np.ndarray | None:
        window = self._windows[which]
        if isinstance(window, DatasetSummary):
            return None
        values = frames.numeric_values(frames.column(window, self._name))
        return values[np.isfinite(values)]


def _not_tested(base: dict[str, Any], kind: str, status: str, note: str) -> FeatureDrift:
    return FeatureDrift(
        **base,
        kind=kind,
        test=None,
        statistic=None,
        p_value=None,
        score=None,
        threshold=None,
        drifted=None,
        effect_size=None,
        effect_measure=None,
        status=status,  # type: ignore[arg-type]
        notes=(note,),
    )


def _size_notes(n_reference: int, n_current: int) -> list[str]:
    notes = []
    smallest = min(n_reference, n_current)
    if 0 < smallest < 30:
        notes.append(f"only {smallest} value(s) in one window: the test has little power")
    return notes


def _empty(
    base: dict[str, Any], kind: str, ref: ColumnSummary, cur: ColumnSummary
) -> FeatureDrift | None:
    n_ref = getattr(ref, "count", 0)
    n_cur = getattr(cur, "count", 0)
    if n_ref and n_cur:
        return None
    side = "reference" if not n_ref else "current"
    rows = ref.rows if not n_ref else cur.rows
    what = "is empty" if rows == 0 else f"has only missing values ({rows} rows)"
    row = _not_tested(base, kind, "empty", f"the {side} window {what}")
    return replace(row, n_reference=n_ref, n_current=n_cur)


def _numeric(
    base: dict[str, Any],
    ref: NumericSummary,
    cur: NumericSummary,
    raw: _RawColumns,
    test: str | None,
    small_sample: int,
) -> FeatureDrift:
    empty = _empty(base, "numeric", ref, cur)
    if empty is not None:
        return empty
    if test is not None and test not in NUMERIC_TESTS:
        return _not_tested(base, "numeric", "skipped", f"test {test!r} is not for numeric columns")
    notes = _size_notes(ref.count, cur.count)
    for side, summary in (("reference", ref), ("current", cur)):
        if summary.infinities:
            notes.append(f"{summary.infinities} infinite value(s) in the {side} were left out")
    test = test or ("ks" if min(ref.count, cur.count) <= small_sample else "wasserstein")

    exact = ref.sample_is_complete and cur.sample_is_complete
    ks_statistic = stats.ks_from_histograms(ref.counts, cur.counts)
    if exact:
        wasserstein = stats.wasserstein_exact(ref.sample, cur.sample)
    else:
        wasserstein = stats.wasserstein_from_histograms(
            ref.edges, ref.counts, ref.sums, cur.counts, cur.sums
        )
    std = ref.std
    if std > 0:
        effect = wasserstein / std
    else:
        effect = 0.0 if wasserstein == 0 else float("inf")
        notes.append("the reference is constant: any change counts as drift")
    labels = stats.coarse_cells(ref.counts)
    coarse_ref = stats.regroup(ref.counts, labels)
    coarse_cur = stats.regroup(cur.counts, labels)
    psi = stats.psi(coarse_ref, coarse_cur)
    js = stats.js_distance(coarse_ref, coarse_cur)

    p_value: float | None = None
    statistic: float
    if test == "ks":
        reference_values = ref.sample if ref.sample_is_complete else raw.values(0)
        current_values = cur.sample if cur.sample_is_complete else raw.values(1)
        if reference_values is None or current_values is None:
            notes.append("KS on a bounded sample of a stored summary, not on every value")
            reference_values = ref.sample if reference_values is None else reference_values
            current_values = cur.sample if current_values is None else current_values
        if max(reference_values.size, current_values.size) > 100_000:
            ks_statistic = stats.ks_statistic_sorted(reference_values, current_values)
            p_value = stats.ks_p_value(ks_statistic, reference_values.size, current_values.size)
        else:
            ks_statistic, p_value = stats.ks_exact(reference_values, current_values)
        statistic = ks_statistic
    elif test == "wasserstein":
        statistic = effect
    elif test == "psi":
        statistic = psi
    else:
        statistic = js
    if std == 0 and test == "ks":
        notes.append("KS on a constant reference compares shares equal to the constant")
    return _tested(
        base,
        "numeric",
        test,
        statistic,
        p_value,
        effect,
        "wasserstein / reference std",
        (ref.count, cur.count),
        notes,
        psi=psi,
        js_distance=js,
        wasserstein=wasserstein,
        ks_statistic=ks_statistic,
    )


def _tested(
    base: dict[str, Any],
    kind: str,
    test: str,
    statistic: float,
    p_value: float | None,
    effect: float,
    measure: str,
    sizes: tuple[int, int],
    notes: list[str],
    psi: float,
    js_distance: float,
    wasserstein: float | None = None,
    ks_statistic: float | None = None,
) -> FeatureDrift:
    """A tested row, before the verdict (``_decide`` sets score, threshold and drifted)."""
    return FeatureDrift(
        **base,
        kind=kind,
        test=test,
        statistic=statistic,
        p_value=p_value,
        score=statistic if p_value is None else p_value,
        threshold=None,
        drifted=None,
        effect_size=effect,
        effect_measure=measure,
        n_reference=sizes[0],
        n_current=sizes[1],
        status="warning" if notes else "ok",
        notes=tuple(notes),
        psi=psi,
        js_distance=js_distance,
        wasserstein=wasserstein,
        ks_statistic=ks_statistic,
    )


def _categorical(
    base: dict[str, Any],
    ref: CategoricalSummary,
    cur: CategoricalSummary,
    test: str | None,
    small_sample: int,
) -> FeatureDrift:
    empty = _empty(base, "categorical", ref, cur)
    if empty is not None:
        return empty
    if test is not None and test not in CATEGORICAL_TESTS:
        return _not_tested(
            base, "categorical", "skipped", f"test {test!r} is not for categorical columns"
        )
    notes = _size_notes(ref.count, cur.count)
    test = test or ("chi2" if min(ref.count, cur.count) <= small_sample else "js")
    _, ref_counts, cur_counts, unseen = align_categories(ref, cur)
    if unseen:
        notes.append(
            f"{len(unseen)} categor{'y' if len(unseen) == 1 else 'ies'} unseen in the reference"
        )
    if ref.truncated or cur.truncated:
        notes.append(f"more than {ref.max_categories} categories: the rarest are pooled as 'other'")
    psi = stats.psi(ref_counts, cur_counts)
    js = stats.js_distance(ref_counts, cur_counts)
    p_value: float | None = None
    if test == "chi2":
        statistic, p_value, sparse = stats.chi_square(ref_counts, cur_counts)
        if sparse > 0.2:
            notes.append(
                f"{sparse:.0%} of cells expect fewer than 5 values: the chi-square p-value is rough"
            )
    else:
        statistic = psi if test == "psi" else js
    return _tested(
        base,
        "categorical",
        test,
        statistic,
        p_value,
        js,
        "jensen-shannon distance",
        (ref.count, cur.count),
        notes,
        psi=psi,
        js_distance=js,
    )


def _decide(
    rows: list[FeatureDrift],
    thresholds: Mapping[str, float],
    alpha: float,
    correction: str | None,
) -> list[FeatureDrift]:
    tested = [
        i for i, row in enumerate(rows) if row.test in P_VALUE_TESTS and row.p_value is not None
    ]
    adjusted = {i: rows[i].p_value for i in tested}
    if correction == "bh" and len(tested) > 1:
        values = stats.benjamini_hochberg([rows[i].p_value for i in tested])  # type: ignore[misc]
        adjusted = {i: float(value) for i, value in zip(tested, values, strict=True)}
    decided = []
    for i, row in enumerate(rows):
        if row.test is None:
            decided.append(row)
            continue
        if row.test in P_VALUE_TESTS:
            threshold = thresholds.get(row.column, alpha)
            score = adjusted.get(i)
            verdict = score is not None and score <= threshold
        else:
            threshold = thresholds.get(row.column, DEFAULT_THRESHOLDS[row.test])
            score = row.score
            verdict = score is not None and score >= threshold
        decided.append(replace(row, score=score, threshold=threshold, drifted=bool(verdict)))
    return decided


def _drift_share(rows: list[FeatureDrift]) -> float:
    features = [row for row in rows if row.role == "feature" and row.drifted is not None]
    total = sum(row.importance for row in features)
    if total <= 0:
        return 0.0
    return float(sum(row.importance for row in features if row.drifted) / total)
