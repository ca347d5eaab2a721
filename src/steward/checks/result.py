"""What every check returns, and the context checks run in.

A check is any object with a ``name`` and ``run(context) -> CheckResult``;
a suite (several checks evaluated together, such as a data suite run as one
pandera validation) has ``run_all(context) -> list[CheckResult]``.
``run_checks`` accepts both, so the retraining gate is a list of them run on
one ``CheckContext``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from steward.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Attributes:
        name: what was checked, e.g. ``age: in range [0, 120]`` or ``accuracy >= 0.9``.
        passed: whether it held.
        value: the measured figure (a metric, a share of failing rows…), if any.
        threshold: the figure it was compared with, if any.
        details: anything else worth keeping (failing counts, sampled failing
            rows, intervals, per-segment values…), JSON-able.
        kind: ``data``, ``model`` or ``fairness``.
        severity: ``error`` (a failure fails the report) or ``warning``.
    """

    name: str
    passed: bool
    value: float | None = None
    threshold: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    kind: str = "data"
    severity: str = "error"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (NaN as None)."""
        return {
            "name": self.name,
            "passed": self.passed,
            "value": _number(self.value),
            "threshold": _number(self.threshold),
            "details": self.details,
            "kind": self.kind,
            "severity": self.severity,
        }


def _number(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return float(value)


@dataclass(frozen=True)
class CheckReport:
    """The results of a list of checks (a suite) on one subject."""

    suite: str
    results: tuple[CheckResult, ...]
    subject: str | None = None

    @property
    def passed(self) -> bool:
        """Whether every check of severity ``error`` passed."""
        return all(result.passed for result in self.results if result.severity == "error")

    @property
    def failed(self) -> list[CheckResult]:
        """The checks that did not hold (warnings included)."""
        return [result for result in self.results if not result.passed]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "suite": self.suite,
            "subject": self.subject,
            "passed": self.passed,
            "results": [result.to_dict() for result in self.results],
        }


@runtime_checkable
class Check(Protocol):
    """One check: a name and ``run(context) -> CheckResult``."""

    @property
    def name(self) -> str:
        """What the check checks, as its results are named."""

    def run(self, context: CheckContext) -> CheckResult:
        """Evaluate the check."""


@runtime_checkable
class CheckGroup(Protocol):
    """Several checks evaluated together: ``run_all(context) -> list[CheckResult]``."""

    @property
    def name(self) -> str:
        """The group's name."""

    def run_all(self, context: CheckContext) -> list[CheckResult]:
        """Evaluate every check of the group."""


@dataclass
class CheckContext:
    """What checks run on: data, and for model checks a model (and its champion).

    Predictions are computed once per model and shared by every check.

    Attributes:
        data: a DataFrame (held-out data for model checks, with the target).
        target: the name of the label column in ``data``.
        model: the model under test (a ``LoadedModel`` or any object with
            ``predict``, and ``predict_proba`` for probability checks).
        champion: the model it is compared with, for improvement checks.
        features: the columns the model is given (default: its signature's
            inputs, else every column but the target and ``exclude``).
        exclude: columns never given to the model (ids, sensitive columns).
        dataset: the dataset version the data came from, if any.
        seed: seed of every random draw (bootstraps, samples).
    """

    data: pd.DataFrame | None = None
    target: str | None = None
    model: Any = None
    champion: Any = None
    features: Sequence[str] | None = None
    exclude: Sequence[str] = ()
    dataset: Any = None
    seed: int = 0
    _cache: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def frame(self) -> pd.DataFrame:
        """The data (InvalidInput if none was given)."""
        if self.data is None:
            raise InvalidInput("this check needs data: pass data= (a DataFrame).")
        return self.data

    def labels(self) -> np.ndarray:
        """The target column as an array."""
        import numpy as np

        frame = self.frame()
        if self.target is None or self.target not in frame.columns:
            raise InvalidInput(
                f"this check needs the label column: pass target= naming one of "
                f"{list(frame.columns)[:20]}."
            )
        return np.asarray(frame[self.target])

    def _model(self, which: str) -> Any:
        model = self.model if which == "model" else self.champion
        if model is None:
            raise InvalidInput(
                "this check needs a model: pass model=."
                if which == "model"
                else "this check compares with a champion: pass champion=."
            )
        return model

    def feature_columns(self, which: str = "model") -> list[str]:
        """The columns the model is given."""
        if self.features is not None:
            return list(self.features)
        signature = getattr(self._model(which), "signature", None)
        if signature is not None and getattr(signature, "kind", None) == "columns":
            return [spec.name for spec in signature.inputs]
        names = getattr(self._model(which), "feature_names_in_", None)
        if names is not None:
            return [str(name) for name in names]
        skip = {self.target, *self.exclude}
        return [column for column in self.frame().columns if column not in skip]

    def inputs(self, frame: pd.DataFrame | None = None, which: str = "model") -> pd.DataFrame:
        """The model's input columns of ``frame`` (the data by default)."""
        frame = self.frame() if frame is None else frame
        columns = self.feature_columns(which)
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            raise InvalidInput(f"the data lacks the model's input column(s) {missing[:10]}.")
        return frame[columns]

    def predict(self, frame: pd.DataFrame | None = None, which: str = "model") -> np.ndarray:
        """Predicted labels (cached for the context's own data)."""
        import numpy as np

        if frame is not None:
            return np.asarray(self._model(which).predict(self.inputs(frame, which)))
        key = ("predict", which)
        if key not in self._cache:
            self._cache[key] = np.asarray(self._model(which).predict(self.inputs(None, which)))
        return self._cache[key]

    def scores(self, frame: pd.DataFrame | None = None, which: str = "model") -> np.ndarray:
        """The positive class's probability (binary) or all probabilities (cached)."""
        import numpy as np

        def compute(rows: pd.DataFrame) -> np.ndarray:
            model = self._model(which)
            if not hasattr(model, "predict_proba"):
                raise InvalidInput("this check needs a model with predict_proba.")
            probabilities = np.asarray(model.predict_proba(rows))
            if probabilities.ndim == 2 and probabilities.shape[1] == 2:
                return probabilities[:, 1]
            return probabilities

        if frame is not None:
            return compute(self.inputs(frame, which))
        key = ("scores", which)
        if key not in self._cache:
            self._cache[key] = compute(self.inputs(None, which))
        return self._cache[key]


def run_checks(
    checks: Iterable[Check | CheckGroup],
    context: CheckContext | None = None,
    *,
    suite: str = "checks",
    subject: str | None = None,
    **context_fields: Any,
) -> CheckReport:
    """Run checks (and check groups) on one context and gather their results.

    Args:
        checks: checks and groups (data suites).
        context: the context; or give its fields as keywords (``data=``, ``model=``…).
        suite: the report's name.
        subject: what was checked, for the report (``name:3``, ``models:/name/2``).
    """
    if context is None:
        context = CheckContext(**context_fields)
    elif context_fields:
        raise InvalidInput("give either a context or its fields, not both.")
    results = [result for check in checks for result in check_results(check, context)]
    return CheckReport(suite, tuple(results), subject)


def check_results(check: Check | CheckGroup, context: CheckContext) -> list[CheckResult]:
    """The results of one check (or group) on a context, their severities checked.

    Raises:
        InvalidInput: ``check`` is neither a check nor a group, or a result's severity
            is unknown.
    """
    if isinstance(check, CheckGroup):
        results = list(check.run_all(context))
    elif isinstance(check, Check):
        results = [check.run(context)]
    else:
        raise InvalidInput(f"{check!r} is not a check: it needs run(context) or run_all(context).")
    for result in results:
        if result.severity not in SEVERITIES:
            raise InvalidInput(
                f"check {result.name!r} has severity {result.severity!r}; use one of {SEVERITIES}."
            )
    return results
