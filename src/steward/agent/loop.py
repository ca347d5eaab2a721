"""The agent: one long-lived process per workspace that runs monitors on their schedules
and fires triggers (cron schedules, new data, alerts, performance drops), within budget.

Each tick: hold the lease (or wait, saying who holds it), finish firings an
earlier agent left, evaluate due monitors, then for each active trigger find
what it has to answer and fire it. A tick with nothing to do costs three small
reads; the default poll (0.5 s) keeps a new dataset version or an alert well
within two seconds of its pipeline's start. One log line per action
(logger ``steward.agent``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from steward.agent import budget
from steward.agent.detect import find_causes, next_cron_slot
from steward.agent.firing import execute, finish_interrupted
from steward.agent.lease import DEFAULT_TTL_S, Lease, describe
from steward.agent.triggers import agent_workspace
from steward.store.agent_records import FiringRecord, FiringState
from steward.store.records import datetime_to_ms

if TYPE_CHECKING:
    from steward.agent.detect import Cause
    from steward.store.agent_records import LeaseRecord, TriggerRecord
    from steward.workspace import Workspace

logger = logging.getLogger("steward.agent")

DEFAULT_POLL_S = 0.5
"""Seconds between ticks: new data or an alert starts its pipeline within about this."""

_MONITOR_CHECK_S = 15.0
_RECOVERY_CHECK_S = 60.0


@dataclass
class TickReport:
    """What one tick did."""

    holding: bool
    held_by: LeaseRecord | None = None
    firings: list[FiringRecord] = field(default_factory=list)
    monitor_windows: int = 0


class Agent:
    """The workspace's agent (see the module doc); ``tick`` once or ``run`` until stopped.

    Args:
        workspace: the stores (default: the current workspace).
        poll_s: seconds between ticks.
        lease_ttl_s: how long the lease outlives a silent agent.
        run_monitors: evaluate monitors on their schedules (``steward monitor watch``'s job).

    Raises:
        InvalidInput: the workspace is a Steward server's (the agent needs the store).
    """

    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        poll_s: float = DEFAULT_POLL_S,
        lease_ttl_s: float = DEFAULT_TTL_S,
        run_monitors: bool = True,
    ) -> None:
        self.ws = agent_workspace(workspace)
        self.poll_s = poll_s
        self.run_monitors = run_monitors
        self.lease = Lease(self.ws, lease_ttl_s)
        self._waiting_for: str | None = None
        self._next_monitor_check: datetime | None = None
        self._next_recovery: datetime | None = None

    # -- one tick -------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        """Do what is due now, if this agent holds (or can take) the lease."""
        if not self.lease.valid():
            other = self.lease.acquire()
            if other is not None:
                self._say_waiting(other)
                return TickReport(holding=False, held_by=other)
            self._waiting_for = None
            self._next_recovery = None
        now = now or datetime.now(UTC)
        self.lease.touch()
        report = TickReport(holding=True)
        triggers = {trigger.name: trigger for trigger in self.ws.store.agent.list_triggers()}
        if self._next_recovery is None or now >= self._next_recovery:
            report.firings.extend(finish_interrupted(self.ws, triggers))
            self._next_recovery = now + timedelta(seconds=_RECOVERY_CHECK_S)
        if self.run_monitors:
            report.monitor_windows = self._run_monitors(now)
        audit_head = self.ws.store.audit.head()[0]
        event_pk = self.ws.store.monitoring.latest_event_pk()
        for trigger in triggers.values():
            if not self.lease.valid():
                break
            if trigger.paused or not _may_have_news(trigger, now, audit_head, event_pk):
                continue
            report.firings.extend(self._answer(trigger, now))
        return report

    def _say_waiting(self, other: LeaseRecord) -> None:
        if self._waiting_for != other.holder:
            logger.info("waiting: the agent lease is held by %s", describe(other))
            self._waiting_for = other.holder

    def _run_monitors(self, now: datetime) -> int:
        if self._next_monitor_check is not None and now < self._next_monitor_check:
            return 0
        scheduled = [
            m for m in self.ws.store.monitoring.list_monitors() if m.config.get("schedule")
        ]
        self._next_monitor_check = now + timedelta(seconds=_MONITOR_CHECK_S)
        if not scheduled:
            return 0
        from steward.monitoring.monitors.run import run_monitor
        from steward.monitoring.monitors.scheduler import due_monitors

        evaluated = 0
        for monitor in due_monitors(now, self.ws):
            try:
                result = run_monitor(monitor.name, now=now, workspace=self.ws)
            except Exception as exc:  # one broken monitor must not stop the agent
                logger.warning("monitor %s failed: %s", monitor.name, exc)
                continue
            evaluated += 1
            logger.info(
                "monitor %s evaluated: %s, %d rows, drift share %s, alerts %s",
                monitor.name,
                result.status,
                result.rows,
                "-" if result.drift_share is None else f"{result.drift_share:.2f}",
                ", ".join(f"{a.event}:{a.rule}" for a in result.alerts) or "none",
            )
        return evaluated

    # -- triggers -------------------------------------------------------------------

    def _answer(self, trigger: TriggerRecord, now: datetime) -> list[FiringRecord]:
        persistence = 1
        if trigger.kind in ("alert", "performance"):
            persistence = budget.persistence(trigger.model, self.ws)
        findings = find_causes(trigger, self.ws, now, persistence)
        if findings.waiting:
            logger.info("trigger %s waits: %s", trigger.name, findings.waiting)
        if not findings.causes:
            if findings.cursor != trigger.cursor:
                self.ws.store.agent.move_cursor(trigger.name, findings.cursor)
            return []
        fired = []
        for cause in findings.causes:
            firing = self._plan(trigger, cause)
            if firing is not None and firing.state == FiringState.PLANNED:
                firing = execute(self.ws, firing, trigger)
            if firing is not None:
                fired.append(firing)
        return fired

    def _plan(self, trigger: TriggerRecord, cause: Cause) -> FiringRecord | None:
        reason = budget.refusal(trigger.model, self.ws) if trigger.model else None
        firing = self.ws.store.agent.plan_firing(
            trigger.name,
            key=cause.key,
            cause=cause.details,
            cursor=cause.cursor,
            agent=self.lease.holder,
            actor=self.ws.actor,
            skip_reason=reason,
        )
        if firing is None:
            logger.info("trigger %s already fired for %s", trigger.name, cause.key)
            return None
        if firing.state == FiringState.SKIPPED:
            logger.info(
                "firing %s of trigger %s skipped (%s): %s",
                firing.id[:12],
                trigger.name,
                cause.key,
                reason,
            )
            budget.notify(firing, "skipped", self.ws)
        else:
            logger.info(
                "firing %s of trigger %s planned: %s", firing.id[:12], trigger.name, cause.key
            )
        return firing

    # -- the long-lived loop ---------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Tick every ``poll_s`` until ``stop`` is set; then give the lease up."""
        stop = stop or threading.Event()
        logger.info("agent started (poll %.1f s)", self.poll_s)
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except Exception as exc:  # a store hiccup: log it, try again next tick
                    logger.exception("agent tick failed: %s", exc)
                stop.wait(self.poll_s)
        finally:
            self.close()
            logger.info("agent stopped")

    def close(self) -> None:
        """Give the lease up (another agent may start at once)."""
        self.lease.release()


def _may_have_news(trigger: TriggerRecord, now: datetime, audit_head: int, event_pk: int) -> bool:
    """Cheap check whether ``trigger`` can have anything to answer since its cursor."""
    if trigger.kind == "cron":
        return datetime_to_ms(next_cron_slot(trigger)) <= datetime_to_ms(now)
    if trigger.kind == "new-data":
        return trigger.cursor < audit_head
    return trigger.cursor < event_pk
