"""Deployments: what each served model answered, from its prediction log: traffic
split between versions and routes (canary, shadow), latency, and live accuracy as
feedback labels arrive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from steward.auth import Role
from steward.errors import InvalidInput
from steward.server.ui import charts
from steward.server.ui.pages import Context, Page

DAYS = (1, 7, 30, 90)


def deployments(context: Context) -> Page:
    """Every registered model that served predictions, with each version's traffic."""
    from steward.store.lineage import LineageStore

    lineage = LineageStore(context.workspace.store.engine)
    served = []
    for model in context.workspace.store.registry.list_models():
        rows = lineage.deployments(model.name)
        if rows:
            served.append((model, rows))
    return Page("deployments.html", "Deployments", {"served": served})


def _split(log: Any) -> list[dict[str, Any]]:
    total = max(len(log), 1)
    rows = []
    for (version, route), part in log.groupby(["version", "route"], dropna=False, sort=True):
        latency = part["latency_ms"]
        labelled = part[part["label"].notna()] if "label" in part else part.iloc[:0]
        correct = (labelled["prediction"] == labelled["label"]).mean() if len(labelled) else None
        rows.append(
            {
                "version": None if version != version else int(version),  # NaN: unversioned
                "route": route,
                "requests": len(part),
                "share": len(part) / total,
                "p50": float(latency.quantile(0.5)),
                "p95": float(latency.quantile(0.95)),
                "p99": float(latency.quantile(0.99)),
                "labelled": len(labelled),
                "accuracy": None if correct is None else float(correct),
            }
        )
    return rows


def _timeline(log: Any) -> list[dict[str, Any]]:
    import pandas as pd

    span = log["timestamp"].max() - log["timestamp"].min()
    freq = (
        "1min" if span <= pd.Timedelta(hours=2) else "1h" if span <= pd.Timedelta(days=3) else "1D"
    )
    grouped = log.set_index("timestamp").groupby([pd.Grouper(freq=freq), "version"])
    counts = grouped.size().unstack("version", fill_value=0)
    p95 = grouped["latency_ms"].quantile(0.95).unstack("version")
    times = [t.isoformat() for t in counts.index]
    request_traces = [charts.line(f"v{v}", times, counts[v].tolist()) for v in counts.columns]
    latency_traces = [
        charts.line(f"v{v}", times, [None if x != x else float(x) for x in p95[v]])
        for v in p95.columns
    ]
    return [
        charts.figure(request_traces, f"Requests per {freq}", "time (UTC)", "requests"),
        charts.figure(latency_traces, "Latency p95", "time (UTC)", "ms"),
    ]


def deployment(context: Context) -> Page:
    """One model as served over the last days: split, latency, accuracy on labelled rows.

    Raises:
        InvalidInput: an unknown number of days.
    """
    from steward.serving.reading import read_predictions

    days_text = context.query.get("days", "7")
    if not days_text.isdigit() or int(days_text) not in DAYS:
        raise InvalidInput(f"days must be one of {DAYS}.")
    days = int(days_text)
    name = context.path("name")
    model = context.workspace.store.registry.get_model(name)
    since = datetime.now(UTC) - timedelta(days=days)
    log = read_predictions(name, since=since, workspace=context.workspace)
    values = {
        "model": model,
        "days": days,
        "choices": DAYS,
        "requests": len(log),
        "split": _split(log) if len(log) else [],
        "figures": _timeline(log) if len(log) else [],
    }
    return Page("deployment.html", f"Deployment of {name}", values)


PAGES = (
    ("/deployments", deployments, Role.VIEWER),
    ("/deployments/{name}", deployment, Role.VIEWER),
)
