"""Metrics model checks compare, and the paired bootstrap of a difference of metrics.

Each metric knows whether it needs labels or scores and whether higher is
better. Metrics that are means of per-row values (accuracy, errors, Brier,
log loss) are bootstrapped with resampling weights in one matrix product;
the others (F1, ROC AUC…) are recomputed per resample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from steward.errors import InvalidInput


@dataclass(frozen=True)
class Metric:
    """A named metric: how it is computed and which way is better."""

    name: str
    uses_scores: bool
    higher_is_better: bool
    compute: Callable[[np.ndarray, np.ndarray], float]
    per_row: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None


def _sk(name: str, **kwargs: Any) -> Callable[[np.ndarray, np.ndarray], float]:
    def compute(y_true: np.ndarray, y_other: np.ndarray) -> float:
        from sklearn import metrics

        return float(getattr(metrics, name)(y_true, y_other, **kwargs))

    return compute


def _binary_average(y_true: np.ndarray) -> str:
    return "binary" if len(np.unique(y_true)) <= 2 else "macro"


def _f_like(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    def compute(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        from sklearn import metrics

        function = getattr(metrics, name)
        return float(function(y_true, y_pred, average=_binary_average(y_true), zero_division=0))

    return compute


def _log_loss_rows(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    clipped = np.clip(scores, 1e-15, 1 - 1e-15)
    return -(y_true * np.log(clipped) + (1 - y_true) * np.log(1 - clipped))


def _mean_of(rows: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., float]:
    return lambda y_true, other: float(np.mean(rows(y_true, other)))


def _rows_equal(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return (y_true == y_pred).astype(np.float64)


def _rows_abs(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return np.abs(y_true.astype(np.float64) - y_pred)


def _rows_square(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return (y_true.astype(np.float64) - y_pred) ** 2


METRICS: dict[str, Metric] = {
    "accuracy": Metric("accuracy", False, True, _mean_of(_rows_equal), _rows_equal),
    "precision": Metric("precision", False, True, _f_like("precision_score")),
    "recall": Metric("recall", False, True, _f_like("recall_score")),
    "f1": Metric("f1", False, True, _f_like("f1_score")),
    "roc_auc": Metric("roc_auc", True, True, _sk("roc_auc_score")),
    "log_loss": Metric("log_loss", True, False, _mean_of(_log_loss_rows), _log_loss_rows),
    "brier": Metric("brier", True, False, _mean_of(_rows_square), _rows_square),
    "mae": Metric("mae", False, False, _mean_of(_rows_abs), _rows_abs),
    "mse": Metric("mse", False, False, _mean_of(_rows_square), _rows_square),
    "rmse": Metric("rmse", False, False, lambda t, p: float(np.sqrt(np.mean(_rows_square(t, p))))),
    "r2": Metric("r2", False, True, _sk("r2_score")),
}


def metric(name: str) -> Metric:
    """The metric called ``name``.

    Raises:
        InvalidInput: an unknown name (the message lists the known ones).
    """
    found = METRICS.get(name)
    if found is None:
        raise InvalidInput(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}.")
    return found


def paired_bootstrap(
    chosen: Metric,
    y_true: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """The improvement of challenger over champion and its percentile interval.

    Both models are scored on the same resampled rows each time (paired), so
    the interval reflects the difference, not the two metrics' own noise.
    Improvement is signed so that positive is better (for an error metric,
    the champion's minus the challenger's).

    Returns:
        (observed improvement, interval low, interval high)
    """
    n = y_true.shape[0]
    if n == 0:
        raise InvalidInput("no rows to compare the models on.")
    sign = 1.0 if chosen.higher_is_better else -1.0
    observed = sign * (chosen.compute(y_true, challenger) - chosen.compute(y_true, champion))
    rng = np.random.default_rng(seed)
    deltas = np.empty(resamples)
    if chosen.per_row is not None:
        difference = chosen.per_row(y_true, challenger) - chosen.per_row(y_true, champion)
        for start in range(0, resamples, 64):
            stop = min(start + 64, resamples)
            rows = rng.integers(0, n, size=(stop - start, n))
            deltas[start:stop] = sign * difference[rows].mean(axis=1)
    else:
        for index in range(resamples):
            sample = rng.integers(0, n, size=n)
            truth = y_true[sample]
            if len(np.unique(truth)) < 2 and chosen.uses_scores:
                deltas[index] = np.nan
                continue
            deltas[index] = sign * (
                chosen.compute(truth, challenger[sample]) - chosen.compute(truth, champion[sample])
            )
    deltas = deltas[~np.isnan(deltas)]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(deltas, [tail, 100 - tail])
    return float(observed), float(low), float(high)


def expected_calibration_error(y_true: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """The weighted mean gap between predicted probability and observed rate over
    equal-width probability bins (binary classification)."""
    cell = np.clip((scores * bins).astype(np.int64), 0, bins - 1)
    count = np.bincount(cell, minlength=bins)
    gap = np.abs(
        np.bincount(cell, weights=scores, minlength=bins)
        - np.bincount(cell, weights=y_true.astype(np.float64), minlength=bins)
    )
    return float(gap.sum() / max(count.sum(), 1))
