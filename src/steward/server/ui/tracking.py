"""Experiments and runs: the runs table (filter, sort, columns, server-side pages),
one run with its metric charts, and runs compared side by side."""

from __future__ import annotations

from typing import Any

from steward.auth import Role
from steward.errors import InvalidInput
from steward.server.ui import charts
from steward.server.ui.formatting import ui_url
from steward.server.ui.pages import Context, Page

PAGE_SIZE = 50
MAX_COMPARED = 8
MAX_COLUMNS = 12
CHARTED_METRICS = 12


def experiments(context: Context) -> Page:
    """Every experiment with its number of runs."""
    found = context.workspace.store.tracking.list_experiments()
    return Page("experiments.html", "Experiments", {"experiments": found})


def _columns(context: Context, runs: list[Any]) -> tuple[list[str], list[str]]:
    """The columns offered (every param and metric on the page) and those shown."""
    offered = sorted({f"metrics.{k}" for run in runs for k in run.metrics})
    offered += sorted({f"params.{k}" for run in runs for k in run.params})
    chosen = [c for c in context.query_list("col") if c.startswith(("metrics.", "params."))]
    if not chosen:
        chosen = [c for c in offered if c.startswith("metrics.")][:8]
        chosen += [c for c in offered if c.startswith("params.")][: MAX_COLUMNS - len(chosen)]
    return offered, chosen[:MAX_COLUMNS]


def runs(context: Context) -> Page:
    """The runs of an experiment, one page at a time, filtered and sorted on the server."""
    tracking = context.workspace.store.tracking
    experiment = tracking.get_experiment(context.path("name"))
    filter_text = context.query.get("filter", "").strip()
    order = context.query.get("order", "").strip()
    try:
        found = tracking.search_runs(
            [experiment.id],
            filter=filter_text or None,
            order_by=[order] if order else None,
            max_results=PAGE_SIZE,
            page_token=context.query.get("page_token") or None,
        )
        error = None
    except InvalidInput as exc:
        found, error = None, str(exc)
    page_runs = found.runs if found else []
    offered, chosen = _columns(context, page_runs)
    values = {
        "experiment": experiment,
        "runs": page_runs,
        "filter": filter_text,
        "order": order,
        "error": error,
        "offered": offered,
        "columns": chosen,
        "next_url": (
            ui_url(
                f"/experiments/{experiment.name}",
                filter=filter_text,
                order=order,
                col=chosen,
                page_token=found.next_page_token,
            )
            if found and found.next_page_token
            else None
        ),
        "sort_url": lambda column, descending: ui_url(
            f"/experiments/{experiment.name}",
            filter=filter_text,
            order=f"{column} {'DESC' if descending else 'ASC'}",
            col=chosen,
        ),
    }
    return Page("runs.html", f"Runs of {experiment.name}", values)


def _history_figure(tracking: Any, run_ids: list[str], names: dict[str, str], key: str) -> dict:
    traces = []
    for run_id in run_ids:
        points = tracking.metric_history(run_id, key)
        traces.append(
            charts.line(names[run_id], [p.step for p in points], [p.value for p in points])
        )
    return charts.figure(traces, key, "step", key)


def run(context: Context) -> Page:
    """One run: params, metrics with their history, data read, models made, artifacts."""
    store = context.workspace.store
    found = store.tracking.get_run(context.path("run_id"))
    figures = []
    for key in sorted(found.metrics)[:CHARTED_METRICS]:
        if len(store.tracking.metric_history(found.id, key)) > 1:
            figures.append(_history_figure(store.tracking, [found.id], {found.id: found.name}, key))
    values = {
        "run": found,
        "figures": figures,
        "data": store.datasets.lineage_of_run(found.id),
        "models": store.registry.search_versions(run_id=found.id, max_results=50),
        "artifacts": store.tracking.list_artifacts(found.id)[:200],
    }
    return Page("run.html", f"Run {found.name}", values)


def compare(context: Context) -> Page:
    """Runs side by side: every param and metric, differences marked, histories overlaid.

    Raises:
        InvalidInput: fewer than two runs, or too many.
    """
    tracking = context.workspace.store.tracking
    run_ids = list(dict.fromkeys(context.query_list("run")))
    if not 2 <= len(run_ids) <= MAX_COMPARED:
        raise InvalidInput(f"choose between 2 and {MAX_COMPARED} runs to compare.")
    compared = [tracking.get_run(run_id) for run_id in run_ids]
    params = sorted({k for r in compared for k in r.params})
    metrics = sorted({k for r in compared for k in r.metrics})
    names = {r.id: r.name for r in compared}
    charted = [
        k for k in metrics if any(len(tracking.metric_history(r.id, k)) > 1 for r in compared)
    ]
    figures = [_history_figure(tracking, run_ids, names, k) for k in charted[:CHARTED_METRICS]]
    best = {
        key: max((r.metrics[key] for r in compared if key in r.metrics), default=None)
        for key in metrics
    }
    values = {
        "runs": compared,
        "params": params,
        "metrics": metrics,
        "best": best,
        "figures": figures,
        "differs": {key: len({r.params.get(key) for r in compared}) > 1 for key in params},
    }
    return Page("compare.html", "Compare runs", values)


PAGES = (
    ("/experiments", experiments, Role.VIEWER),
    ("/experiments/{name:path}", runs, Role.VIEWER),
    ("/runs/{run_id}", run, Role.VIEWER),
    ("/compare", compare, Role.VIEWER),
)
