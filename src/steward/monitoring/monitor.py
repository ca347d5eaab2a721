"""Monitors: a deployed model's prediction log — or any table of predictions and
features — watched against a reference, window by window.

::

    steward.monitoring.create_monitor(
        "cancer", model="breast-cancer-classifier@champion", window="1h",
        schedule="0 * * * *", rules=["drift.share > 0.3"], channels=["webhook:http://…"],
    )
    steward.monitoring.create_monitor(
        "nightly-scores", table="/data/scores/*.parquet", timestamp_column="scored_at",
        reference="clinic-train:3", window="1d",
    )
    result = steward.monitoring.run_monitor("cancer")

``run_monitor`` reads the latest window — of the model's logged predictions
(joined with feedback labels), or of the table (``monitoring/sources.py``) —
compares it with the reference — by default the training dataset version
found through lineage (model version → run → dataset versions the run read),
summarised from its stored profile — for data, prediction and label drift and
data quality, measures realised performance where labels arrived (and
estimates it from probabilities otherwise), stores the result per window, and
evaluates the alert rules (de-duplicated across runs). Each evaluated window
also publishes a ``monitor.evaluated`` event (see ``events``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from steward.errors import InvalidInput
from steward.monitoring.channels import AlertChannel, AlertNotice, channel
from steward.monitoring.rules import SEVERITIES, Rule, parse_rule
from steward.monitoring.schedule import WindowSpec, parse_cron, parse_window
from steward.monitoring.stored import (
    FORMAT,
    drift_from_dict,
    dumps,
    estimated_from_dict,
    performance_from_dict,
    summary_to_dict,
)
from steward.monitoring.summary import DatasetSummary
from steward.workspace import workspace_scope

if TYPE_CHECKING:
    from steward.monitoring.estimated import EstimatedPerformance
    from steward.monitoring.performance import PerformanceResult
    from steward.monitoring.result import DriftResult
    from steward.store.monitoring import MonitorRecord, MonitorResultRecord
    from steward.workspace import Workspace


@dataclass(frozen=True)
class Monitor:
    """A stored monitor definition."""

    id: str
    name: str
    model: str | None
    reference: str | None
    window: str
    schedule: str | None
    rules: tuple[str, ...]
    channels: tuple[str, ...]
    features: tuple[str, ...] | None
    prediction_column: str
    target_column: str | None
    segment: str | None
    drift_share: float
    cooldown_s: float
    created_at: datetime
    created_by: str
    table: str | None = None
    timestamp_column: str | None = None
    probability_column: str | None = None

    @property
    def source(self) -> str:
        """What the monitor watches, in words."""
        if self.table is None:
            return f"the prediction log of {self.model}"
        return f"table {self.table}" + (f" (model {self.model})" if self.model else "")

    def next_run(self, after: datetime | None = None) -> datetime | None:
        """When the schedule next fires after ``after`` (default now; None without schedule)."""
        if not self.schedule:
            return None
        return parse_cron(self.schedule).next_after(after or datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        data = dict(self.__dict__)
        data["created_at"] = self.created_at.isoformat()
        data["rules"] = list(self.rules)
        data["channels"] = [_redact(spec) for spec in self.channels]
        data["features"] = None if self.features is None else list(self.features)
        return data


@dataclass(frozen=True)
class MonitorResult:
    """One evaluated window of a monitor."""

    id: str
    monitor: str
    status: str
    window_start: datetime
    window_end: datetime
    rows: int
    labels: int
    drift_share: float | None
    dataset_drift: bool | None
    model_version: int | None
    blob_digest: str
    created_at: datetime
    details: dict[str, Any] = field(repr=False)
    alerts: tuple[AlertNotice, ...] = ()
    workspace: Workspace | None = field(default=None, repr=False, compare=False)
    """Where its stored summaries are read from (default: the current workspace)."""

    @property
    def notes(self) -> list[str]:
        """What the reader should know about this window (reference used, fallbacks…)."""
        return list(self.details.get("notes", ()))

    @property
    def metrics(self) -> dict[str, float]:
        """The flat numbers the alert rules were evaluated on."""
        return {k: v for k, v in self.details.get("metrics", {}).items() if v is not None}

    @property
    def drifted(self) -> list[str]:
        """Names of the drifted features."""
        return list((self.details.get("drift") or {}).get("drifted", ()))

    def drift(self) -> DriftResult | None:
        """The drift result rebuilt from storage (with both window summaries for plots)."""
        data = self.details.get("drift")
        if data is None:
            return None
        return drift_from_dict(data, self._summary("reference"), self._summary("current"))

    def performance(self) -> PerformanceResult | None:
        """Realised performance on the labelled rows (None without labels)."""
        return performance_from_dict(self.details.get("performance"))

    def estimated(self) -> EstimatedPerformance | None:
        """Performance estimated from probabilities (None without them)."""
        return estimated_from_dict(self.details.get("estimated"))

    def _summary(self, which: str) -> DatasetSummary | None:
        if which == "current":
            data = self.details.get("current_summary")
        else:
            digest = self.details.get("reference", {}).get("summary_digest")
            blobs = _workspace(self.workspace).blobs
            data = json.loads(blobs.get_bytes(digest)) if digest else None
        return None if data is None else DatasetSummary.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form: the window's figures, notes, metrics and alerts sent."""
        return {
            "id": self.id,
            "monitor": self.monitor,
            "status": self.status,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "rows": self.rows,
            "labels": self.labels,
            "drift_share": self.drift_share,
            "dataset_drift": self.dataset_drift,
            "drifted": self.drifted,
            "model_version": self.model_version,
            "reference": self.details.get("reference", {}).get("description"),
            "notes": self.notes,
            "metrics": self.metrics,
            "alerts": [notice.to_dict() for notice in self.alerts],
            "created_at": self.created_at.isoformat(),
        }


def _workspace(workspace: Workspace | None) -> Workspace:
    from steward.workspace import current_workspace

    return workspace or current_workspace()


def _redact(spec: str) -> str:
    """A channel spec without credentials in the URL's user part."""
    kind, _, target = spec.partition(":")
    if "@" in target and "://" in target:
        scheme, _, rest = target.partition("://")
        host = rest.split("@", 1)[1]
        return f"{kind}:{scheme}://***@{host}"
    return spec


# -- definitions ------------------------------------------------------------------


def parse_channel(spec: str) -> AlertChannel:
    """A channel from its spec: ``webhook:URL``, ``slack:URL``, ``email:ADDR[,ADDR]`` or ``log``.

    E-mail options follow a ``?``: ``email:ops@example.org?host=smtp.local&port=25&sender=…``.

    Raises:
        InvalidInput: the spec is malformed.
    """
    kind, _, target = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "log":
        return channel("log")
    if kind in ("webhook", "slack"):
        if not target:
            raise InvalidInput(f"channel {spec!r} needs a URL, e.g. '{kind}:https://…'.")
        return channel(kind, url=target)
    if kind == "email":
        addresses, _, query = target.partition("?")
        recipients = [a.strip() for a in addresses.split(",") if a.strip()]
        if not recipients or not all("@" in a for a in recipients):
            raise InvalidInput(f"channel {spec!r} needs e-mail addresses, e.g. 'email:ops@org'.")
        options = {key: values[-1] for key, values in parse_qs(query).items()}
        try:
            port = int(options.get("port", 25))
        except ValueError:
            raise InvalidInput(f"channel {spec!r}: port must be a number.") from None
        return channel(
            "email",
            host=options.get("host", "localhost"),
            port=port,
            sender=options.get("sender", "steward@localhost"),
            recipients=recipients,
        )
    raise InvalidInput(
        f"channel {spec!r} is not understood; use 'webhook:URL', 'slack:URL', "
        "'email:ADDRESS' or 'log'."
    )


def _rule(spec: str) -> Rule:
    """A rule from ``"expression"`` or ``"severity: expression"``."""
    severity, colon, rest = spec.partition(":")
    if colon and severity.strip().lower() in SEVERITIES:
        return parse_rule(rest.strip(), severity=severity.strip().lower())
    return parse_rule(spec)


def _check_reference(reference: str | None) -> None:
    if reference is None or reference in ("lineage", "training"):
        return
    if reference.startswith("window:"):
        _reference_window(reference)
    elif reference.startswith("dataset:") and not reference.removeprefix("dataset:"):
        raise InvalidInput("reference 'dataset:' names no dataset; use 'dataset:NAME:VERSION'.")


def _reference_window(reference: str) -> tuple[datetime, datetime]:
    start_text, slash, end_text = reference.removeprefix("window:").partition("/")
    try:
        start = _aware(datetime.fromisoformat(start_text))
        end = _aware(datetime.fromisoformat(end_text)) if slash else None
    except ValueError:
        end = None
        start = None
    if start is None or end is None or end <= start:
        raise InvalidInput(
            f"reference {reference!r} is not understood; a window of predictions is "
            "'window:START/END' in ISO 8601, e.g. 'window:2026-01-01T00:00/2026-01-08T00:00'."
        )
    return start, end


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _from_record(record: MonitorRecord) -> Monitor:
    config = record.config
    features = config.get("features")
    return Monitor(
        id=record.id,
        name=record.name,
        model=record.model or None,
        reference=config.get("reference"),
        window=config["window"],
        schedule=config.get("schedule"),
        rules=tuple(config.get("rules", ())),
        channels=tuple(config.get("channels", ())),
        features=None if features is None else tuple(features),
        prediction_column=config.get("prediction_column", "prediction"),
        target_column=config.get("target_column"),
        segment=config.get("segment"),
        drift_share=float(config.get("drift_share", 0.5)),
        cooldown_s=float(config.get("cooldown_s", 6 * 3600)),
        created_at=record.created_at,
        created_by=record.created_by,
        table=config.get("table"),
        timestamp_column=config.get("timestamp_column"),
        probability_column=config.get("probability_column"),
    )


def _check_source(
    model: str | None,
    table: str | None,
    reference: str | None,
    window: WindowSpec,
    timestamp_column: str | None,
) -> None:
    from steward.models.uri import parse_model_uri
    from steward.monitoring.sources import check_table

    if model is None and table is None:
        raise InvalidInput(
            "a monitor watches a served model (--model NAME@ALIAS) or a table of predictions "
            "and features (--table PATH|dataset:NAME); give one."
        )
    if model is not None:
        parsed = parse_model_uri(_model_uri(model), allow_short=True)
        if parsed.name is None:
            raise InvalidInput(f"monitor a registered model (name@alias or name/3), not {model!r}.")
    if table is None:
        return
    check_table(table)
    if model is None and (reference is None or reference in ("lineage", "training")):
        raise InvalidInput(
            "a monitor of a table without a model cannot find its training data through "
            "lineage; give a reference (--reference NAME:VERSION or window:START/END), or the "
            "model that scored the table (--model NAME@ALIAS)."
        )
    timed = window.duration is not None or (reference or "").startswith("window:")
    if timed and not timestamp_column:
        raise InvalidInput(
            f"window {window.text!r} of a table needs its timestamp column (--timestamp-column "
            "NAME); without one, use a window of rows such as '1000 rows'."
        )


def create_monitor(
    name: str,
    model: str | None = None,
    reference: str | None = None,
    window: str = "1d",
    schedule: str | None = None,
    rules: Sequence[str] = (),
    channels: Sequence[str] = (),
    features: Sequence[str] | None = None,
    prediction_column: str = "prediction",
    target_column: str | None = None,
    segment: str | None = None,
    drift_share: float = 0.5,
    cooldown: timedelta = timedelta(hours=6),
    replace: bool = False,
    workspace: Workspace | None = None,
    *,
    table: str | None = None,
    timestamp_column: str | None = None,
    probability_column: str | None = None,
) -> Monitor:
    """Define a monitor of a served model or of a table of predictions and features.

    Args:
        name: the monitor's name (also the source of its alerts, as ``monitor:NAME``).
        model: the watched model, ``name@alias`` or ``name/VERSION`` (``models:/`` optional);
            with ``table``, the model that scored it (for the lineage reference).
        reference: None (the training dataset version, from lineage), a dataset version
            ``NAME:VERSION`` (or ``dataset:NAME:VERSION``), or a window of the watched
            predictions ``window:START/END`` (ISO 8601).
        window: what each run evaluates: ``"1h"``, ``"1d"``… before now, or ``"N rows"``.
        schedule: a five-field cron expression (stored for schedulers; validated here).
        rules: alert rules, e.g. ``"drift.share > 0.3"`` or ``"critical: performance.f1 < 0.8"``.
        channels: ``webhook:URL``, ``slack:URL``, ``email:ADDR`` or ``log``.
        features: input columns to check (default: every logged input, or every column
            of the table that is not a prediction, label, probability or timestamp).
        prediction_column: the name predictions get in the reference (its label column stands
            in when the reference has no predictions); in a table, its prediction column.
        target_column: the label column of the reference dataset (default: its one column
            that is not an input) and of the table (default: ``label`` when present).
        segment: an input or log column to split realised performance by.
        drift_share: the share of drifted features that means dataset drift.
        cooldown: how long a persisting alert stays quiet before a reminder.
        replace: overwrite a monitor of the same name.
        workspace: where to store it (default: the current workspace).
        table: watch this table instead of the model's prediction log: ``dataset:NAME``
            (its latest version at each run), ``dataset:NAME:VERSION``, or Parquet / CSV
            files (a path, folder, glob or fsspec URL), read again at each run.
        timestamp_column: the table's time column (needed for time windows).
        probability_column: the table's positive-class probability (for estimated
            performance and ROC AUC).

    Raises:
        InvalidInput: a malformed window, schedule, rule, channel, reference or source.
        NotFound: the model (or alias) does not exist.
        Conflict: a monitor of this name exists and ``replace`` is False.
    """
    from steward.store.validation import check_name

    check_name("monitor", name)
    _check_source(model, table, reference, parse_window(window), timestamp_column)
    if schedule:
        parse_cron(schedule)
    parsed_rules = [_rule(rule) for rule in rules]
    if len({rule.key for rule in parsed_rules}) != len(parsed_rules):
        raise InvalidInput("two alert rules of a monitor are the same; give each rule once.")
    for spec in channels:
        parse_channel(spec)
    _check_reference(reference)
    if not 0 < drift_share <= 1:
        raise InvalidInput(f"drift_share must be in (0, 1], not {drift_share!r}.")
    ws = _workspace(workspace)
    if model is not None:
        with workspace_scope(ws):
            _resolve_model(model)  # raises NotFound with the registry's message
    config = {
        "reference": reference,
        "window": window,
        "schedule": schedule,
        "rules": list(rules),
        "channels": list(channels),
        "features": None if features is None else list(features),
        "prediction_column": prediction_column,
        "target_column": target_column,
        "segment": segment,
        "drift_share": drift_share,
        "cooldown_s": cooldown.total_seconds(),
        "table": table,
        "timestamp_column": timestamp_column,
        "probability_column": probability_column,
    }
    short = "" if model is None else model.removeprefix("models:/")
    record = ws.store.monitoring.create_monitor(name, short, config, ws.actor, replace=replace)
    return _from_record(record)


def _model_uri(model: str) -> str:
    return model if model.startswith("models:/") else f"models:/{model}"


def _resolve_model(model: str) -> Any:
    from steward.models.registry import resolve

    return resolve(_model_uri(model))


def get_monitor(name: str, workspace: Workspace | None = None) -> Monitor:
    """The monitor called ``name``.

    Raises:
        NotFound: no such monitor.
    """
    return _from_record(_workspace(workspace).store.monitoring.get_monitor(name))


def list_monitors(workspace: Workspace | None = None) -> list[Monitor]:
    """Every monitor, by name."""
    return [_from_record(r) for r in _workspace(workspace).store.monitoring.list_monitors()]


def delete_monitor(name: str, workspace: Workspace | None = None) -> None:
    """Remove a monitor and its stored results (alerts stay in the alert history).

    Raises:
        NotFound: no such monitor.
    """
    ws = _workspace(workspace)
    ws.store.monitoring.delete_monitor(name, ws.actor)


def monitor_results(
    name: str, limit: int = 100, workspace: Workspace | None = None
) -> list[MonitorResult]:
    """The latest ``limit`` evaluated windows of a monitor, oldest first.

    Raises:
        NotFound: no such monitor.
    """
    ws = _workspace(workspace)
    records = ws.store.monitoring.monitor_results(name, limit=limit)
    return [
        _result(record, json.loads(ws.blobs.get_bytes(record.blob_digest)), ws)
        for record in records
    ]


def _result(
    record: MonitorResultRecord,
    details: dict[str, Any],
    workspace: Workspace,
    alerts: Sequence[AlertNotice] = (),
) -> MonitorResult:
    if not alerts:
        alerts = [AlertNotice.from_dict(item) for item in details.get("alerts", ())]
    return MonitorResult(
        id=record.id,
        monitor=record.monitor,
        status=record.status,
        window_start=record.window_start,
        window_end=record.window_end,
        rows=record.row_count,
        labels=record.label_count,
        drift_share=record.drift_share,
        dataset_drift=record.dataset_drift,
        model_version=record.model_version,
        blob_digest=record.blob_digest,
        created_at=record.created_at,
        details=details,
        alerts=tuple(alerts),
        workspace=workspace,
    )


# -- evaluation ---------------------------------------------------------------------


def run_monitor(
    name: str, now: datetime | None = None, workspace: Workspace | None = None
) -> MonitorResult:
    """Evaluate the monitor's latest window now, store the result and alert as its rules say.

    An empty window, a model that no longer resolves or a reference that cannot
    be found give a stored result whose notes say what happened (status
    ``empty`` or ``error``), never an exception.

    Args:
        name: the monitor.
        now: the end of the window (default: now, UTC).
        workspace: the stores (default: the current workspace).

    Raises:
        NotFound: no such monitor.
    """
    from steward.monitoring.alerts import AlertManager
    from steward.monitoring.evaluate import evaluate_window

    ws = _workspace(workspace)
    monitor = get_monitor(name, ws)
    now = _aware(now) if now is not None else datetime.now(UTC)
    with workspace_scope(ws):
        evaluation = evaluate_window(monitor, now, ws)

    reference_digest = None
    if evaluation.reference_summary is not None:
        reference_digest = ws.blobs.put_bytes(
            dumps(summary_to_dict(evaluation.reference_summary))
        ).digest
    manager = AlertManager(
        [_rule(rule) for rule in monitor.rules],
        [parse_channel(spec) for spec in monitor.channels],
        source=f"monitor:{monitor.name}",
        cooldown=timedelta(seconds=monitor.cooldown_s),
        workspace=ws,
    )
    notices = manager.evaluate(evaluation.metrics, now=now)
    drift = evaluation.drift
    details = {
        "format": FORMAT,
        "monitor": monitor.name,
        "model": monitor.model,
        "table": monitor.table,
        "model_version": evaluation.model_version,
        "window": {
            "spec": monitor.window,
            "start": evaluation.start.isoformat(),
            "end": evaluation.end.isoformat(),
        },
        "reference": {
            "spec": monitor.reference,
            "description": evaluation.reference_description,
            "summary_digest": reference_digest,
        },
        "status": evaluation.status,
        "rows": evaluation.rows,
        "labels": evaluation.labels,
        "drift": None if drift is None else drift.to_dict(),
        "current_summary": (
            None
            if drift is None or drift.current_summary is None
            else summary_to_dict(drift.current_summary)
        ),
        "performance": None if evaluation.performance is None else evaluation.performance.to_dict(),
        "estimated": None if evaluation.estimated is None else evaluation.estimated.to_dict(),
        "metrics": evaluation.metrics,
        "notes": list(evaluation.notes),
        "alerts": [notice.to_dict() for notice in notices],
    }
    digest = ws.blobs.put_bytes(dumps(details)).digest
    record = ws.store.monitoring.add_monitor_result(
        monitor.name,
        window_start=evaluation.start,
        window_end=evaluation.end,
        row_count=evaluation.rows,
        label_count=evaluation.labels,
        drift_share=None if drift is None else drift.drift_share,
        dataset_drift=None if drift is None else drift.dataset_drift,
        status=evaluation.status,
        model_version=evaluation.model_version,
        blob_digest=digest,
        event={
            "monitor": monitor.name,
            "model": monitor.model,
            "table": monitor.table,
            "status": evaluation.status,
            "window_end": evaluation.end.isoformat(),
            "dataset_drift": None if drift is None else drift.dataset_drift,
            "drift_share": None if drift is None else drift.drift_share,
            "alerts": [f"{n.event}:{n.rule}" for n in notices],
        },
        actor=ws.actor,
    )
    return _result(record, json.loads(dumps(details)), ws, notices)
