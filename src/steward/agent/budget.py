"""Retraining budgets: how often, and for how much compute, a model may be retrained.

Per registered model: at most N retrains a day and M a week (rolling 24 hours
and 7 days), at most S CPU seconds per day or week, at least an interval
between two, and persistence: an alert or a performance drop must hold for N
windows in a row before it retrains. A firing the budget refuses is recorded
as ``skipped`` with the reason and told to the budget's alert channels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from steward.agent.triggers import agent_workspace
from steward.errors import InvalidInput
from steward.store.agent_records import SPENT, BudgetRecord, FiringRecord
from steward.store.records import now_ms

if TYPE_CHECKING:
    from steward.workspace import Workspace

logger = logging.getLogger("steward.agent")

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
PERIODS = {"day": DAY_MS, "week": WEEK_MS}


def _duration_s(value: str | int | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    from steward.monitoring.monitors.schedule import parse_window

    spec = parse_window(value)
    if spec.duration is None:
        raise InvalidInput(f"min interval {value!r} must be a duration like '30m', '6h' or '1d'.")
    return int(spec.duration.total_seconds())


def _at_least(name: str, value: float | None, low: float) -> None:
    if value is not None and value < low:
        raise InvalidInput(f"{name} must be at least {low:g}, not {value:g}.")


def set_budget(
    model: str,
    *,
    max_per_day: int | None = None,
    max_per_week: int | None = None,
    max_cpu_seconds: float | None = None,
    period: str | None = None,
    min_interval: str | int | None = None,
    persistence: int | None = None,
    channels: list[str] | None = None,
    reset: bool = False,
    workspace: Workspace | None = None,
) -> BudgetRecord:
    """Set a model's retraining budget; limits not given keep their value (``reset``: none).

    Args:
        model: the registered model.
        max_per_day: retrains in any 24 hours.
        max_per_week: retrains in any 7 days.
        max_cpu_seconds: CPU seconds of retraining per ``period``.
        period: ``day`` or ``week`` (default ``day``).
        min_interval: least time between two retrains: seconds, or ``"30m"``, ``"6h"``…
        persistence: windows in a row an alert or drop must hold before retraining.
        channels: alert channels told about skipped firings (``log``, ``webhook:URL``…).
        reset: start from no limits instead of the current budget.
        workspace: the stores (default: the current workspace).

    Raises:
        NotFound: no such model.
        InvalidInput: a negative limit, an unknown period, a malformed channel.
    """
    from steward.monitoring.monitors.definition import parse_channel

    ws = agent_workspace(workspace)
    name = ws.store.registry.get_model(model).name
    current = None if reset else ws.store.budgets.get(name)
    interval = _duration_s(min_interval)
    for label, value, low in (
        ("max per day", max_per_day, 0),
        ("max per week", max_per_week, 0),
        ("max CPU seconds", max_cpu_seconds, 0),
        ("min interval", interval, 0),
        ("persistence", persistence, 1),
    ):
        _at_least(label, value, low)
    if period is not None and period not in PERIODS:
        raise InvalidInput(f"period must be 'day' or 'week', not {period!r}.")
    for spec in channels or ():
        parse_channel(spec)

    def pick(given: Any, field: str, default: Any) -> Any:
        if given is not None:
            return given
        return default if current is None else getattr(current, field)

    limits = {
        "max_per_day": pick(max_per_day, "max_per_day", None),
        "max_per_week": pick(max_per_week, "max_per_week", None),
        "max_cpu_seconds": pick(max_cpu_seconds, "max_cpu_seconds", None),
        "period": pick(period, "period", "day"),
        "min_interval_s": pick(interval, "min_interval_s", None),
        "persistence": pick(persistence, "persistence", 1),
        "channels": list(pick(channels, "channels", ("log",))),
    }
    return ws.store.budgets.set(name, limits, ws.actor)


@dataclass(frozen=True)
class BudgetReport:
    """A model's budget and what its retraining spent against it."""

    model: str
    budget: BudgetRecord | None
    runs_day: int
    runs_week: int
    cpu_seconds: float
    wall_seconds: float
    last_started_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "model": self.model,
            "budget": None if self.budget is None else self.budget.to_dict(),
            "spend": {
                "runs_day": self.runs_day,
                "runs_week": self.runs_week,
                "period": self.period,
                "cpu_seconds": self.cpu_seconds,
                "wall_seconds": self.wall_seconds,
                "last_started_at": (
                    None if self.last_started_at is None else self.last_started_at.isoformat()
                ),
            },
        }

    @property
    def period(self) -> str:
        """The period CPU and wall time are summed over."""
        return "day" if self.budget is None else self.budget.period


def _report(ws: Workspace, model: str, budget: BudgetRecord | None, now: int) -> BudgetReport:
    firings = ws.store.agent.firings(model=model, states=SPENT, since_ms=now - WEEK_MS, limit=None)
    period_ms = PERIODS["day" if budget is None else budget.period]

    def within(firing: FiringRecord, span_ms: int) -> bool:
        return firing.planned_at.timestamp() * 1000 >= now - span_ms

    in_period = [f for f in firings if within(f, period_ms)]
    started = [f.started_at or f.planned_at for f in firings]
    return BudgetReport(
        model=model,
        budget=budget,
        runs_day=sum(within(f, DAY_MS) for f in firings),
        runs_week=len(firings),
        cpu_seconds=sum(f.cpu_seconds or 0.0 for f in in_period),
        wall_seconds=sum(f.wall_seconds or 0.0 for f in in_period),
        last_started_at=max(started) if started else None,
    )


def show_budget(model: str, workspace: Workspace | None = None) -> BudgetReport:
    """The model's budget and its spend: runs today and this week, CPU and wall seconds.

    Raises:
        NotFound: no such model.
    """
    ws = agent_workspace(workspace)
    name = ws.store.registry.get_model(model).name
    return _report(ws, name, ws.store.budgets.get(name), now_ms())


def refusal(model: str, workspace: Workspace, now: int | None = None) -> str | None:
    """Why one more retrain of ``model`` would break its budget, or None if it fits."""
    budget = workspace.store.budgets.get(model)
    if budget is None:
        return None
    now = now_ms() if now is None else now
    report = _report(workspace, model, budget, now)
    if budget.max_per_day is not None and report.runs_day >= budget.max_per_day:
        return (
            f"budget: {report.runs_day} retrain(s) of {model} in the last 24 h "
            f"(max {budget.max_per_day})"
        )
    if budget.max_per_week is not None and report.runs_week >= budget.max_per_week:
        return (
            f"budget: {report.runs_week} retrain(s) of {model} in the last 7 days "
            f"(max {budget.max_per_week})"
        )
    if budget.max_cpu_seconds is not None and report.cpu_seconds >= budget.max_cpu_seconds:
        return (
            f"budget: {report.cpu_seconds:.1f} CPU s spent retraining {model} this "
            f"{budget.period} (max {budget.max_cpu_seconds:g})"
        )
    if budget.min_interval_s is not None and report.last_started_at is not None:
        since = now / 1000 - report.last_started_at.timestamp()
        if since < budget.min_interval_s:
            return (
                f"budget: last retrain of {model} {since:.0f} s ago, less than the minimum "
                f"interval of {budget.min_interval_s} s"
            )
    return None


def persistence(model: str | None, workspace: Workspace) -> int:
    """Windows in a row a condition must hold before retraining ``model`` (1 without one)."""
    if model is None:
        return 1
    budget = workspace.store.budgets.get(model)
    return 1 if budget is None else budget.persistence


def notify(firing: FiringRecord, event: str, workspace: Workspace) -> None:
    """Tell the model's budget channels (default: the log) that a firing was ``skipped``
    or ``failed``; a failed delivery is logged, never raised."""
    from steward.monitoring.alerts.channels import AlertNotice
    from steward.monitoring.monitors.definition import parse_channel

    budget = workspace.store.budgets.get(firing.model) if firing.model else None
    specs = budget.channels if budget is not None else ("log",)
    notice = AlertNotice(
        alert_id=firing.id,
        event=event,
        source=f"trigger:{firing.trigger}",
        rule="retraining budget" if event == "skipped" else "retraining",
        expression=firing.reason or "",
        severity="warning",
        metric="retrains",
        value=None,
        threshold=0.0,
        message=f"trigger {firing.trigger} firing {event} ({firing.key}): {firing.reason}",
        at=datetime.now(UTC).isoformat(),
    )
    for spec in specs:
        try:
            parse_channel(spec).send(notice)
        except Exception as exc:  # a channel down must not stop the agent; say so
            logger.warning("could not tell %s about %s firing %s: %s", spec, event, firing.id, exc)
