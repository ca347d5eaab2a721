"""A monitor's report: its latest window in full (``report/window.py``), and trends
over its stored windows (drift share, traffic, quality, performance).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from steward.errors import InvalidInput, require
from steward.monitoring.monitors.definition import get_monitor
from steward.monitoring.monitors.run import monitor_results
from steward.monitoring.report.window import table, write_report

if TYPE_CHECKING:
    from steward.monitoring.monitors.run import MonitorResult
    from steward.workspace import Workspace


def _trend_figure(
    go: Any, title: str, x: list[str], series: dict[str, list[Any]], **layout: Any
) -> str:
    figure = go.Figure(
        [
            go.Scatter(name=name, x=x, y=values, mode="lines+markers")
            for name, values in series.items()
        ]
    )
    figure.update_layout(
        title=title,
        height=320,
        margin={"l": 40, "r": 10, "t": 50, "b": 60},
        legend={"orientation": "h", "y": -0.25},
        **layout,
    )
    return (
        "<div>"
        + figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        + "</div>"
    )


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _trend_section(results: list[MonitorResult], threshold: float) -> str:
    """Drift share, traffic, data quality and performance across the stored windows."""
    go: Any = require("plotly.graph_objects", "report", "HTML reports")
    x = [r.window_end.strftime("%Y-%m-%d %H:%M:%S") for r in results]
    metrics = [r.metrics for r in results]

    def pick(prefix: str) -> list[float | None]:
        return [_mean([v for k, v in m.items() if k.startswith(prefix)]) for m in metrics]

    plots = [
        _trend_figure(
            go,
            "Drift share of features per window",
            x,
            {
                "drift share": [r.drift_share for r in results],
                "dataset-drift threshold": [threshold] * len(results),
            },
            yaxis={"range": [0, 1.05], "title": "share"},
        ),
        _trend_figure(
            go,
            "Rows and labels per window",
            x,
            {"rows": [r.rows for r in results], "labels": [r.labels for r in results]},
        ),
        _trend_figure(
            go,
            "Data quality per window (mean over columns)",
            x,
            {
                "missing rate": pick("quality.missing."),
                "out-of-range rate": pick("quality.out_of_range."),
                "unseen-category rate": pick("quality.unseen."),
            },
        ),
    ]
    names = ("accuracy", "f1", "roc_auc", "precision", "recall", "mae", "rmse", "r2")
    performance: dict[str, list[float | None]] = {}
    for name in names:
        realised = [m.get(f"performance.{name}") for m in metrics]
        estimated = [m.get(f"performance.estimated.{name}") for m in metrics]
        if any(v is not None for v in realised):
            performance[name] = realised
        if any(v is not None for v in estimated):
            performance[f"{name} (estimated)"] = estimated
    if performance:
        plots.append(_trend_figure(go, "Performance per window", x, performance))
    columns = ["window start", "window end", "status", "rows", "labels", "drift share",
               "dataset drift", "drifted features", "alerts"]  # fmt: skip
    rows = [
        [
            r.window_start.strftime("%Y-%m-%d %H:%M:%S"),
            r.window_end.strftime("%Y-%m-%d %H:%M:%S"),
            r.status,
            r.rows,
            r.labels,
            r.drift_share,
            r.dataset_drift,
            ", ".join(r.drifted) or "-",
            ", ".join(f"{a.event}: {a.expression}" for a in r.alerts) or "-",
        ]
        for r in reversed(results)
    ]
    classes = ["drifted" if r.dataset_drift else "" for r in reversed(results)]
    return (
        f"<h2>Trend over {len(results)} window(s)</h2>"
        f'<div class="plots">{"".join(plots)}</div>' + table(columns, rows, classes)
    )


def write_monitor_report(
    name: str,
    path: str | Path,
    windows: int = 30,
    workspace: Workspace | None = None,
) -> Path:
    """Write a monitor's report: its latest evaluated window in full, and trends over windows.

    Args:
        name: the monitor.
        path: where to write the page (self-contained; works offline).
        windows: how many of the latest windows the trends show.
        workspace: the stores (default: the current workspace).

    Raises:
        NotFound: no such monitor.
        InvalidInput: the monitor has no evaluated window yet.
        MissingDependency: plotly is not installed.
    """
    monitor = get_monitor(name, workspace)
    results = monitor_results(name, limit=windows, workspace=workspace)
    evaluated = [r for r in results if r.status == "ok"]
    if not evaluated:
        why = f" (latest: {results[-1].notes[0]})" if results and results[-1].notes else ""
        raise InvalidInput(
            f"monitor {name!r} has no evaluated window with data yet{why}; "
            f"run it first: steward monitor run {name}"
        )
    latest = evaluated[-1]
    drift = latest.drift()
    assert drift is not None
    reference = latest.details.get("reference", {}).get("description") or "-"
    version = "" if latest.model_version is None else f" (version {latest.model_version})"
    header = (
        f"<p><b>Monitor</b> {html.escape(monitor.name)} · <b>watches</b> "
        f"{html.escape(monitor.source)}{version} · <b>reference</b> "
        f"{html.escape(reference)} · <b>window</b> {html.escape(monitor.window)}: "
        f"{latest.window_start:%Y-%m-%d %H:%M:%S} to {latest.window_end:%Y-%m-%d %H:%M:%S} "
        f"UTC · {latest.rows:,} rows, {latest.labels:,} labelled</p>"
    )
    if latest.alerts:
        items = "".join(
            f"<li class='bad'>{html.escape(a.event)}: {html.escape(a.message)}</li>"
            for a in latest.alerts
        )
        header += f"<h3>Alerts of this window</h3><ul>{items}</ul>"
    if latest.notes:
        items = "".join(f"<li>{html.escape(note)}</li>" for note in latest.notes)
        header += f"<details><summary>Notes</summary><ul>{items}</ul></details>"
    return write_report(
        path,
        drift,
        performance=latest.performance(),
        estimated=latest.estimated(),
        title=f"Monitor {monitor.name}: {monitor.source}",
        header=header,
        trends=_trend_section(results, monitor.drift_share),
    )
