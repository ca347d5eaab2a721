"""Realised performance once labels exist, overall and per segment.

Classifiers: accuracy, precision, recall, F1 (binary, or macro-averaged over
classes), ROC AUC and log loss when probabilities are given. Regressors: MAE,
RMSE, R². Small windows get bootstrap confidence intervals (vectorised over
resamples); large ones get Wilson intervals for the proportions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from steward.errors import InvalidInput
from steward.monitoring.statistics import frames

if TYPE_CHECKING:
    import pandas as pd

Task = Literal["classification", "regression"]
BOOTSTRAP_MAX_ROWS = 5_000
"""Windows up to this size get bootstrap intervals."""
BOOTSTRAP_RESAMPLES = 300


@dataclass(frozen=True)
class MetricValue:
    """One metric with its confidence interval (None where not computed)."""

    name: str
    value: float
    lower: float | None = None
    upper: float | None = None
    method: str | None = None


@dataclass(frozen=True)
class SegmentPerformance:
    """Metrics of one segment (or of the whole window, segment None)."""

    segment: str | None
    rows: int
    metrics: dict[str, MetricValue]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PerformanceResult:
    """Realised (and, when given, estimated) performance of a window."""

    task: Task
    overall: SegmentPerformance
    segments: tuple[SegmentPerformance, ...] = ()
    segment_column: str | None = None
    estimated: dict[str, float] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Flat numbers for alert rules: ``performance.f1``, ``performance.f1.<segment>``…"""
        values = {f"performance.{k}": m.value for k, m in self.overall.metrics.items()}
        for segment in self.segments:
            for key, metric in segment.metrics.items():
                values[f"performance.{key}.{segment.segment}"] = metric.value
        for key, value in self.estimated.items():
            values[f"performance.estimated.{key}"] = value
        return values

    def to_pandas(self) -> pd.DataFrame:
        """One row per (segment, metric)."""
        import pandas as pd

        rows = []
        for part in (self.overall, *self.segments):
            for metric in part.metrics.values():
                rows.append(
                    {
                        "segment": part.segment or "(all)",
                        "rows": part.rows,
                        "metric": metric.name,
                        "value": metric.value,
                        "estimated": self.estimated.get(metric.name)
                        if part.segment is None
                        else None,
                        "lower": metric.lower,
                        "upper": metric.upper,
                        "interval": metric.method,
                    }
                )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "task": self.task,
            "segment_column": self.segment_column,
            "estimated": dict(self.estimated),
            "rows": self.to_pandas().replace({np.nan: None}).to_dict(orient="records"),
        }


def performance(
    data: Any,
    *,
    target: str,
    prediction: str,
    proba: str | None = None,
    task: Task | None = None,
    segment: str | None = None,
    positive_label: Any = 1,
    confidence: float = 0.95,
    seed: int = 0,
) -> PerformanceResult:
    """Realised performance of the predictions in ``data`` against their labels.

    Args:
        data: a DataFrame or pyarrow Table with label and prediction columns.
        target: the label column; rows without a label are left out.
        prediction: the predicted label (classification) or value (regression).
        proba: the predicted probability of ``positive_label`` (binary only).
        task: ``classification`` or ``regression`` (guessed from the dtypes if None).
        segment: a column whose values split the window (region, clinic…).
        positive_label: the positive class for binary precision/recall/F1/AUC.
        confidence: level of the confidence intervals.
        seed: seed of the bootstrap.

    Returns:
        A ``PerformanceResult``.

    Raises:
        InvalidInput: a named column is missing.
    """
    names = frames.column_names(data)
    for name in (target, prediction, proba, segment):
        if name is not None and name not in names:
            raise InvalidInput(f"no column {name!r} in the window; it has {', '.join(names)}.")
    y_true = frames.column(data, target)
    y_pred = frames.column(data, prediction)
    labelled = y_true.notna().to_numpy()
    scores = frames.numeric_values(frames.column(data, proba)) if proba else None
    groups = frames.column(data, segment).astype(str).to_numpy() if segment else None
    if task is None:
        task = (
            "regression"
            if frames.column_kind(y_true) == "numeric" and (y_true.dropna().nunique() > 20)
            else "classification"
        )
    rng = np.random.default_rng(seed)

    def measure(mask: np.ndarray, name: str | None) -> SegmentPerformance:
        mask = mask & labelled
        notes = []
        if not mask.all():
            dropped = int((~labelled).sum()) if name is None else None
            if dropped:
                notes.append(f"{dropped} row(s) without a label were left out")
        truth, predicted = y_true.to_numpy()[mask], y_pred.to_numpy()[mask]
        score = scores[mask] if scores is not None else None
        if truth.size == 0:
            return SegmentPerformance(name, 0, {}, (*notes, "no labelled rows"))
        if task == "regression":
            metrics = _regression(truth.astype(float), predicted.astype(float), rng, confidence)
        else:
            metrics, more = _classification(
                truth, predicted, score, positive_label, rng, confidence
            )
            notes.extend(more)
        if truth.size < 30:
            notes.append(f"only {truth.size} labelled rows: intervals are wide")
        return SegmentPerformance(name, int(truth.size), metrics, tuple(notes))

    everything = np.ones(len(y_true), dtype=bool)
    overall = measure(everything, None)
    parts = []
    if groups is not None:
        for value in sorted(set(groups.tolist())):
            parts.append(measure(groups == value, value))
    return PerformanceResult(
        task=task, overall=overall, segments=tuple(parts), segment_column=segment
    )


def _interval(
    name: str,
    value: float,
    resampled: np.ndarray | None,
    confidence: float,
) -> MetricValue:
    if resampled is None or not np.isfinite(resampled).any():
        return MetricValue(name, value)
    tail = (1 - confidence) / 2 * 100
    lower, upper = np.nanpercentile(resampled, [tail, 100 - tail])
    return MetricValue(name, value, float(lower), float(upper), "bootstrap")


def _wilson(name: str, successes: float, trials: float, confidence: float) -> MetricValue:
    from scipy import stats

    if trials == 0:
        return MetricValue(name, float("nan"))
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (
        z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    )
    return MetricValue(name, p, centre - half, centre + half, "wilson")


def _resample_index(n: int, rng: np.random.Generator) -> np.ndarray | None:
    if n > BOOTSTRAP_MAX_ROWS or n < 2:
        return None
    return rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))


def _regression(
    truth: np.ndarray, predicted: np.ndarray, rng: np.random.Generator, confidence: float
) -> dict[str, MetricValue]:
    def compute(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        error = p - t
        mae = np.mean(np.abs(error), axis=-1)
        rmse = np.sqrt(np.mean(error**2, axis=-1))
        spread = np.sum((t - np.mean(t, axis=-1, keepdims=True)) ** 2, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = 1 - np.sum(error**2, axis=-1) / spread
        return mae, rmse, r2

    mae, rmse, r2 = (float(x) for x in compute(truth, predicted))
    index = _resample_index(truth.size, rng)
    boot = compute(truth[index], predicted[index]) if index is not None else (None, None, None)
    return {
        "mae": _interval("mae", mae, boot[0], confidence),
        "rmse": _interval("rmse", rmse, boot[1], confidence),
        "r2": _interval("r2", r2, boot[2], confidence),
    }


def _binary_counts(hit: np.ndarray, truth_pos: np.ndarray, pred_pos: np.ndarray) -> dict[str, Any]:
    tp = np.sum(truth_pos & pred_pos, axis=-1)
    fp = np.sum(~truth_pos & pred_pos, axis=-1)
    fn = np.sum(truth_pos & ~pred_pos, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
        f1 = 2 * tp / (2 * tp + fp + fn)
    return {
        "accuracy": np.mean(hit, axis=-1),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def _classification(
    truth: np.ndarray,
    predicted: np.ndarray,
    score: np.ndarray | None,
    positive_label: Any,
    rng: np.random.Generator,
    confidence: float,
) -> tuple[dict[str, MetricValue], list[str]]:
    from sklearn import metrics as skm

    notes: list[str] = []
    classes = sorted(set(truth.tolist()) | set(predicted.tolist()), key=str)
    binary = len(classes) <= 2
    index = _resample_index(truth.size, rng)
    hit = truth == predicted
    result: dict[str, MetricValue] = {}
    if binary:
        truth_pos, pred_pos = truth == positive_label, predicted == positive_label
        point = _binary_counts(hit, truth_pos, pred_pos)
        boot = (
            _binary_counts(hit[index], truth_pos[index], pred_pos[index])
            if index is not None
            else None
        )
        for name in ("accuracy", "precision", "recall", "f1"):
            value = float(point[name])
            if boot is not None:
                result[name] = _interval(name, value, boot[name], confidence)
            elif name == "accuracy":
                result[name] = _wilson(name, float(hit.sum()), hit.size, confidence)
            elif name == "precision":
                result[name] = _wilson(name, point["tp"], point["tp"] + point["fp"], confidence)
            elif name == "recall":
                result[name] = _wilson(name, point["tp"], point["tp"] + point["fn"], confidence)
            else:
                result[name] = MetricValue(name, value)
    else:
        boot_acc = np.mean(hit[index], axis=-1) if index is not None else None
        if boot_acc is None:
            result["accuracy"] = _wilson("accuracy", float(hit.sum()), hit.size, confidence)
        else:
            result["accuracy"] = _interval("accuracy", float(hit.mean()), boot_acc, confidence)
        for name, fn in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ):
            value = fn(truth.astype(str), predicted.astype(str), average="macro", zero_division=0)
            result[name] = MetricValue(name, float(value))
        notes.append(f"{len(classes)} classes: precision, recall and F1 are macro averages")
    if score is not None:
        truth_pos = truth == positive_label
        finite = np.isfinite(score)
        if not binary:
            notes.append("ROC AUC and log loss need binary labels with probabilities")
        elif truth_pos.all() or not truth_pos.any():
            notes.append("ROC AUC needs both classes among the labels")
        else:
            auc = float(skm.roc_auc_score(truth_pos[finite], score[finite]))
            boot_auc = None
            if index is not None and truth.size <= 2_000:
                boot_auc = np.array([_auc_or_nan(truth_pos[i], score[i]) for i in index[:200]])
            result["roc_auc"] = _interval("roc_auc", auc, boot_auc, confidence)
            clipped = np.clip(score[finite], 1e-15, 1 - 1e-15)
            loss = -np.mean(np.where(truth_pos[finite], np.log(clipped), np.log(1 - clipped)))
            result["log_loss"] = MetricValue("log_loss", float(loss))
    return result, notes


def _auc_or_nan(truth_pos: np.ndarray, score: np.ndarray) -> float:
    if truth_pos.all() or not truth_pos.any():
        return float("nan")
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth_pos, score))
