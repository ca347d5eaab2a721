"""Model checks: what a model must show on held-out data before it is trusted.

Each is a small frozen object with ``run(context) -> CheckResult``: metric
thresholds, a minimum improvement over the champion (with a paired-bootstrap
interval), per-segment floors, invariance and directional tests, calibration,
latency and size limits, and fairness thresholds. The retraining gate runs a
list of them on one ``CheckContext``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from steward.checks.metrics import expected_calibration_error, metric, paired_bootstrap
from steward.checks.result import CheckContext, CheckResult
from steward.errors import InvalidInput


def _measure(context: CheckContext, name: str, which: str = "model", frame: Any = None) -> float:
    chosen = metric(name)
    labels = context.labels() if frame is None else np.asarray(frame[context.target])
    other = context.scores(frame, which) if chosen.uses_scores else context.predict(frame, which)
    return chosen.compute(labels, other)


def _bounds_text(name: str, low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{name} in [{low:g}, {high:g}]"
    return f"{name} >= {low:g}" if low is not None else f"{name} <= {high:g}"


def _within(value: float, low: float | None, high: float | None) -> bool:
    if math.isnan(value):
        return False
    return (low is None or value >= low) and (high is None or value <= high)


@dataclass(frozen=True)
class MetricThreshold:
    """A metric on the held-out data stays within bounds (``min`` and/or ``max``)."""

    metric: str
    min: float | None = None
    max: float | None = None
    severity: str = "error"

    def __post_init__(self) -> None:
        metric(self.metric)
        if self.min is None and self.max is None:
            raise InvalidInput(f"threshold on {self.metric!r} needs min, max or both.")

    @property
    def name(self) -> str:
        """``accuracy >= 0.9``."""
        return _bounds_text(self.metric, self.min, self.max)

    def run(self, context: CheckContext) -> CheckResult:
        """Compute the metric and compare."""
        value = _measure(context, self.metric)
        threshold = self.min if self.min is not None else self.max
        return CheckResult(
            self.name,
            _within(value, self.min, self.max),
            value,
            threshold,
            {"min": self.min, "max": self.max, "rows": len(context.frame())},
            "model",
            self.severity,
        )


@dataclass(frozen=True)
class MinImprovement:
    """The model beats the champion on ``metric`` by at least ``min_delta``, judged by
    the lower end of a paired-bootstrap interval of the difference (so a lucky
    split does not promote a model). A negative ``min_delta`` allows a small loss."""

    metric: str
    min_delta: float = 0.0
    confidence: float = 0.95
    resamples: int = 1000
    severity: str = "error"
    compares_champion: ClassVar[bool] = True
    """Measures both models at once (the gate does not run it on the champion alone)."""

    def __post_init__(self) -> None:
        metric(self.metric)
        if not 0 < self.confidence < 1:
            raise InvalidInput("confidence must be between 0 and 1.")
        if self.resamples < 50:
            raise InvalidInput("use at least 50 bootstrap resamples.")

    @property
    def name(self) -> str:
        """``f1 improves on champion by >= 0.01``."""
        return f"{self.metric} improves on champion by >= {self.min_delta:g}"

    def run(self, context: CheckContext) -> CheckResult:
        """Bootstrap the paired difference and compare its lower bound."""
        chosen = metric(self.metric)
        labels = context.labels()
        if chosen.uses_scores:
            mine, theirs = context.scores(), context.scores(which="champion")
        else:
            mine, theirs = context.predict(), context.predict(which="champion")
        observed, low, high = paired_bootstrap(
            chosen,
            labels,
            mine,
            theirs,
            resamples=self.resamples,
            confidence=self.confidence,
            seed=context.seed,
        )
        details = {
            "challenger": chosen.compute(labels, mine),
            "champion": chosen.compute(labels, theirs),
            "interval": [low, high],
            "confidence": self.confidence,
            "resamples": self.resamples,
            "higher_is_better": chosen.higher_is_better,
        }
        return CheckResult(
            self.name,
            low >= self.min_delta,
            observed,
            self.min_delta,
            details,
            "model",
            self.severity,
        )


@dataclass(frozen=True)
class SegmentFloor:
    """No segment of ``column`` (each value) has ``metric`` below ``min``.

    Segments with fewer than ``min_rows`` rows are too small to judge: they are
    listed, not failed.
    """

    metric: str
    column: str
    min: float
    min_rows: int = 30
    severity: str = "error"

    def __post_init__(self) -> None:
        metric(self.metric)

    @property
    def name(self) -> str:
        """``recall >= 0.8 in every site``."""
        return f"{self.metric} >= {self.min:g} in every {self.column}"

    def run(self, context: CheckContext) -> CheckResult:
        """Compute the metric per segment and find the worst."""
        frame = context.frame()
        if self.column not in frame.columns:
            raise InvalidInput(f"segment column {self.column!r} is not in the data.")
        chosen = metric(self.metric)
        labels = context.labels()
        other = context.scores() if chosen.uses_scores else context.predict()
        segments: dict[str, dict[str, Any]] = {}
        too_small = []
        codes, values = _codes(frame[self.column])
        for code, value in enumerate(values):
            rows = codes == code
            size = int(rows.sum())
            if size < self.min_rows:
                too_small.append({"segment": str(value), "rows": size})
                continue
            try:
                score = chosen.compute(labels[rows], other[rows])
            except ValueError:  # e.g. ROC AUC of a segment with one class
                score = math.nan
            segments[str(value)] = {"rows": size, "value": score}
        judged = {k: v for k, v in segments.items() if not math.isnan(v["value"])}
        worst = min(judged, key=lambda key: judged[key]["value"], default=None)
        value = judged[worst]["value"] if worst is not None else math.nan
        failing = sorted(k for k, v in judged.items() if v["value"] < self.min)
        details = {
            "segments": segments,
            "worst": worst,
            "failing": failing,
            "too_small": too_small,
        }
        passed = worst is not None and not failing
        return CheckResult(self.name, passed, value, self.min, details, "model", self.severity)


def _codes(values: Any) -> tuple[np.ndarray, list[Any]]:
    import pandas as pd

    codes, uniques = pd.factorize(values, sort=True)
    return codes, list(uniques)


def _changed(before: np.ndarray, after: np.ndarray, tolerance: float) -> np.ndarray:
    if before.dtype.kind in "fc" or after.dtype.kind in "fc":
        difference = np.abs(np.asarray(before, float) - np.asarray(after, float))
        if difference.ndim > 1:
            difference = difference.max(axis=1)
        return difference > tolerance
    return np.asarray(before != after)


@dataclass(frozen=True)
class Invariance:
    """Changing ``column`` must not change the model's output: each of ``values`` is
    put in every row (or ``transform`` is applied to the column), and at most a
    ``max_changed`` share of rows may change prediction (``on="prediction"``) or
    score by more than ``tolerance`` (``on="score"``)."""

    column: str
    values: Sequence[Any] | None = None
    transform: Callable[[Any], Any] | None = None
    on: str = "prediction"
    max_changed: float = 0.0
    tolerance: float = 1e-9
    severity: str = "error"

    def __post_init__(self) -> None:
        if (self.values is None) == (self.transform is None):
            raise InvalidInput("an invariance test needs either values= or transform=.")
        if self.on not in ("prediction", "score"):
            raise InvalidInput("on must be 'prediction' or 'score'.")

    @property
    def name(self) -> str:
        """``prediction invariant to sex``."""
        return f"{self.on} invariant to {self.column}"

    def _output(self, context: CheckContext, frame: Any = None) -> np.ndarray:
        if self.on == "score":
            return context.scores(frame)
        return context.predict(frame)

    def run(self, context: CheckContext) -> CheckResult:
        """Perturb the column and count changed outputs."""
        frame = context.frame()
        if self.column not in frame.columns:
            raise InvalidInput(f"invariance column {self.column!r} is not in the data.")
        before = self._output(context)
        variants = (
            [(repr(value), frame.assign(**{self.column: value})) for value in self.values]
            if self.values is not None
            else [("transform", frame.assign(**{self.column: self.transform(frame[self.column])}))]  # type: ignore[misc]
        )
        shares = {}
        for label, changed_frame in variants:
            shares[label] = float(
                _changed(before, self._output(context, changed_frame), self.tolerance).mean()
            )
        worst = max(shares.values()) if shares else 0.0
        details = {"changed_share": shares, "tolerance": self.tolerance}
        return CheckResult(
            self.name,
            worst <= self.max_changed,
            worst,
            self.max_changed,
            details,
            "model",
            self.severity,
        )


@dataclass(frozen=True)
class Directional:
    """Raising ``column`` by ``delta`` must move the score in ``expect`` direction
    ("increase" or "decrease", or not the other way): at most ``max_violations``
    (a share of rows) may move against it by more than ``tolerance``."""

    column: str
    delta: float
    expect: str = "increase"
    max_violations: float = 0.0
    tolerance: float = 1e-9
    severity: str = "error"

    def __post_init__(self) -> None:
        if self.expect not in ("increase", "decrease"):
            raise InvalidInput("expect must be 'increase' or 'decrease'.")

    @property
    def name(self) -> str:
        """``score does not decrease when glucose rises by 10``."""
        against = "decrease" if self.expect == "increase" else "increase"
        return f"score does not {against} when {self.column} rises by {self.delta:g}"

    def run(self, context: CheckContext) -> CheckResult:
        """Shift the column and count rows whose score moves the wrong way."""
        frame = context.frame()
        if self.column not in frame.columns:
            raise InvalidInput(f"directional column {self.column!r} is not in the data.")
        before = context.scores()
        after = context.scores(frame.assign(**{self.column: frame[self.column] + self.delta}))
        if before.ndim > 1:
            raise InvalidInput("a directional test needs a binary classifier or a regressor.")
        moved = after - before
        wrong = moved < -self.tolerance if self.expect == "increase" else moved > self.tolerance
        share = float(wrong.mean())
        details = {"violations": int(wrong.sum()), "mean_change": float(moved.mean())}
        return CheckResult(
            self.name,
            share <= self.max_violations,
            share,
            self.max_violations,
            details,
            "model",
            self.severity,
        )


@dataclass(frozen=True)
class Calibration:
    """Expected calibration error (equal-width bins) of a binary classifier's
    probabilities is at most ``max_error``."""

    max_error: float = 0.05
    bins: int = 10
    severity: str = "error"

    @property
    def name(self) -> str:
        """``calibration error <= 0.05``."""
        return f"calibration error <= {self.max_error:g}"

    def run(self, context: CheckContext) -> CheckResult:
        """Bin the scores and compare predicted with observed rates."""
        scores = context.scores()
        if scores.ndim > 1:
            raise InvalidInput("the calibration check needs a binary classifier.")
        labels = context.labels()
        positive = (labels == 1) | (labels == True)  # noqa: E712
        error = expected_calibration_error(positive.astype(float), scores, self.bins)
        details = {"bins": self.bins, "rows": int(labels.size)}
        return CheckResult(
            self.name,
            error <= self.max_error,
            error,
            self.max_error,
            details,
            "model",
            self.severity,
        )


@dataclass(frozen=True)
class Latency:
    """The ``percentile`` of predict time for ``rows`` rows is at most ``max_ms``."""

    max_ms: float
    rows: int = 1
    repeats: int = 50
    percentile: float = 95
    severity: str = "error"

    @property
    def name(self) -> str:
        """``p95 latency of 1 row <= 50 ms``."""
        return f"p{self.percentile:g} latency of {self.rows} row(s) <= {self.max_ms:g} ms"

    def run(self, context: CheckContext) -> CheckResult:
        """Time repeated predictions on the first rows of the data."""
        sample = context.frame().head(self.rows)
        context.predict(sample)  # warm up (lazy imports, caches)
        times = []
        for _ in range(self.repeats):
            start = time.perf_counter()
            context.predict(sample)
            times.append((time.perf_counter() - start) * 1000)
        value = float(np.percentile(times, self.percentile))
        details = {"median_ms": float(np.median(times)), "repeats": self.repeats}
        return CheckResult(
            self.name, value <= self.max_ms, value, self.max_ms, details, "model", self.severity
        )


def model_size_bytes(model: Any) -> int:
    """The stored size of a loaded model (its files), or of its pickled bytes otherwise."""
    folder = getattr(model, "folder", None)
    if isinstance(folder, Path) and folder.is_dir():
        return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    import pickle

    return len(pickle.dumps(model))


@dataclass(frozen=True)
class ModelSize:
    """The model's stored size is at most ``max_mb`` megabytes."""

    max_mb: float
    severity: str = "error"

    @property
    def name(self) -> str:
        """``model size <= 50 MB``."""
        return f"model size <= {self.max_mb:g} MB"

    def run(self, context: CheckContext) -> CheckResult:
        """Measure the model's files."""
        if context.model is None:
            raise InvalidInput("the size check needs a model: pass model=.")
        size = model_size_bytes(context.model) / 1e6
        return CheckResult(
            self.name,
            size <= self.max_mb,
            size,
            self.max_mb,
            {"bytes": int(size * 1e6)},
            "model",
            self.severity,
        )


@dataclass(frozen=True)
class FairnessThreshold:
    """A fairness figure across the groups of ``sensitive`` stays within bounds, e.g.
    ``FairnessThreshold("demographic_parity_ratio", ["sex"], min=0.8)`` (the
    four-fifths rule). Groups too small to judge are reported as warnings."""

    metric: str
    sensitive: Sequence[str]
    min: float | None = None
    max: float | None = None
    pos_label: Any = 1
    min_group_size: int = 30
    severity: str = "error"

    def __post_init__(self) -> None:
        from steward.governance.fairness import DISPARITY_METRICS

        if self.metric not in DISPARITY_METRICS:
            raise InvalidInput(
                f"unknown fairness metric {self.metric!r}; known: {', '.join(DISPARITY_METRICS)}."
            )
        if self.min is None and self.max is None:
            raise InvalidInput(f"threshold on {self.metric!r} needs min, max or both.")
        if isinstance(self.sensitive, str):
            object.__setattr__(self, "sensitive", (self.sensitive,))

    @property
    def name(self) -> str:
        """``demographic_parity_ratio >= 0.8 across sex``."""
        return f"{_bounds_text(self.metric, self.min, self.max)} across {', '.join(self.sensitive)}"

    def run(self, context: CheckContext) -> CheckResult:
        """Compute the fairness report on the model's predictions and compare."""
        from steward.governance.fairness import fairness_report

        scores = None
        try:
            scores = context.scores()
            if scores.ndim > 1:
                scores = None
        except InvalidInput:
            scores = None
        report = fairness_report(
            context.labels(),
            context.predict(),
            list(self.sensitive),
            data=context.frame(),
            y_score=scores,
            pos_label=self.pos_label,
            min_group_size=self.min_group_size,
        )
        value = report.disparities[self.metric]
        threshold = self.min if self.min is not None else self.max
        details = {"report": report.to_dict(), "warnings": list(report.warnings)}
        return CheckResult(
            self.name,
            _within(value, self.min, self.max),
            value,
            threshold,
            details,
            "fairness",
            self.severity,
        )
