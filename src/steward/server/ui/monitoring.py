"""Monitoring: monitors and alerts (acknowledged from the page), and one monitor's
windows: the drift table, per-feature plots, trends, and performance as labels arrive."""

from __future__ import annotations

import math
from typing import Any

from steward.auth import Role
from steward.errors import InvalidInput, NotFound
from steward.server.ui import charts
from steward.server.ui.formatting import ui_url
from steward.server.ui.pages import Context, Page

WINDOWS = 50
FEATURE_PLOTS = 6
ALERTS = 100


def _alerts(context: Context, source: str | None = None) -> list[Any]:
    status = context.query.get("status") or None
    if status not in (None, "firing", "resolved"):
        raise InvalidInput("status must be 'firing' or 'resolved'.")
    return context.workspace.store.monitoring.list_alerts(status, source, ALERTS)


def overview(context: Context) -> Page:
    """Every monitor, and the alerts (firing first) with an acknowledge button for editors."""
    store = context.workspace.store.monitoring
    alerts = sorted(_alerts(context), key=lambda a: a.status != "firing")
    values = {
        "monitors": store.list_monitors(),
        "alerts": alerts,
        "can_ack": context.can(Role.EDITOR),
        "status": context.query.get("status", ""),
        "highlight": context.query.get("alert", ""),
        "back": ui_url("/monitoring"),
    }
    return Page("monitoring.html", "Monitoring", values)


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _trends(results: list[Any]) -> list[dict[str, Any]]:
    ends = [r.window_end.isoformat() for r in results]
    drift = charts.line("drift share", ends, [r.drift_share for r in results])
    figures = [charts.figure([drift], "Share of features drifting", "window end", "share")]
    keys = sorted({k for r in results for k in r.metrics if k.count(".") == 1} - {"drift.share"})
    performance = [k for k in keys if k.startswith("performance.")]
    if performance:
        traces = [
            charts.line(
                k.removeprefix("performance."), ends, [_finite(r.metrics.get(k)) for r in results]
            )
            for k in performance
        ]
        figures.append(charts.figure(traces, "Performance on labelled rows", "window end", ""))
    labelled = [r.labels / r.rows if r.rows else None for r in results]
    figures.append(
        charts.figure(
            [charts.bars("labelled share", ends, labelled)],
            "Labels received",
            "window end",
            "share",
        )
    )
    return figures


def _feature_figures(drift: Any, chosen: str) -> list[dict[str, Any]]:
    from steward.monitoring.report.window import feature_shares

    ordered = sorted(drift.features, key=lambda row: (not row.drifted, row.column))
    columns = [chosen] if chosen else [row.column for row in ordered[:FEATURE_PLOTS]]
    figures = []
    for column in columns:
        shares = feature_shares(drift, column)
        if shares is None:
            continue
        labels, reference, current = shares
        traces = [
            charts.bars("reference", labels, [float(v) for v in reference]),
            charts.bars("current", labels, [float(v) for v in current]),
        ]
        figures.append(charts.figure(traces, column, "", "share of rows"))
    return figures


def monitor(context: Context) -> Page:
    """One monitor: its windows, the chosen window's drift table and plots, trends, alerts.

    Raises:
        NotFound: no such monitor or window.
    """
    from steward.monitoring.monitors.run import monitor_results

    name = context.path("name")
    record = context.workspace.store.monitoring.get_monitor(name)
    results = monitor_results(name, WINDOWS, context.workspace)
    chosen_id = context.query.get("window", "")
    window = next((r for r in results if r.id == chosen_id), None) if chosen_id else None
    if chosen_id and window is None:
        raise NotFound(f"monitor {name!r} has no window {chosen_id[:40]!r} among its latest.")
    window = window or (results[-1] if results else None)
    drift = window.drift() if window else None
    feature = context.query.get("feature", "")
    figures = _trends(results) if results else []
    if drift is not None:
        figures += _feature_figures(drift, feature)
    performance = window.performance() if window else None
    values = {
        "record": record,
        "results": list(reversed(results)),
        "window": window,
        "drift": drift,
        "feature": feature,
        "figures": figures,
        "performance": performance,
        "alerts": _alerts(context, f"monitor:{name}"),
        "can_ack": context.can(Role.EDITOR),
        "highlight": "",
        "back": ui_url(f"/monitoring/{name}"),
    }
    return Page("monitor.html", f"Monitor {name}", values)


def acknowledge(context: Context) -> Page:
    """Acknowledge an alert (editors): it keeps firing, but people know someone is on it."""
    alert = context.workspace.store.monitoring.acknowledge(
        context.path("alert_id"), context.principal.user
    )
    back = context.field("back")
    target = (
        back if back.startswith("/ui/monitoring") and "//" not in back else ui_url("/monitoring")
    )
    separator = "&" if "?" in target else "?"
    return Page(redirect=f"{target}{separator}alert={alert.id}")


PAGES = (
    ("/monitoring", overview, Role.VIEWER),
    ("/monitoring/{name}", monitor, Role.VIEWER),
)
POSTS = (("/alerts/{alert_id}/ack", acknowledge, Role.EDITOR),)
