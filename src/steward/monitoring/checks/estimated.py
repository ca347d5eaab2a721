"""Performance estimated before labels arrive (confidence-based, like NannyML's CBPE).

With calibrated probabilities ``p`` of the positive class, each row is a
true positive with probability ``p`` when predicted positive and a false
positive with ``1 - p``; summing gives the expected confusion matrix, and so
expected accuracy, precision, recall and F1. ROC AUC is estimated from the
expected true- and false-positive rates at every threshold. Probabilities are
first calibrated on a labelled reference (isotonic regression) when one is given.
The estimate is only as good as the calibration: it assumes the relation
between scores and outcomes (concept) has not changed, only the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from steward.errors import InvalidInput
from steward.monitoring.statistics import frames

if TYPE_CHECKING:
    import pandas as pd

ESTIMATED_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


@dataclass(frozen=True)
class EstimatedPerformance:
    """Expected metrics of a window, with the realised ones where labels exist."""

    rows: int
    estimated: dict[str, float]
    realised: dict[str, float] = field(default_factory=dict)
    calibrated: bool = False
    notes: tuple[str, ...] = ()

    def metrics(self) -> dict[str, float]:
        """Flat numbers for alert rules: ``performance.estimated.f1``…"""
        values = {f"performance.estimated.{k}": v for k, v in self.estimated.items()}
        values.update({f"performance.{k}": v for k, v in self.realised.items()})
        return values

    def to_pandas(self) -> pd.DataFrame:
        """One row per metric: estimated beside realised."""
        import pandas as pd

        return pd.DataFrame(
            [
                {"metric": k, "estimated": v, "realised": self.realised.get(k)}
                for k, v in self.estimated.items()
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "rows": self.rows,
            "estimated": dict(self.estimated),
            "realised": dict(self.realised),
            "calibrated": self.calibrated,
            "notes": list(self.notes),
        }


def expected_metrics(probabilities: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Expected accuracy, precision, recall, F1 and ROC AUC from calibrated probabilities."""
    p = np.asarray(probabilities, dtype=np.float64)
    p = p[np.isfinite(p)]
    if p.size == 0:
        return {name: float("nan") for name in ESTIMATED_METRICS}
    positive = p >= threshold
    tp = float(p[positive].sum())
    fp = float((1 - p[positive]).sum())
    fn = float(p[~positive].sum())
    tn = float((1 - p[~positive]).sum())
    nan = float("nan")
    result = {
        "accuracy": (tp + tn) / p.size,
        "precision": tp / (tp + fp) if tp + fp else nan,
        "recall": tp / (tp + fn) if tp + fn else nan,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else nan,
    }
    order = np.argsort(-p, kind="stable")
    ranked = p[order]
    # Ties share one threshold: keep the last position of each distinct score.
    last = np.r_[ranked[1:] != ranked[:-1], True]
    true_pos = np.r_[0.0, np.cumsum(ranked)[last]]
    false_pos = np.r_[0.0, np.cumsum(1 - ranked)[last]]
    if true_pos[-1] > 0 and false_pos[-1] > 0:
        result["roc_auc"] = float(np.trapezoid(true_pos / true_pos[-1], false_pos / false_pos[-1]))
    else:
        result["roc_auc"] = nan
    return result


def estimate_performance(
    current: Any,
    *,
    proba: str,
    reference: Any | None = None,
    target: str | None = None,
    threshold: float = 0.5,
    positive_label: Any = 1,
) -> EstimatedPerformance:
    """Estimate a binary classifier's performance on ``current`` from its probabilities.

    Args:
        current: a DataFrame or Table with the probability column (and labels, if known).
        proba: the column with the probability of ``positive_label``.
        reference: a labelled window to calibrate the probabilities on (recommended).
        target: the label column (in ``reference``; in ``current`` for realised figures).
        threshold: probability at or above which a row is predicted positive.
        positive_label: the positive class.

    Returns:
        Estimated metrics, with realised ones side by side where ``current`` has labels.
        A window with no probability (empty, or every one missing) has none: its
        notes say so, as ``performance`` does for a window without labels.

    Raises:
        InvalidInput: a named column is missing, or a reference is given without a target.
    """
    if proba not in frames.column_names(current):
        raise InvalidInput(f"no probability column {proba!r} in the current window.")
    scores = frames.numeric_values(frames.column(current, proba))
    if not np.isfinite(scores).any():
        what = "is empty" if scores.size == 0 else f"has no probability in its {scores.size} row(s)"
        return EstimatedPerformance(
            rows=0, estimated={}, notes=(f"the current window {what}: nothing to estimate",)
        )
    notes: list[str] = []
    calibrated = False
    if reference is not None:
        if target is None:
            raise InvalidInput("calibrating on a reference needs its label column: pass target=.")
        from sklearn.isotonic import IsotonicRegression

        ref_scores = frames.numeric_values(frames.column(reference, proba))
        ref_truth = frames.column(reference, target)
        keep = np.isfinite(ref_scores) & ref_truth.notna().to_numpy()
        outcome = (ref_truth.to_numpy()[keep] == positive_label).astype(float)
        if keep.sum() >= 20 and 0 < outcome.mean() < 1:
            model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            model.fit(ref_scores[keep], outcome)
            finite = np.isfinite(scores)
            scores = scores.copy()
            scores[finite] = model.predict(scores[finite])
            calibrated = True
        else:
            notes.append("the reference has too few labels of both classes to calibrate")
    else:
        notes.append("probabilities were not calibrated: the estimate assumes they already are")
    if (~np.isfinite(scores)).any():
        notes.append(f"{int((~np.isfinite(scores)).sum())} row(s) without a probability left out")
    estimated = expected_metrics(scores, threshold)
    realised: dict[str, float] = {}
    if target is not None and target in frames.column_names(current):
        from steward.monitoring.checks.performance import performance

        raw = frames.numeric_values(frames.column(current, proba))
        labels = frames.column(current, target)
        if labels.notna().any():
            import pandas as pd

            window = pd.DataFrame(
                {
                    "target": labels.to_numpy(),
                    "prediction": np.where(
                        raw >= threshold, positive_label, _other(labels, positive_label)
                    ),
                    "proba": raw,
                }
            )
            result = performance(
                window,
                target="target",
                prediction="prediction",
                proba="proba",
                task="classification",
                positive_label=positive_label,
            )
            realised = {
                key: metric.value
                for key, metric in result.overall.metrics.items()
                if key in ESTIMATED_METRICS
            }
    return EstimatedPerformance(
        rows=int(np.isfinite(scores).sum()),
        estimated=estimated,
        realised=realised,
        calibrated=calibrated,
        notes=tuple(notes),
    )


def _other(labels: Any, positive_label: Any) -> Any:
    values = [v for v in labels.dropna().unique().tolist() if v != positive_label]
    if values:
        return values[0]
    return 0 if positive_label == 1 else f"not {positive_label}"
