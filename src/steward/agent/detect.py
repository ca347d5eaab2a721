"""What a trigger has to answer: the causes since its cursor, each with an idempotency key.

- cron: the latest schedule slot passed since the cursor (slots missed while
  no agent ran are answered once, by the latest, not replayed); key ``cron:SLOT``.
- new-data: new versions of the dataset in the audit log (strictly ordered);
  several at once are answered once, by the newest; key ``new-data:NAME:N``.
- alert: an open alert of the monitor (and rule) that has held for the budget's
  persistence windows; one firing per alert, key ``alert:ID``.
- performance: the metric below the threshold in the monitor's latest windows
  for the persistence count; one firing per run of low windows, keyed by its first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from steward.agent.triggers import model_name
from steward.store.records import datetime_to_ms, ms_to_datetime

if TYPE_CHECKING:
    from steward.monitoring.monitors.schedule import CronSchedule
    from steward.store.agent_records import TriggerRecord
    from steward.workspace import Workspace

_VERSION_ACTIONS = ("dataset.version.create", "dataset.version.import")
_LOOK_BACK = (timedelta(hours=1), timedelta(days=1), timedelta(days=32), timedelta(days=366))
_STREAK_WINDOWS = 100


@dataclass(frozen=True)
class Cause:
    """Something a trigger fires for, once: its key, what happened, and the cursor after it."""

    key: str
    details: dict[str, Any]
    cursor: int


@dataclass
class Findings:
    """The causes found for one trigger, and how far it looked (even when nothing fired)."""

    cursor: int
    causes: list[Cause] = field(default_factory=list)
    waiting: str | None = None
    """Why a condition that holds does not fire yet (persistence)."""


@lru_cache(maxsize=256)
def schedule(expression: str) -> CronSchedule:
    """The parsed cron schedule (parsed once per expression)."""
    from steward.monitoring.monitors.schedule import parse_cron

    return parse_cron(expression)


def next_cron_slot(trigger: TriggerRecord) -> datetime:
    """When a cron trigger fires next, after its cursor."""
    return _next_slot(trigger.spec["cron"], trigger.cursor)


@lru_cache(maxsize=256)
def _next_slot(expression: str, cursor_ms: int) -> datetime:
    start = ms_to_datetime(cursor_ms)
    assert start is not None
    return schedule(expression).next_after(start)


def _cron(trigger: TriggerRecord, now: datetime) -> Findings:
    cron = schedule(trigger.spec["cron"])
    cursor = ms_to_datetime(trigger.cursor)
    assert cursor is not None
    slot = cron.next_after(cursor)
    if slot > now:
        return Findings(trigger.cursor)
    # The latest slot passed: look back a growing span (a long outage costs a few steps).
    for span in _LOOK_BACK:
        begin = now - span
        if begin <= cursor:
            break
        candidate = cron.next_after(begin)
        if candidate <= now:
            slot = candidate
            break
    while (after := cron.next_after(slot)) <= now:
        slot = after
    details = {
        "slot": slot.isoformat(),
        "schedule": cron.expression,
        "previous": cursor.isoformat(),
    }
    return Findings(
        datetime_to_ms(slot),
        [Cause(f"cron:{slot.isoformat()}", details, datetime_to_ms(slot))],
    )


def _new_data(trigger: TriggerRecord, ws: Workspace) -> Findings:
    dataset = trigger.spec["dataset"]
    events = ws.store.audit.events(
        action="dataset.version.*",
        subject=f"dataset:{dataset}:*",
        after_seq=trigger.cursor,
        limit=1000,
        newest_first=False,
    )
    if not events:
        return Findings(trigger.cursor)
    cursor = events[-1].seq
    subject = f"dataset:{dataset}"
    versions = [
        e
        for e in events
        if e.action in _VERSION_ACTIONS and e.subject.rpartition(":")[0] == subject
    ]
    if not versions:
        return Findings(cursor)
    newest = versions[-1]
    number = newest.subject.rpartition(":")[2]
    details = {
        "dataset": dataset,
        "version": int(number) if number.isdigit() else number,
        "versions_seen": len(versions),
        "audit_seq": newest.seq,
        "by": newest.actor,
    }
    return Findings(cursor, [Cause(f"new-data:{dataset}:{number}", details, cursor)])


def _alert(trigger: TriggerRecord, ws: Workspace, persistence: int) -> Findings:
    monitor = trigger.spec["monitor"]
    source = f"monitor:{monitor}"
    events = ws.store.monitoring.events_in(
        ("monitor.evaluated", "alert.fired"), after=trigger.cursor
    )
    if not events:
        return Findings(trigger.cursor)
    findings = Findings(events[-1].pk)
    relevant = any(
        e.payload.get("monitor") == monitor or e.payload.get("source") == source for e in events
    )
    if not relevant:
        return findings
    rule = trigger.spec.get("rule")
    store = ws.store.monitoring
    for alert in store.list_alerts(source=source, limit=1000):
        if alert.resolved_at is not None or (rule and alert.rule != rule):
            continue
        breaches = max(store.rule_breaches(source, alert.rule), 1)
        if breaches < persistence:
            findings.waiting = (
                f"alert {alert.rule!r} of {monitor} held {breaches} of {persistence} windows"
            )
            continue
        details = {
            "monitor": monitor,
            "alert": alert.id,
            "rule": alert.rule,
            "value": alert.value,
            "message": alert.message,
            "windows": breaches,
        }
        findings.causes.append(Cause(f"alert:{alert.id}", details, findings.cursor))
    return findings


def _metric(metrics: dict[str, Any], name: str) -> float | None:
    value = metrics.get(name, metrics.get(f"performance.{name}"))
    return float(value) if isinstance(value, int | float) else None


def _performance(trigger: TriggerRecord, ws: Workspace, persistence: int) -> Findings:
    spec = trigger.spec
    events = ws.store.monitoring.events("monitor.evaluated", after=trigger.cursor)
    if not events:
        return Findings(trigger.cursor)
    findings = Findings(events[-1].pk)
    latest: dict[str, Any] = {}
    for event in events:
        model = event.payload.get("model")
        if model and model_name(str(model)) == spec["model"]:
            latest[event.payload["monitor"]] = event.payload
    for monitor, payload in latest.items():
        value = _metric(payload.get("metrics") or {}, spec["metric"])
        if value is None or not value < spec["threshold"]:
            continue
        streak = _low_streak(ws, monitor, spec["metric"], spec["threshold"])
        if len(streak) < persistence:
            findings.waiting = (
                f"{spec['metric']} of {spec['model']} below {spec['threshold']:g} in "
                f"{len(streak)} of {persistence} windows"
            )
            continue
        details = {
            "model": spec["model"],
            "monitor": monitor,
            "metric": spec["metric"],
            "value": value,
            "threshold": spec["threshold"],
            "windows": len(streak),
        }
        findings.causes.append(
            Cause(f"performance:{monitor}:{streak[-1]}", details, findings.cursor)
        )
    return findings


def _low_streak(ws: Workspace, monitor: str, metric: str, threshold: float) -> list[str]:
    """Ids of the monitor's latest windows in a row with the metric below the threshold,
    newest first."""
    from steward.monitoring.monitors.run import monitor_results

    streak: list[str] = []
    for result in reversed(monitor_results(monitor, limit=_STREAK_WINDOWS, workspace=ws)):
        value = _metric(result.details.get("metrics") or {}, metric)
        if value is None or not value < threshold:
            break
        streak.append(result.id)
    return streak


def find_causes(
    trigger: TriggerRecord, ws: Workspace, now: datetime, persistence: int = 1
) -> Findings:
    """What ``trigger`` has to fire for since its cursor."""
    if trigger.kind == "cron":
        return _cron(trigger, now)
    if trigger.kind == "new-data":
        return _new_data(trigger, ws)
    if trigger.kind == "alert":
        return _alert(trigger, ws, persistence)
    return _performance(trigger, ws, persistence)
