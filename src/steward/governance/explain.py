"""Explanations: which features a model relies on (global), and why it gave one answer
(local), stored with the model version.

Global: permutation importance always (how much a metric drops when one
feature's values are shuffled; every shuffled copy of the data goes to the
model in a few large batches, not one call per copy), and SHAP values where
``mlsteward[explain]`` is installed (``TreeExplainer`` for tree models, a
permutation explainer otherwise; imported only when asked for). Local:
occlusion (each feature in turn set to a baseline value, the change of the
score is its contribution), bounded in rows and time, which the model server's
``/explain`` route uses; or SHAP for tree models.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from steward.checks.metrics import metric as find_metric
from steward.checks.result import CheckContext
from steward.errors import InvalidInput, require

if TYPE_CHECKING:
    import pandas as pd

    from steward.workspace import Workspace

BATCH_ROWS = 200_000
"""Shuffled copies are sent to the model in batches of about this many rows."""


@dataclass(frozen=True)
class FeatureImportance:
    """One feature's importance: the mean over repeats and its spread."""

    feature: str
    importance: float
    std: float = 0.0


@dataclass(frozen=True)
class Explanation:
    """Global feature importances of a model on some data."""

    method: str
    features: tuple[FeatureImportance, ...]
    rows: int
    metric: str | None = None
    baseline: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def top(self, count: int = 10) -> list[FeatureImportance]:
        """The most important features first."""
        return sorted(self.features, key=lambda item: -abs(item.importance))[:count]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (what is stored with a model version)."""
        return {
            "method": self.method,
            "metric": self.metric,
            "rows": self.rows,
            "seconds": self.seconds,
            "features": [item.__dict__ for item in self.features],
            "baseline": self.baseline,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Explanation:
        """Read ``to_dict`` data."""
        return cls(
            method=data["method"],
            features=tuple(FeatureImportance(**item) for item in data["features"]),
            rows=int(data["rows"]),
            metric=data.get("metric"),
            baseline=dict(data.get("baseline") or {}),
            seconds=float(data.get("seconds") or 0.0),
        )


def baseline_values(frame: pd.DataFrame) -> dict[str, Any]:
    """A reference value per column: the median of numbers, the most frequent otherwise."""
    import pandas as pd

    values: dict[str, Any] = {}
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            median = series.median()
            values[str(column)] = None if pd.isna(median) else float(median)
        else:
            mode = series.mode(dropna=True)
            values[str(column)] = None if mode.empty else _plain(mode.iloc[0])
    return values


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _sample(frame: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    if max_rows is not None and len(frame) > max_rows:
        return frame.sample(n=max_rows, random_state=seed)
    return frame


def _default_metric(model: Any) -> str:
    native = getattr(model, "native", model)
    return "accuracy" if hasattr(native, "classes_") or hasattr(model, "predict_proba") else "r2"


def permutation_importance(
    model: Any,
    data: pd.DataFrame,
    target: str,
    *,
    metric: str | None = None,
    repeats: int = 5,
    max_rows: int | None = 10_000,
    features: list[str] | None = None,
    seed: int = 0,
) -> Explanation:
    """How much ``metric`` drops when each feature's values are shuffled.

    Args:
        model: a ``LoadedModel`` or any fitted model with ``predict``.
        data: held-out rows with the features and ``target``.
        target: the label column.
        metric: a metric name (``accuracy``, ``roc_auc``, ``r2``…; default accuracy
            for classifiers, R² otherwise).
        repeats: shuffles per feature.
        max_rows: rows sampled from ``data`` (bounded cost).
        features: the model's input columns (default: its signature's).
        seed: the seed of sampling and shuffles.
    """
    import pandas as pd

    if repeats < 1:
        raise InvalidInput("repeats must be at least 1.")
    started = time.perf_counter()
    rows = _sample(data, max_rows, seed).reset_index(drop=True)
    context = CheckContext(data=rows, target=target, model=model, features=features)
    chosen = find_metric(metric or _default_metric(model))
    inputs = context.inputs()
    labels = context.labels()
    sign = 1.0 if chosen.higher_is_better else -1.0

    def score(frame: pd.DataFrame) -> np.ndarray:
        output = context.scores(frame) if chosen.uses_scores else context.predict(frame)
        return np.asarray(output)

    base = sign * chosen.compute(labels, score(inputs))
    rng = np.random.default_rng(seed)
    columns = list(inputs.columns)
    jobs = [(column, repeat) for column in columns for repeat in range(repeats)]
    drops: dict[str, list[float]] = {column: [] for column in columns}
    per_batch = max(1, BATCH_ROWS // max(len(inputs), 1))
    n = len(inputs)
    for start in range(0, len(jobs), per_batch):
        batch = jobs[start : start + per_batch]
        copies = []
        for column, _ in batch:
            shuffled = inputs.copy()
            shuffled[column] = inputs[column].to_numpy()[rng.permutation(n)]
            copies.append(shuffled)
        outputs = score(pd.concat(copies, ignore_index=True))
        for index, (column, _) in enumerate(batch):
            part = outputs[index * n : (index + 1) * n]
            drops[column].append(base - sign * chosen.compute(labels, part))
    importances = tuple(
        FeatureImportance(column, float(np.mean(values)), float(np.std(values)))
        for column, values in drops.items()
    )
    return Explanation(
        "permutation",
        tuple(sorted(importances, key=lambda item: -item.importance)),
        n,
        chosen.name,
        baseline_values(inputs),
        time.perf_counter() - started,
    )


def _is_tree_model(native: Any) -> bool:
    final = native.steps[-1][1] if hasattr(native, "steps") else native
    module = type(final).__module__
    return (
        module.startswith(("sklearn.ensemble", "sklearn.tree", "xgboost", "lightgbm"))
        and not hasattr(native, "steps")
        and "HistGradient" not in type(final).__name__
    )


def _positive_class(values: Any) -> np.ndarray:
    array = np.asarray(getattr(values, "values", values))
    if isinstance(values, list):
        array = np.asarray(values[-1])
    if array.ndim == 3:  # (rows, features, classes): the last class's contributions
        array = array[:, :, -1]
    return array


def shap_importance(
    model: Any,
    data: pd.DataFrame,
    *,
    max_rows: int | None = 1000,
    features: list[str] | None = None,
    seed: int = 0,
) -> Explanation:
    """Mean absolute SHAP value per feature (needs ``pip install "mlsteward[explain]"``).

    Tree models (scikit-learn forests and trees, XGBoost, LightGBM) use
    ``shap.TreeExplainer``; other models a permutation explainer on at most
    100 background rows.
    """
    shap = require("shap", "explain", "SHAP explanations")
    started = time.perf_counter()
    rows = _sample(data, max_rows, seed)
    context = CheckContext(data=rows, model=model, features=features)
    inputs = context.inputs()
    native = getattr(model, "native", model)
    if _is_tree_model(native):
        explainer = shap.TreeExplainer(native)  # type: ignore[attr-defined]
        matrix = inputs.to_numpy() if getattr(model, "takes_arrays", False) else inputs
        values = _positive_class(explainer.shap_values(matrix, check_additivity=False))
    else:
        background = inputs.sample(n=min(100, len(inputs)), random_state=seed)

        def predict(frame: Any) -> np.ndarray:
            import pandas as pd

            rows_frame = pd.DataFrame(frame, columns=inputs.columns)
            output = context.scores(rows_frame) if hasattr(model, "predict_proba") else None
            return np.asarray(output if output is not None else context.predict(rows_frame))

        explainer = shap.Explainer(predict, background)  # type: ignore[attr-defined]
        values = _positive_class(explainer(inputs).values)
    mean_abs = np.abs(values).mean(axis=0)
    importances = tuple(
        FeatureImportance(str(column), float(value))
        for column, value in zip(inputs.columns, mean_abs, strict=True)
    )
    return Explanation(
        "shap",
        tuple(sorted(importances, key=lambda item: -item.importance)),
        len(inputs),
        None,
        baseline_values(inputs),
        time.perf_counter() - started,
    )


@dataclass(frozen=True)
class LocalExplanation:
    """Per-row contributions: how much each feature moved the score from its baseline."""

    method: str
    scores: list[float]
    contributions: list[dict[str, float]]
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "method": self.method,
            "scores": self.scores,
            "contributions": self.contributions,
            "truncated": self.truncated,
        }


def local_contributions(
    predict_score: Any,
    rows: pd.DataFrame,
    baseline: dict[str, Any],
    *,
    time_budget_s: float = 2.0,
) -> LocalExplanation:
    """Occlusion: for each feature, the score of each row minus its score with that
    feature set to its baseline value. Features are taken one batch call at a
    time; past ``time_budget_s`` the rest are left out (``truncated``).

    Args:
        predict_score: maps a DataFrame of rows to one score per row.
        rows: the rows to explain.
        baseline: a reference value per column (see ``baseline_values``).
        time_budget_s: stop adding features after this many seconds.
    """
    started = time.perf_counter()
    scores = np.asarray(predict_score(rows), dtype=np.float64)
    contributions: list[dict[str, float]] = [{} for _ in range(len(rows))]
    truncated = False
    for column in rows.columns:
        if time.perf_counter() - started > time_budget_s:
            truncated = True
            break
        value = baseline.get(str(column))
        if value is None:
            continue
        occluded = rows.assign(**{str(column): value})
        moved = scores - np.asarray(predict_score(occluded), dtype=np.float64)
        for index, amount in enumerate(moved.tolist()):
            contributions[index][str(column)] = 0.0 if math.isnan(amount) else amount
    return LocalExplanation("occlusion", scores.tolist(), contributions, truncated)


def _workspace(workspace: Workspace | None) -> Workspace:
    from steward.workspace import current_workspace

    return workspace or current_workspace()


def explain(
    model: str,
    data: pd.DataFrame,
    target: str,
    *,
    methods: tuple[str, ...] = ("permutation",),
    metric: str | None = None,
    repeats: int = 5,
    max_rows: int | None = 10_000,
    save: bool = True,
    trust: bool = False,
    workspace: Workspace | None = None,
) -> list[Explanation]:
    """Explain a registered model version on held-out data and store the explanations.

    Args:
        model: ``models:/NAME/V`` or ``models:/NAME@ALIAS``.
        data: held-out rows with the features and ``target``.
        target: the label column.
        methods: ``"permutation"`` and/or ``"shap"``.
        metric: the permutation metric (default accuracy or R²).
        repeats: shuffles per feature.
        max_rows: rows sampled (SHAP uses at most 1,000).
        save: store each explanation with the model version (and the audit log).
        trust: load a pickled model (see ``steward.models.load``).
        workspace: the workspace (the current one by default).
    """
    from steward.models.fluent import load
    from steward.models.registry import resolve

    unknown = set(methods) - {"permutation", "shap"}
    if unknown or not methods:
        raise InvalidInput(f"methods are 'permutation' and 'shap', not {sorted(unknown)}.")
    ws = _workspace(workspace)
    version = resolve(model)
    loaded = load(version.uri, trust=trust)
    found = []
    if "permutation" in methods:
        found.append(
            permutation_importance(
                loaded, data, target, metric=metric, repeats=repeats, max_rows=max_rows
            )
        )
    if "shap" in methods:
        shap_rows = 1000 if max_rows is None else min(max_rows, 1000)
        found.append(shap_importance(loaded, data.drop(columns=[target]), max_rows=shap_rows))
    if save:
        for explanation in found:
            ws.store.governance.add_report(
                version.name,
                version.version,
                "explanation",
                explanation.method,
                explanation.to_dict(),
                ws.actor,
            )
    return found


def explanations(model: str, workspace: Workspace | None = None) -> list[Explanation]:
    """The stored explanations of a model version, newest first."""
    from steward.models.registry import resolve

    version = resolve(model)
    reports = _workspace(workspace).store.governance.reports(
        version.name, version.version, "explanation"
    )
    return [Explanation.from_dict(report.body) for report in reports]
