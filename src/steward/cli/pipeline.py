"""``steward pipeline …``: run, list, show and resume pipelines."""

from __future__ import annotations

import json
from typing import Any

import typer

from steward.cli.output import JSON_HELP, console, format_value, print_json, print_table

app = typer.Typer(help="Run pipelines of steps, cached, locally or on Ray.", no_args_is_help=True)

EXECUTOR_HELP = "inline (this process), process (local worker processes) or ray."
RAY_ADDRESS_HELP = "Ray cluster address (default $RAY_ADDRESS, else a local cluster)."

_STATUS_STYLE = {
    "completed": "green",
    "cached": "cyan",
    "failed": "bold red",
    "skipped": "dim",
    "running": "yellow",
    "pending": "dim",
    "FINISHED": "green",
    "FAILED": "bold red",
    "KILLED": "red",
    "RUNNING": "yellow",
}


def _styled(status: str) -> str:
    style = _STATUS_STYLE.get(status, "")
    return f"[{style}]{status}[/{style}]" if style else status


def parse_params(pipeline: Any, items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as the pipeline's parameters: text for str and annotated
    numbers (converted by the pipeline), JSON (numbers, lists…) otherwise."""
    import typing

    from steward.errors import InvalidInput

    try:
        hints = typing.get_type_hints(pipeline.fn)
    except Exception:  # annotations that do not resolve: read values as JSON
        hints = {}
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--param {item!r} must be KEY=VALUE.")
        if hints.get(key) in (str, int, float, bool):
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


@app.command("run")
def run(
    target: str = typer.Argument(..., help="module:function or path/to/file.py:function."),
    param: list[str] = typer.Option([], "--param", "-p", help="KEY=VALUE; repeatable."),
    executor: str = typer.Option("inline", "--executor", "-x", help=EXECUTOR_HELP),
    ray_address: str | None = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every step, reusing nothing."),
    experiment: str | None = typer.Option(None, "--experiment", "-e", help="Experiment name."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON when done."),
) -> None:
    """Run a pipeline; cached steps are reused unless --no-cache."""
    import steward.pipelines

    pipeline = steward.pipelines.load_target(target)
    record = steward.pipelines.run(
        pipeline,
        parse_params(pipeline, param),
        executor=executor,
        cache=not no_cache,
        ray_address=ray_address,
        experiment=experiment,
        progress=not as_json,
    )
    if as_json:
        print_json(record.to_dict())
    else:
        console.print(f"run {record.id} {_styled(record.status.value)}", highlight=False)


@app.command("resume")
def resume(
    run_id: str = typer.Argument(..., help="Pipeline run id (or a unique prefix)."),
    executor: str | None = typer.Option(None, "--executor", "-x", help=EXECUTOR_HELP),
    ray_address: str | None = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the new run as JSON when done."),
) -> None:
    """Run a failed pipeline run again from the failure, reusing what succeeded."""
    import steward.pipelines

    record = steward.pipelines.resume(
        run_id, executor=executor, ray_address=ray_address, progress=not as_json
    )
    if as_json:
        print_json(record.to_dict())
    else:
        console.print(
            f"run {record.id} (resuming {record.resumed_from}) {_styled(record.status.value)}",
            highlight=False,
        )


def _counts(record: Any) -> str:
    marks = {"completed": "✓", "cached": "↺", "failed": "✗", "skipped": "skipped"}
    counts = record.counts()
    return " ".join(f"{counts[key]} {mark}" for key, mark in marks.items() if counts.get(key))


@app.command("list")
def list_runs(
    pipeline: str | None = typer.Option(None, "--pipeline", help="Only runs of this pipeline."),
    status: str | None = typer.Option(None, "--status", help="FINISHED, FAILED, RUNNING…"),
    limit: int = typer.Option(50, "--limit", "-n", help="How many runs, newest first."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List pipeline runs, newest first."""
    import steward.pipelines

    records = steward.pipelines.list_runs(pipeline, status, limit)
    if as_json:
        print_json([record.to_dict() for record in records])
        return
    print_table(
        "Pipeline runs",
        ["run", "pipeline", "status", "started", "duration s", "steps", "executor"],
        [
            [
                record.id[:12],
                record.pipeline,
                record.status.value,
                record.start_time,
                record.duration_s,
                _counts(record),
                record.executor,
            ]
            for record in records
        ],
    )


@app.command("show")
def show(
    run_id: str = typer.Argument(..., help="Pipeline run id (or a unique prefix)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a pipeline run: its step graph with status, times, resources and cache hits."""
    from rich.table import Table

    import steward.pipelines

    record = steward.pipelines.get_run(run_id)
    if as_json:
        print_json(record.to_dict())
        return
    console.print(
        f"[bold]{record.pipeline}[/bold]  run {record.id}  {_styled(record.status.value)}",
        highlight=False,
    )
    duration = f"{record.duration_s:.2f} s" if record.duration_s is not None else "running"
    console.print(
        f"{record.target} · executor {record.executor} · cache {'on' if record.cache else 'off'}"
        f" · started {record.start_time:%Y-%m-%d %H:%M:%S} · {duration} · by {record.created_by}",
        highlight=False,
    )
    if record.resumed_from:
        console.print(f"resumes run {record.resumed_from}", highlight=False)
    if record.params:
        console.print(
            "params " + ", ".join(f"{k}={json.dumps(v)}" for k, v in record.params.items()),
            highlight=False,
        )
    table = Table(header_style="bold")
    for column in ("step", "status", "after", "duration s", "cpu s", "peak MB", "cache", "run"):
        table.add_column(column, overflow="fold")
    for step in record.steps:
        cache = {
            "cached": f"hit ← {(step.cached_from_run or '')[:8]}",
            "completed": "computed",
        }.get(step.status.value, "")
        peak = step.peak_memory_bytes / 2**20 if step.peak_memory_bytes is not None else None
        table.add_row(
            step.name,
            _styled(step.status.value),
            ", ".join(step.depends_on),
            format_value(step.duration_s if step.status.value != "cached" else None),
            format_value(step.cpu_seconds),
            format_value(peak),
            cache,
            (step.run_id or "")[:8],
        )
    console.print(table)
    for step in record.steps:
        if step.status.value == "failed" and step.error:
            console.print(f"[bold red]✗ {step.name}[/bold red]: {step.error}", highlight=False)
            if step.run_id:
                console.print(
                    f"  traceback: steward runs show {step.run_id} (artifact traceback.txt)",
                    highlight=False,
                )
