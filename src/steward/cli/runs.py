"""``steward runs list|show|compare|delete|restore``."""

from __future__ import annotations

from collections import Counter
from typing import Any

import typer

from steward.cli.output import JSON_HELP, console, print_json, print_table

app = typer.Typer(help="Inspect and manage tracked runs.", no_args_is_help=True)

FILTER_HELP = "Filter, e.g. \"metrics.acc > 0.9 and params.model = 'rf'\"."
ORDER_HELP = "Order, e.g. 'metrics.acc DESC' (repeatable)."


def _backend() -> Any:
    from steward.workspace import current_workspace

    return current_workspace().tracking


def _common_keys(dicts: list[dict[str, Any]], limit: int) -> list[str]:
    counts = Counter(key for item in dicts for key in item)
    return [key for key, _ in counts.most_common(limit)]


@app.command("list")
def list_runs(
    experiment: list[str] = typer.Option(None, "--experiment", "-e", help="Experiment name(s)."),
    filter: str = typer.Option(None, "--filter", "-f", help=FILTER_HELP),
    order_by: list[str] = typer.Option(None, "--order-by", "-o", help=ORDER_HELP),
    max_results: int = typer.Option(50, "--max-results", "-n", help="Page size."),
    page_token: str = typer.Option(None, help="Token of the next page, from a previous call."),
    deleted: bool = typer.Option(False, "--deleted", help="Include deleted runs."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List runs, newest first, with their main metrics and params."""
    page = _backend().search_runs(
        experiment or None, filter, order_by or None, max_results, page_token, deleted
    )
    if as_json:
        print_json(
            {"runs": [run.to_dict() for run in page.runs], "next_page_token": page.next_page_token}
        )
        return
    metric_keys = _common_keys([run.metrics for run in page.runs], 6)
    param_keys = _common_keys([run.params for run in page.runs], 4)
    rows = [
        [run.id[:12], run.name, run.experiment, run.status.value, run.start_time]
        + [run.metrics.get(key) for key in metric_keys]
        + [run.params.get(key) for key in param_keys]
        for run in page.runs
    ]
    print_table(
        f"Runs ({len(page.runs)})",
        ["id", "name", "experiment", "status", "started", *metric_keys, *param_keys],
        rows,
    )
    if page.next_page_token:
        console.print(f"more runs: --page-token {page.next_page_token}")


MIN_PREFIX = 6
"""A run id prefix needs this many characters (as git's short hashes)."""


def _resolve(run_id: str) -> Any:
    """Accept a full id or a unique prefix of at least ``MIN_PREFIX`` characters."""
    import re

    from steward.errors import InvalidInput, NotFound

    backend = _backend()
    try:
        return backend.get_run(run_id)
    except NotFound:
        if not re.fullmatch(r"[0-9a-f]+", run_id):
            raise
        if len(run_id) < MIN_PREFIX:
            raise NotFound(
                f"no run with id {run_id!r}; an id prefix needs at least {MIN_PREFIX} "
                "characters (see 'steward runs list')."
            ) from None
    matches = backend.search_runs(None, f"attributes.id like '{run_id}%'", None, 2, None, True).runs
    if not matches:
        raise NotFound(f"no run with id or id prefix {run_id!r}; see 'steward runs list'.")
    if len(matches) > 1:
        raise InvalidInput(f"run id prefix {run_id!r} is ambiguous; give more characters.")
    return matches[0]


@app.command("show")
def show(
    run_id: str = typer.Argument(..., help="Run id (or a unique prefix of 6+ characters)."),
    history: str = typer.Option(None, help="Also print every point of this metric."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show one run: attributes, params, metrics, tags, artifacts, datasets, system info."""
    import steward.data

    backend = _backend()
    run = _resolve(run_id)
    artifacts = backend.list_artifacts(run.id)
    system = backend.system_info(run.id)
    points = backend.metric_history(run.id, history) if history else []
    datasets = steward.data.run_lineage(run.id)
    if as_json:
        data = run.to_dict()
        data["artifacts"] = [a.__dict__ for a in artifacts]
        data["datasets"] = [
            {"dataset": e.dataset, "version": e.version, "direction": e.direction} for e in datasets
        ]
        data["system_info"] = {k: v for k, v in system.items() if k != "packages"}
        if history:
            data["history"] = [
                {"step": p.step, "value": p.value, "timestamp": p.timestamp} for p in points
            ]
        print_json(data)
        return
    console.print(f"[bold]{run.name}[/bold]  {run.id}")
    console.print(
        f"experiment {run.experiment} · status {run.status.value} · by {run.created_by} · "
        f"started {run.start_time:%Y-%m-%d %H:%M:%S} · "
        + (f"{run.duration_s:.1f} s" if run.duration_s is not None else "running")
    )
    if run.heartbeat_lost and run.last_heartbeat is not None:
        console.print(
            f"no heartbeat since {run.last_heartbeat:%Y-%m-%d %H:%M:%S}: its process is "
            "presumed dead (it runs again if the process comes back)"
        )
    if run.parent_id:
        console.print(f"parent run {run.parent_id}")
    print_table("Params", ["key", "value"], sorted(run.params.items()))
    print_table("Metrics (latest)", ["key", "value"], sorted(run.metrics.items()))
    print_table("Tags", ["key", "value"], sorted(run.tags.items()))
    if artifacts:
        print_table(
            "Artifacts", ["path", "size", "digest"], [[a.path, a.size, a.digest] for a in artifacts]
        )
    if datasets:
        print_table(
            "Datasets",
            ["version", "read or written"],
            [
                [f"{e.dataset}:{e.version}", "read" if e.direction == "input" else "written"]
                for e in datasets
            ],
        )
    git = system.get("git") or {}
    if system:
        console.print(
            f"python {system['python']['version']} on {system['host']} "
            f"({system['cpu']['count']} CPUs) · git {str(git.get('commit'))[:12]}"
            + (" (dirty)" if git.get("dirty") else "")
        )
    if history:
        print_table(
            f"History of {history}",
            ["step", "value", "time"],
            [[p.step, p.value, p.timestamp] for p in points],
        )


@app.command("compare")
def compare(
    run_ids: list[str] = typer.Argument(
        ..., help="Two or more run ids (or unique prefixes of 6+ characters)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Compare runs side by side: params and metrics, differences marked."""
    from steward.errors import InvalidInput

    if len(run_ids) < 2:
        raise InvalidInput("compare needs at least two run ids.")
    runs = [_resolve(run_id) for run_id in run_ids]
    if as_json:
        print_json({"runs": [run.to_dict() for run in runs]})
        return
    rows: list[list[Any]] = []
    for section, attribute in (("param", "params"), ("metric", "metrics")):
        keys = sorted({key for run in runs for key in getattr(run, attribute)})
        for key in keys:
            values = [getattr(run, attribute).get(key) for run in runs]
            differs = len({repr(value) for value in values}) > 1
            rows.append([f"{'* ' if differs else ''}{section} {key}", *values])
    print_table(
        "Run comparison (* = differs)",
        ["", *[f"{run.name} ({run.id[:8]})" for run in runs]],
        rows,
    )


@app.command("delete")
def delete(
    run_ids: list[str] = typer.Argument(..., help="Run ids (or unique prefixes of 6+ characters)."),
) -> None:
    """Delete runs: hidden from lists and searches, kept in the store (see restore)."""
    ids = [_resolve(run_id).id for run_id in run_ids]
    count = _backend().delete_runs(ids)
    console.print(f"deleted {count} run(s); undo with 'steward runs restore'")


@app.command("restore")
def restore(
    run_ids: list[str] = typer.Argument(..., help="Run ids (or unique prefixes of 6+ characters)."),
) -> None:
    """Restore deleted runs."""
    ids = [_resolve(run_id).id for run_id in run_ids]
    count = _backend().restore_runs(ids)
    console.print(f"restored {count} run(s)")
