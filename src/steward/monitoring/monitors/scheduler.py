"""Running monitors on their cron schedules (``steward monitor watch``).

A monitor is due when its schedule fired since it was last evaluated (or,
never evaluated, since it was created). State lives in the store (the stored
results), so a restarted watcher neither misses a window nor runs one twice,
and several machines can share one store as long as only one watches.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from steward.monitoring.monitors.definition import Monitor, list_monitors
from steward.monitoring.monitors.run import MonitorResult, monitor_results, run_monitor
from steward.workspace import Workspace

logger = logging.getLogger("steward.monitoring")


def _last_evaluated(monitor: Monitor, workspace: Workspace | None) -> datetime:
    latest = monitor_results(monitor.name, limit=1, workspace=workspace)
    if not latest:
        return monitor.created_at
    return max(latest[-1].created_at, latest[-1].window_end)


def due_monitors(now: datetime | None = None, workspace: Workspace | None = None) -> list[Monitor]:
    """The scheduled monitors whose schedule fired since their last evaluation."""
    moment = now or datetime.now(UTC)
    due = []
    for monitor in list_monitors(workspace):
        next_run = monitor.next_run(_last_evaluated(monitor, workspace))
        if next_run is not None and next_run <= moment:
            due.append(monitor)
    return due


def run_due(now: datetime | None = None, workspace: Workspace | None = None) -> list[MonitorResult]:
    """Evaluate every due monitor once; a failing monitor is logged and skipped."""
    results = []
    for monitor in due_monitors(now, workspace):
        try:
            results.append(run_monitor(monitor.name, now=now, workspace=workspace))
        except Exception:  # one broken monitor must not stop the others
            logger.exception("monitor %s failed", monitor.name)
    return results


def watch(
    poll_s: float = 30.0,
    stop: threading.Event | None = None,
    workspace: Workspace | None = None,
    on_result: Callable[[MonitorResult], None] | None = None,
) -> None:
    """Run due monitors until ``stop`` is set, waking at the next due time or every ``poll_s``.

    Args:
        poll_s: the longest sleep, so monitors created meanwhile are picked up.
        stop: set it to end the loop (the CLI runs until interrupted).
        workspace: the stores (default: the current workspace).
        on_result: called with each evaluated window.
    """
    stop = stop or threading.Event()
    while not stop.is_set():
        for result in run_due(workspace=workspace):
            if on_result is not None:
                on_result(result)
        now = datetime.now(UTC)
        upcoming = [
            next_run
            for monitor in list_monitors(workspace)
            if (next_run := monitor.next_run(now)) is not None
        ]
        wake = min([*upcoming, now + timedelta(seconds=poll_s)])
        stop.wait(max(0.0, (wake - now).total_seconds()))
