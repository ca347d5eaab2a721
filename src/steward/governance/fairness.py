"""Fairness of a classifier's decisions across groups, with intervals for small groups.

Definitions follow fairlearn's (tests compare the two on the same data):
selection rate is the share predicted positive; demographic parity
difference and ratio are the largest gap and smallest ratio of selection
rates between groups; equalised odds difference is the larger of the gaps in
true-positive and false-positive rate. With several sensitive columns, groups
are their combinations (intersectional), as fairlearn's ``MetricFrame``.

Computed with one pass of vectorised group counts (``numpy.bincount`` over
factorised group codes), not a Python call per group and metric: on a
million rows it takes a small fraction of a second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from steward.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

RATE_METRICS = ("selection_rate", "accuracy", "recall", "precision", "false_positive_rate")
DISPARITY_METRICS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "accuracy_difference",
    "recall_difference",
    "precision_difference",
)
DEFAULT_MIN_GROUP_SIZE = 30
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class Interval:
    """A Wilson score interval for a proportion."""

    low: float
    high: float


@dataclass(frozen=True)
class GroupMetrics:
    """The metrics of one group (or of everyone, for the overall row)."""

    group: dict[str, str]
    count: int
    positives: int
    selection_rate: float
    accuracy: float
    recall: float
    precision: float
    false_positive_rate: float
    intervals: dict[str, Interval]
    too_small: bool = False
    mean_score: float | None = None
    brier: float | None = None
    calibration_error: float | None = None

    @property
    def label(self) -> str:
        """``sex=F, region=north``."""
        return ", ".join(f"{key}={value}" for key, value in self.group.items()) or "overall"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (NaN as None)."""
        return {
            "group": dict(self.group),
            "count": self.count,
            "positives": self.positives,
            **{name: _plain(getattr(self, name)) for name in RATE_METRICS},
            "intervals": {name: [i.low, i.high] for name, i in self.intervals.items()},
            "too_small": self.too_small,
            "mean_score": _plain(self.mean_score),
            "brier": _plain(self.brier),
            "calibration_error": _plain(self.calibration_error),
        }


@dataclass(frozen=True)
class FairnessReport:
    """Per-group metrics and the disparities between groups."""

    sensitive: tuple[str, ...]
    groups: tuple[GroupMetrics, ...]
    overall: GroupMetrics
    disparities: dict[str, float]
    min_group_size: int
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def __getattr__(self, name: str) -> float:
        # report.demographic_parity_ratio and friends read from ``disparities``.
        if name in DISPARITY_METRICS:
            return self.disparities[name]
        raise AttributeError(name)

    def by_group(self) -> pd.DataFrame:
        """One row per group: count, rates, calibration, whether too small."""
        import pandas as pd

        rows = []
        for group in self.groups:
            row: dict[str, Any] = dict(group.group)
            row["count"] = group.count
            for name in RATE_METRICS:
                row[name] = getattr(group, name)
            row["mean_score"] = group.mean_score
            row["too_small"] = group.too_small
            rows.append(row)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (what is stored with a model version)."""
        return {
            "sensitive": list(self.sensitive),
            "groups": [group.to_dict() for group in self.groups],
            "overall": self.overall.to_dict(),
            "disparities": {key: _plain(value) for key, value in self.disparities.items()},
            "min_group_size": self.min_group_size,
            "warnings": list(self.warnings),
        }


def _plain(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def wilson_interval(
    successes: np.ndarray, trials: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score intervals for ``successes`` out of ``trials`` (NaN where no trials)."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    n = trials.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = successes / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


def _sensitive_columns(sensitive: Any, data: pd.DataFrame | None, length: int) -> pd.DataFrame:
    """The sensitive columns, from names in ``data`` or from the values given."""
    import pandas as pd

    if isinstance(sensitive, str):
        sensitive = [sensitive]
    if isinstance(sensitive, Sequence) and all(isinstance(item, str) for item in sensitive):
        if data is None:
            raise InvalidInput("sensitive columns given by name need data= to read them from.")
        missing = [name for name in sensitive if name not in data.columns]
        if missing:
            raise InvalidInput(
                f"sensitive column(s) {missing} are not in the data; its columns: "
                f"{list(data.columns)[:20]}."
            )
        frame = data[list(sensitive)]
    elif isinstance(sensitive, pd.Series):
        frame = sensitive.to_frame(name=sensitive.name or "group")
    elif isinstance(sensitive, pd.DataFrame):
        frame = sensitive
    elif isinstance(sensitive, Mapping):
        frame = pd.DataFrame({str(key): value for key, value in sensitive.items()})
    else:
        frame = pd.DataFrame({"group": np.asarray(sensitive)})
    if len(frame) != length:
        raise InvalidInput(f"sensitive features have {len(frame)} rows, predictions {length}.")
    if frame.shape[1] == 0:
        raise InvalidInput("name at least one sensitive column.")
    return frame


_DENSE_LIMIT = 1 << 24
"""Combined group codes below this are counted densely (bincount), else factorised."""


def _group_codes(frame: pd.DataFrame) -> tuple[np.ndarray, list[tuple[Any, ...]]]:
    """One code per row for its combination of values, and each code's values, in sorted
    order of the values (as fairlearn lists its groups).

    Each column is factorised by hashing (not sorting a million strings); only
    its few distinct values are sorted, and the combinations present are
    found by counting.
    """
    import pandas as pd

    combined = np.zeros(len(frame), dtype=np.int64)
    levels: list[np.ndarray] = []
    for index in range(frame.shape[1]):
        codes, uniques = pd.factorize(frame.iloc[:, index], use_na_sentinel=False)
        values = np.asarray(uniques, dtype=object)
        order = np.array(sorted(range(len(values)), key=lambda i: _sort_key(values[i])))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        combined = combined * len(values) + rank[codes]
        levels.append(values[order])
    size = int(np.prod([len(level) for level in levels], dtype=np.float64))
    if size <= _DENSE_LIMIT:
        present = np.flatnonzero(np.bincount(combined, minlength=size))
        lookup = np.zeros(size, dtype=np.int64)
        lookup[present] = np.arange(len(present))
        inverse = lookup[combined]
    else:
        inverse, present = pd.factorize(combined, sort=True)
    keys = []
    for code in np.asarray(present).tolist():
        parts = []
        for uniques in reversed(levels):
            code, position = divmod(code, len(uniques))
            parts.append(uniques[position])
        keys.append(tuple(reversed(parts)))
    return inverse, keys


def _sort_key(value: Any) -> tuple[int, Any]:
    """Missing values last; numbers and text each in their natural order."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (2, "")
    if isinstance(value, int | float | np.number):
        return (0, value)
    return (1, str(value))


def _positive(values: Any, pos_label: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == bool and isinstance(pos_label, bool | int | np.integer):
        return array if bool(pos_label) else ~array
    return np.asarray(array == pos_label)


def fairness_report(
    y_true: Any,
    y_pred: Any,
    sensitive: Any,
    *,
    data: pd.DataFrame | None = None,
    y_score: Any = None,
    pos_label: Any = 1,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    confidence: float = 0.95,
) -> FairnessReport:
    """Per-group rates and the disparities between groups.

    Args:
        y_true: true labels.
        y_pred: predicted labels.
        sensitive: a column name or names in ``data``, or the values (a Series,
            a DataFrame, a dict of name → values, or an array).
        data: the frame the named sensitive columns come from.
        y_score: predicted probabilities of the positive class, for calibration.
        pos_label: the positive (favourable) label.
        min_group_size: groups with fewer rows get a warning and ``too_small``.
        confidence: level of the Wilson intervals.

    Raises:
        InvalidInput: lengths differ, no rows, or a named column is missing.
    """
    truth = _positive(y_true, pos_label)
    predicted = _positive(y_pred, pos_label)
    if truth.shape != predicted.shape or truth.ndim != 1:
        raise InvalidInput(
            f"y_true and y_pred must be 1-D and of one length ({truth.shape} vs {predicted.shape})."
        )
    if truth.size == 0:
        raise InvalidInput("no rows to judge fairness on.")
    frame = _sensitive_columns(sensitive, data, truth.size)
    names = tuple(str(name) for name in frame.columns)
    codes, keys = _group_codes(frame)
    groups = len(keys)
    count = np.bincount(codes, minlength=groups)
    hit = truth & predicted
    tp = np.bincount(codes, weights=hit, minlength=groups)
    predicted_positive = np.bincount(codes, weights=predicted, minlength=groups)
    actual_positive = np.bincount(codes, weights=truth, minlength=groups)
    correct = count - np.bincount(codes, weights=truth ^ predicted, minlength=groups)
    fp = predicted_positive - tp
    actual_negative = count - actual_positive
    scores = None if y_score is None else np.asarray(y_score, dtype=np.float64)
    if scores is not None and scores.shape != truth.shape:
        raise InvalidInput(f"y_score has shape {scores.shape}, predictions {truth.shape}.")

    def rates(
        n: np.ndarray, tp_: np.ndarray, pp: np.ndarray, ap: np.ndarray, ok: np.ndarray
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        fp_, an = pp - tp_, n - ap
        return {
            "selection_rate": (pp, n),
            "accuracy": (ok, n),
            "recall": (tp_, ap),
            "precision": (tp_, pp),
            "false_positive_rate": (fp_, an),
        }

    per_group = rates(count, tp, predicted_positive, actual_positive, correct)
    calibration = _calibration(codes, groups, truth, scores, count) if scores is not None else None
    group_rows = _rows(
        [dict(zip(names, map(str, key), strict=True)) for key in keys],
        count,
        actual_positive,
        per_group,
        calibration,
        confidence,
        min_group_size,
    )
    everyone = rates(
        np.array([truth.size]),
        np.array([tp.sum()]),
        np.array([predicted_positive.sum()]),
        np.array([actual_positive.sum()]),
        np.array([correct.sum()]),
    )
    overall_calibration = (
        _calibration(np.zeros(truth.size, dtype=np.int64), 1, truth, scores, np.array([truth.size]))
        if scores is not None
        else None
    )
    overall = _rows(
        [{}],
        np.array([truth.size]),
        np.array([actual_positive.sum()]),
        everyone,
        overall_calibration,
        confidence,
        0,
    )[0]
    selection = _divide(predicted_positive, count)
    tpr = _divide(tp, actual_positive)
    fpr = _divide(fp, actual_negative)
    disparities = {
        "demographic_parity_difference": _spread(selection),
        "demographic_parity_ratio": _ratio(selection),
        "equalized_odds_difference": max(_spread(tpr), _spread(fpr)),
        "equalized_odds_ratio": min(_ratio(tpr), _ratio(fpr)),
        "accuracy_difference": _spread(_divide(correct, count)),
        "recall_difference": _spread(tpr),
        "precision_difference": _spread(_divide(tp, predicted_positive)),
    }
    warnings = _warnings(group_rows, min_group_size)
    return FairnessReport(
        names, tuple(group_rows), overall, disparities, min_group_size, tuple(warnings)
    )


def _spread(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.max() - finite.min()) if finite.size else math.nan


def _ratio(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    if not finite.size:
        return math.nan
    top = float(finite.max())
    return float(finite.min()) / top if top > 0 else math.nan


def _calibration(
    codes: np.ndarray, groups: int, truth: np.ndarray, scores: np.ndarray, count: np.ndarray
) -> dict[str, np.ndarray]:
    """Mean score, Brier score and expected calibration error (equal-width bins) per group."""
    mean_score = _divide(np.bincount(codes, weights=scores, minlength=groups), count)
    brier = _divide(np.bincount(codes, weights=(scores - truth) ** 2, minlength=groups), count)
    bins = np.minimum((scores * CALIBRATION_BINS).astype(np.int64), CALIBRATION_BINS - 1)
    cell = codes * CALIBRATION_BINS + np.clip(bins, 0, CALIBRATION_BINS - 1)
    size = groups * CALIBRATION_BINS
    score_sum = np.bincount(cell, weights=scores, minlength=size).reshape(groups, -1)
    truth_sum = np.bincount(cell, weights=truth, minlength=size).reshape(groups, -1)
    gap = np.abs(score_sum - truth_sum).sum(axis=1)
    return {"mean_score": mean_score, "brier": brier, "calibration_error": _divide(gap, count)}


def _rows(
    groups: list[dict[str, str]],
    count: np.ndarray,
    positives: np.ndarray,
    per_group: dict[str, tuple[np.ndarray, np.ndarray]],
    calibration: dict[str, np.ndarray] | None,
    confidence: float,
    min_group_size: int,
) -> list[GroupMetrics]:
    values = {name: _divide(num, den) for name, (num, den) in per_group.items()}
    bounds = {name: wilson_interval(num, den, confidence) for name, (num, den) in per_group.items()}
    rows = []
    for index, group in enumerate(groups):
        extra: dict[str, float | None] = {}
        if calibration is not None:
            extra = {name: float(array[index]) for name, array in calibration.items()}
        rows.append(
            GroupMetrics(
                group=group,
                count=int(count[index]),
                positives=int(positives[index]),
                **{name: float(values[name][index]) for name in RATE_METRICS},
                intervals={
                    name: Interval(float(low[index]), float(high[index]))
                    for name, (low, high) in bounds.items()
                },
                too_small=int(count[index]) < min_group_size,
                **extra,  # type: ignore[arg-type]
            )
        )
    return rows


def _warnings(groups: list[GroupMetrics], min_group_size: int) -> list[str]:
    notes = []
    for group in groups:
        if group.too_small:
            notes.append(
                f"group {group.label} has {group.count} rows (fewer than {min_group_size}): "
                "too small to judge; read its intervals, not its point values."
            )
        elif group.positives == 0:
            notes.append(f"group {group.label} has no positive labels: its recall is undefined.")
    return notes


def save_fairness_report(model: str, report: FairnessReport, workspace: Any = None) -> str:
    """Store a fairness report with a model version (``models:/NAME/V`` or ``NAME@ALIAS``);
    returns the stored report's id. The model card shows the latest one."""
    from steward.models.registry import resolve
    from steward.workspace import current_workspace

    ws = workspace or current_workspace()
    version = resolve(model if model.startswith("models:/") else f"models:/{model}")
    stored = ws.store.governance.add_report(
        version.name, version.version, "fairness", "groups", report.to_dict(), ws.actor
    )
    return stored.id
