"""Running a monitor: evaluate its latest window, store the result, alert.

``run_monitor`` reads the latest window — of the model's logged predictions
(joined with feedback labels), or of the table (``monitors/sources.py``) —
compares it with the reference (``monitors/evaluate.py``), stores the result
per window, and evaluates the alert rules (de-duplicated across runs). Each
evaluated window also publishes a ``monitor.evaluated`` event (see ``events``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from steward.monitoring.alerts.channels import AlertChannel, AlertNotice, UnavailableChannel
from steward.monitoring.alerts.manager import AlertManager
from steward.monitoring.alerts.targets import TargetRefused
from steward.monitoring.monitors.definition import (
    aware,
    get_monitor,
    parse_channel,
    rule_from_spec,
    workspace_or_current,
)
from steward.monitoring.monitors.evaluate import evaluate_window
from steward.monitoring.monitors.stored import (
    FORMAT,
    drift_from_dict,
    dumps,
    estimated_from_dict,
    performance_from_dict,
    summary_to_dict,
)
from steward.monitoring.statistics.summary import DatasetSummary
from steward.workspace import workspace_scope

if TYPE_CHECKING:
    from steward.monitoring.checks.estimated import EstimatedPerformance
    from steward.monitoring.checks.performance import PerformanceResult
    from steward.monitoring.checks.result import DriftResult
    from steward.store.monitoring import MonitorResultRecord
    from steward.workspace import Workspace


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
            blobs = workspace_or_current(self.workspace).blobs
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


def monitor_results(
    name: str, limit: int = 100, workspace: Workspace | None = None
) -> list[MonitorResult]:
    """The latest ``limit`` evaluated windows of a monitor, oldest first.

    Raises:
        NotFound: no such monitor.
    """
    ws = workspace_or_current(workspace)
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


def stored_channel(spec: str) -> AlertChannel:
    """The channel of a stored spec; one whose target is refused now fails each delivery."""
    try:
        return parse_channel(spec)
    except TargetRefused as exc:
        return UnavailableChannel(spec.partition(":")[0].strip().lower(), str(exc))


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
    ws = workspace_or_current(workspace)
    monitor = get_monitor(name, ws)
    now = aware(now) if now is not None else datetime.now(UTC)
    with workspace_scope(ws):
        evaluation = evaluate_window(monitor, now, ws)

    reference_digest = None
    if evaluation.reference_summary is not None:
        reference_digest = ws.blobs.put_bytes(
            dumps(summary_to_dict(evaluation.reference_summary))
        ).digest
    manager = AlertManager(
        [rule_from_spec(rule) for rule in monitor.rules],
        [stored_channel(spec) for spec in monitor.channels],
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
            "metrics": evaluation.metrics,
        },
        actor=ws.actor,
    )
    return _result(record, json.loads(dumps(details)), ws, notices)
