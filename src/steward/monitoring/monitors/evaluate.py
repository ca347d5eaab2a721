"""One window of a monitor: read it, find the reference, compute drift, quality, performance.

Nothing here raises on bad data: what could not be done is said in ``notes``
and the status (``ok``, ``empty`` for a window without rows, ``error`` when
the model, the table or the reference cannot be found or read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from steward.errors import StewardError
from steward.monitoring.monitors.definition import Monitor, reference_window, resolve_model
from steward.monitoring.monitors.schedule import parse_window
from steward.serving.prediction_log import INPUT_PREFIX

if TYPE_CHECKING:
    import pandas as pd

    from steward.monitoring.checks.estimated import EstimatedPerformance
    from steward.monitoring.checks.performance import PerformanceResult
    from steward.monitoring.checks.result import DriftResult
    from steward.monitoring.statistics.summary import DatasetSummary
    from steward.workspace import Workspace

PROBABILITY = "probability"
"""The column the positive class's probability gets in the monitored window."""


@dataclass
class Evaluation:
    """What evaluating one window found."""

    status: str
    start: datetime
    end: datetime
    rows: int = 0
    labels: int = 0
    model_version: int | None = None
    drift: DriftResult | None = None
    performance: PerformanceResult | None = None
    estimated: EstimatedPerformance | None = None
    reference_summary: DatasetSummary | None = None
    reference_description: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class _Stop(StewardError):
    """The window cannot be evaluated; the message becomes its note."""


@dataclass
class _Reference:
    data: Any  # a DatasetSummary or a DataFrame
    description: str
    target: str | None
    notes: list[str]


def _served_name(model: str) -> str:
    return model.removeprefix("models:/").split("@")[0].split("/")[0]


def _read(monitor: Monitor, start: datetime | None, end: datetime, ws: Workspace) -> pd.DataFrame:
    """The watched rows (in the prediction log's shape) with a timestamp in ``[start, end)``."""
    from steward.monitoring.monitors import sources

    if monitor.table is None:
        from steward.serving.reading import read_predictions

        assert monitor.model is not None
        return read_predictions(_served_name(monitor.model), start, end, workspace=ws)
    try:
        table = sources.read_table(monitor.table)
        if monitor.timestamp_column:
            table = sources.between(table, monitor.timestamp_column, start, end)
    except sources.TableUnavailable as exc:
        raise _Stop(str(exc)) from None
    return sources.as_logged(table, monitor)


def _read_window(
    monitor: Monitor, now: datetime, ws: Workspace
) -> tuple[pd.DataFrame, datetime, datetime]:
    spec = parse_window(monitor.window)
    if spec.duration is not None:
        start = now - spec.duration
        return _read(monitor, start, now, ws), start, now
    frame = _read(monitor, None, now, ws).tail(spec.rows)
    times = frame["timestamp"] if "timestamp" in frame.columns else None
    start = times.min().to_pydatetime() if times is not None and len(frame) else now
    return frame.reset_index(drop=True), start, now


def _labels(series: pd.Series) -> pd.Series:
    """Labels or predicted classes as integers where they are whole numbers, else as they are."""
    import numpy as np
    import pandas as pd

    known = series.dropna()
    if known.empty:
        return series.astype(object)
    try:
        numbers = pd.to_numeric(series, errors="raise")
    except (TypeError, ValueError):
        return series.astype(object).where(series.notna(), None)
    values = numbers.dropna().to_numpy(dtype=np.float64)
    if np.all(np.equal(np.mod(values, 1), 0)):
        return numbers.astype("Int64") if numbers.isna().any() else numbers.astype("int64")
    return numbers.astype("float64")


def _window_frame(
    frame: pd.DataFrame, monitor: Monitor, target: str | None
) -> tuple[pd.DataFrame, list[str]]:
    """The log as monitored columns: features, prediction, label (as ``target``), probability."""
    import pandas as pd

    inputs = [c[len(INPUT_PREFIX) :] for c in frame.columns if str(c).startswith(INPUT_PREFIX)]
    features = list(monitor.features) if monitor.features is not None else inputs
    columns: dict[str, Any] = {}
    for name in features:
        if name in inputs:
            columns[name] = frame[INPUT_PREFIX + name].reset_index(drop=True)
    if "prediction" in frame.columns:
        columns[monitor.prediction_column] = _labels(frame["prediction"].reset_index(drop=True))
    if target is not None and "label" in frame.columns:
        columns[target] = _labels(frame["label"].reset_index(drop=True))
    if PROBABILITY in frame.columns:
        columns[PROBABILITY] = frame[PROBABILITY].reset_index(drop=True)
    elif "probabilities" in frame.columns:
        probability = [
            float(p[-1]) if p is not None and len(p) == 2 else float("nan")
            for p in frame["probabilities"]
        ]
        if any(p == p for p in probability):
            columns[PROBABILITY] = probability
    segment = monitor.segment
    if segment and segment not in columns:
        source = INPUT_PREFIX + segment if INPUT_PREFIX + segment in frame.columns else segment
        if source in frame.columns:
            columns[segment] = frame[source].astype(str).reset_index(drop=True)
    return pd.DataFrame(columns), features


def _training_version(model_version: Any) -> Any:
    """The dataset version the model's run trained on, found through lineage."""
    from steward.data.versions import resolve

    if not model_version.run_id:
        raise _Stop(
            f"model version {model_version.name}/{model_version.version} has no run, so no "
            "training data can be found through lineage; give the monitor a reference."
        )
    from steward.data.versions import run_lineage

    inputs = [edge for edge in run_lineage(model_version.run_id) if edge.direction == "input"]
    candidates = [edge for edge in inputs if "test" not in edge.dataset.lower()]
    training = [edge for edge in candidates if "train" in edge.dataset.lower()] or candidates
    if not training:
        read = ", ".join(f"{e.dataset}:{e.version}" for e in inputs) or "no dataset versions"
        raise _Stop(
            f"the run {model_version.run_id[:12]} that trained {model_version.name}/"
            f"{model_version.version} read {read}; none looks like training data. Give the "
            "monitor a reference (--reference NAME:VERSION)."
        )
    edge = sorted(training, key=lambda e: (e.dataset, -e.version))[0]
    return resolve(f"{edge.dataset}:{edge.version}")


def _infer_target(columns: list[str], features: list[str], monitor: Monitor) -> str | None:
    if monitor.target_column:
        return monitor.target_column
    others = [c for c in columns if c not in features and c != monitor.prediction_column]
    return others[0] if len(others) == 1 else None


def _dataset_reference(version: Any, features: list[str], monitor: Monitor) -> _Reference:
    from steward.monitoring.monitors.reference import dataset_reference

    profile = version.profile()
    names = (
        [column.name for column in profile.columns]
        if profile is not None
        else list(version.to_pandas().columns)
    )
    target = _infer_target(names, features, monitor)
    wanted = [c for c in features if c in names] + ([target] if target else [])
    found = dataset_reference(version, wanted)
    summary = found.summary
    notes = list(found.notes)
    if target and target in summary.columns and monitor.prediction_column not in summary.columns:
        columns = dict(summary.columns)
        columns[monitor.prediction_column] = summary.columns[target]
        dtypes = {**summary.dtypes, monitor.prediction_column: summary.dtypes.get(target, "?")}
        summary = type(summary)(rows=summary.rows, columns=columns, dtypes=dtypes)
        notes.append(
            f"prediction drift compares predicted classes with the reference's labels "
            f"('{target}'): the reference holds no predictions"
        )
    return _Reference(summary, found.description, target, notes)


def _reference(
    monitor: Monitor, model_version: Any, features: list[str], ws: Workspace
) -> _Reference:
    from steward.data.versions import resolve

    spec = monitor.reference
    if spec is None or spec in ("lineage", "training"):
        if model_version is None:
            raise _Stop(f"{monitor.source} has no model to find training data through lineage")
        version = _training_version(model_version)
        found = _dataset_reference(version, features, monitor)
        found.notes.insert(0, f"reference {version.ref} found through lineage (run → dataset)")
        return found
    if spec.startswith("window:"):
        start, end = reference_window(spec)
        frame = _read(monitor, start, end, ws)
        if frame.empty:
            raise _Stop(f"the reference window {spec} holds no rows of {monitor.source}")
        target = monitor.target_column or "label"
        reference, _ = _window_frame(frame, monitor, target)
        return _Reference(
            reference.drop(columns=[PROBABILITY], errors="ignore"),
            f"{monitor.source} from {start.isoformat()} to {end.isoformat()}",
            target,
            [f"reference: {len(frame)} rows of {monitor.source}, {spec}"],
        )
    try:
        version = resolve(spec.removeprefix("dataset:"))
    except StewardError as exc:
        raise _Stop(f"reference {spec!r} cannot be found: {exc}") from None
    return _dataset_reference(version, features, monitor)


def evaluate_window(monitor: Monitor, now: datetime, ws: Workspace) -> Evaluation:
    """Evaluate ``monitor``'s window ending at ``now``."""
    model_version = None
    try:
        frame, start, end = _read_window(monitor, now, ws)
    except _Stop as exc:
        return Evaluation(status="error", start=now, end=now, notes=[str(exc)])
    evaluation = Evaluation(status="ok", start=start, end=end, rows=len(frame))
    evaluation.labels = int(frame["label"].notna().sum()) if "label" in frame.columns else 0
    evaluation.metrics = {"window.rows": float(evaluation.rows)}
    if monitor.model is not None:
        try:
            model_version = resolve_model(monitor.model)
            evaluation.model_version = model_version.version
        except StewardError as exc:
            evaluation.status = "error"
            evaluation.notes.append(f"model {monitor.model} cannot be resolved: {exc}")
            return evaluation
    if frame.empty:
        evaluation.status = "empty"
        hint = (
            "Is the model served with prediction logging on, and has it had traffic?"
            if monitor.table is None
            else "Has the job that writes the table run?"
        )
        evaluation.notes.append(
            f"no rows of {monitor.source} in {parse_window(monitor.window).describe()} "
            f"before {end.isoformat()}: nothing to compare. {hint}"
        )
        return evaluation
    try:
        inputs = [c[len(INPUT_PREFIX) :] for c in frame.columns if str(c).startswith(INPUT_PREFIX)]
        features = list(monitor.features) if monitor.features is not None else inputs
        reference = _reference(monitor, model_version, features, ws)
    except StewardError as exc:
        evaluation.status = "error"
        evaluation.notes.append(str(exc))
        return evaluation
    evaluation.notes.extend(reference.notes)
    evaluation.reference_description = reference.description
    _compare(evaluation, frame, monitor, reference)
    return evaluation


def _compare(
    evaluation: Evaluation, frame: pd.DataFrame, monitor: Monitor, reference: _Reference
) -> None:
    from steward.monitoring.checks.drift import drift
    from steward.monitoring.statistics.summary import DatasetSummary

    target = reference.target
    current, features = _window_frame(frame, monitor, target)
    missing = [name for name in features if name not in current.columns]
    if missing:
        evaluation.notes.append(f"not in {monitor.source}: {', '.join(missing)}")
    has_labels = target is not None and target in current.columns and evaluation.labels > 0
    prediction = monitor.prediction_column if monitor.prediction_column in current.columns else None
    checked = list(features)
    drift_columns = [*checked]
    if prediction:
        drift_columns.append(prediction)
    if has_labels and target:
        drift_columns.append(target)
    present = [c for c in drift_columns if c in current.columns]
    reference_data = reference.data
    if not isinstance(reference_data, DatasetSummary):
        reference_data = reference_data[[c for c in drift_columns if c in reference_data.columns]]
    result = drift(
        reference_data,
        current[present],
        columns=checked,
        prediction=prediction,
        target=target if has_labels else None,
        drift_share=monitor.drift_share,
    )
    evaluation.drift = result
    evaluation.reference_summary = result.reference_summary
    metrics = {**evaluation.metrics, **result.metrics(), "window.labels": float(evaluation.labels)}
    if not has_labels:
        evaluation.notes.append(
            "no labels in this window yet: realised performance waits for feedback"
        )
    _performance(evaluation, current, monitor, target, prediction, has_labels, metrics)
    evaluation.metrics = metrics


def _performance(
    evaluation: Evaluation,
    current: pd.DataFrame,
    monitor: Monitor,
    target: str | None,
    prediction: str | None,
    has_labels: bool,
    metrics: dict[str, float],
) -> None:
    from steward.monitoring.checks.estimated import estimate_performance
    from steward.monitoring.checks.performance import performance

    has_probability = PROBABILITY in current.columns
    if has_probability:
        try:
            estimated = estimate_performance(
                current, proba=PROBABILITY, target=target if has_labels else None
            )
            evaluation.estimated = estimated
            metrics.update(estimated.metrics())
        except StewardError as exc:
            evaluation.notes.append(f"performance could not be estimated: {exc}")
    if has_labels and target and prediction:
        labelled = current[current[target].notna()].copy()
        labelled[target] = _labels(labelled[target])
        try:
            realised = performance(
                labelled,
                target=target,
                prediction=prediction,
                proba=PROBABILITY if has_probability else None,
                segment=monitor.segment if monitor.segment in labelled.columns else None,
            )
            evaluation.performance = realised
            metrics.update(realised.metrics())
        except StewardError as exc:
            evaluation.notes.append(f"realised performance could not be computed: {exc}")
