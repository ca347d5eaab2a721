"""``steward monitor create|list|run|show|report|delete``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from steward.cli.output import JSON_HELP, console, print_error, print_json, print_table

if TYPE_CHECKING:
    from steward.monitoring.monitors.run import MonitorResult

app = typer.Typer(
    help="Watch served models for drift, quality and performance.", no_args_is_help=True
)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="The monitor's name."),
    model: str = typer.Option(
        None,
        "--model",
        help="The watched model: NAME@ALIAS or NAME/VERSION (with --table: the model that "
        "scored it).",
    ),
    table: str = typer.Option(
        None,
        "--table",
        help="Watch a table instead of the model's prediction log: dataset:NAME[:VERSION], or "
        "Parquet/CSV files (path, folder, glob or URL), read again at each run.",
    ),
    timestamp_column: str = typer.Option(
        None, "--timestamp-column", help="The table's time column (for time windows)."
    ),
    probability_column: str = typer.Option(
        None, "--probability-column", help="The table's positive-class probability column."
    ),
    prediction_column: str = typer.Option(
        "prediction", "--prediction-column", help="The table's prediction column."
    ),
    reference: str = typer.Option(
        None,
        help="NAME:VERSION of a dataset, or window:START/END of the watched predictions "
        "(default: the training dataset version, from lineage).",
    ),
    window: str = typer.Option("1d", help="What each run evaluates: 1h, 1d, 2w… or 'N rows'."),
    schedule: str = typer.Option(None, help="When to run, as cron: '0 * * * *' is hourly."),
    rule: list[str] = typer.Option(
        [], "--rule", help="Alert rule, e.g. 'drift.share > 0.3' (repeatable)."
    ),
    channel: list[str] = typer.Option(
        [],
        "--channel",
        help="Where alerts go: webhook:URL, slack:URL, email:ADDRESS or log (repeatable).",
    ),
    feature: list[str] = typer.Option(
        [], "--feature", help="Input column to check (repeatable; default: all inputs)."
    ),
    target: str = typer.Option(
        None, help="The label column (default: inferred; in a table, 'label')."
    ),
    segment: str = typer.Option(None, help="Column to split realised performance by."),
    drift_share: float = typer.Option(0.5, help="Share of drifted features that is dataset drift."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite a monitor of this name."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Create a monitor of a served model or of a table of predictions and features."""
    from steward.monitoring.monitors.definition import create_monitor

    monitor = create_monitor(
        name,
        model=model,
        reference=reference,
        window=window,
        schedule=schedule,
        rules=rule,
        channels=channel,
        features=feature or None,
        target_column=target,
        prediction_column=prediction_column,
        segment=segment,
        drift_share=drift_share,
        replace=replace,
        table=table,
        timestamp_column=timestamp_column,
        probability_column=probability_column,
    )
    if as_json:
        print_json(monitor.to_dict())
        return
    reference_text = monitor.reference or "training data (lineage)"
    console.print(
        f"created monitor [bold]{monitor.name}[/bold] of {monitor.source}: window "
        f"{monitor.window}, reference {reference_text}, {len(monitor.rules)} rule(s), "
        f"{len(monitor.channels)} channel(s)"
    )
    if monitor.schedule:
        console.print(
            f"schedule {monitor.schedule}; next run at {monitor.next_run():%Y-%m-%d %H:%M} UTC"
        )


@app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List monitors with their latest window."""
    from steward.monitoring.monitors.definition import list_monitors
    from steward.monitoring.monitors.run import monitor_results

    monitors = list_monitors()
    latest: dict[str, MonitorResult | None] = {}
    for m in monitors:
        found = monitor_results(m.name, limit=1)
        latest[m.name] = found[0] if found else None
    if as_json:
        print_json(
            [
                {**m.to_dict(), "latest": r.to_dict() if (r := latest[m.name]) else None}
                for m in monitors
            ]
        )
        return
    rows = []
    for m in monitors:
        result = latest[m.name]
        rows.append(
            [
                m.name,
                m.table or m.model,
                m.window,
                m.schedule,
                len(m.rules),
                None if result is None else result.window_end,
                None if result is None else result.status,
                None if result is None else result.drift_share,
            ]
        )
    print_table(
        "Monitors",
        ["name", "watches", "window", "schedule", "rules", "last window", "status", "drift share"],
        rows,
    )


def _print_result(result: MonitorResult) -> None:
    verdict = {True: "[bold red]dataset drift[/bold red]", False: "[green]no dataset drift[/green]"}
    headline = (
        verdict[result.dataset_drift] + f" ({result.drift_share:.0%} of features drifted)"
        if result.dataset_drift is not None and result.drift_share is not None
        else f"[yellow]{result.status}[/yellow]"
    )
    console.print(
        f"monitor [bold]{result.monitor}[/bold], window {result.window_start:%Y-%m-%d %H:%M:%S} "
        f"to {result.window_end:%Y-%m-%d %H:%M:%S} UTC: {result.rows} rows, "
        f"{result.labels} labelled: {headline}"
    )
    if result.drifted:
        console.print(f"drifted: {', '.join(result.drifted)}")
    performance = {k: v for k, v in result.metrics.items() if k.startswith("performance.")}
    shown = [f"{k.removeprefix('performance.')} {v:.3f}" for k, v in sorted(performance.items())]
    if shown:
        console.print("performance: " + ", ".join(shown[:8]))
    for notice in result.alerts:
        console.print(f"[bold]alert {notice.event}[/bold]: {notice.message}")
    for note in result.notes:
        console.print(f"[dim]note: {note}[/dim]")


def _exit_if_failed(results: list[MonitorResult]) -> None:
    """Exit 1 when a window could not be evaluated (its result is stored all the same)."""
    failed = [result for result in results if result.status == "error"]
    for result in failed:
        reason = result.notes[0] if result.notes else "see 'steward monitor show'"
        print_error(f"monitor {result.monitor}: the window could not be evaluated: {reason}")
    if failed:
        raise typer.Exit(1)


@app.command("run")
def run(
    name: str = typer.Argument(..., help="The monitor."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Evaluate the monitor's latest window now, store it and send alerts.

    Exits 1 when the window could not be evaluated (status error: the model, the
    table or the reference cannot be found or read); an empty window is not an error.
    """
    from steward.monitoring.monitors.run import run_monitor

    result = run_monitor(name)
    if as_json:
        print_json(result.to_dict())
    else:
        _print_result(result)
    _exit_if_failed([result])


@app.command("watch")
def watch(
    once: bool = typer.Option(
        False, "--once", help="Run what is due now and exit (for system cron)."
    ),
    poll: float = typer.Option(30.0, help="Longest sleep between checks, in seconds."),
) -> None:
    """Run monitors on their --schedule until interrupted (--once: exits 1 if a window
    could not be evaluated). 'steward agent' does this too, and fires triggers."""
    from steward.monitoring.monitors.scheduler import run_due
    from steward.monitoring.monitors.scheduler import watch as watch_monitors

    if once:
        results = run_due()
        for result in results:
            _print_result(result)
        console.print(f"{len(results)} monitor(s) were due")
        _exit_if_failed(results)
        return
    console.print("watching scheduled monitors; Ctrl-C to stop")
    try:
        watch_monitors(poll_s=poll, on_result=_print_result)
    except KeyboardInterrupt:
        console.print("stopped")


@app.command("show")
def show(
    name: str = typer.Argument(..., help="The monitor."),
    windows: int = typer.Option(10, help="How many of the latest windows to list."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a monitor's definition and its latest windows."""
    from steward.monitoring.monitors.definition import get_monitor
    from steward.monitoring.monitors.run import monitor_results

    monitor = get_monitor(name)
    results = monitor_results(name, limit=windows)
    if as_json:
        print_json({"monitor": monitor.to_dict(), "results": [r.to_dict() for r in results]})
        return
    console.print(
        f"[bold]{monitor.name}[/bold]: {monitor.source}, window {monitor.window}, reference "
        f"{monitor.reference or 'training data (lineage)'}, schedule {monitor.schedule or '-'}"
    )
    for rule in monitor.rules:
        console.print(f"  rule: {rule}")
    print_table(
        f"Latest {len(results)} window(s)",
        [
            "window end",
            "status",
            "rows",
            "labels",
            "drift share",
            "dataset drift",
            "drifted",
            "alerts",
        ],
        [
            [
                r.window_end,
                r.status,
                r.rows,
                r.labels,
                r.drift_share,
                r.dataset_drift,
                ", ".join(r.drifted) or "-",
                ", ".join(a.event for a in r.alerts) or "-",
            ]
            for r in reversed(results)
        ],
    )
    if results:
        _print_result(results[-1])


@app.command("report")
def report(
    name: str = typer.Argument(..., help="The monitor."),
    out: Path = typer.Option(Path("report.html"), "--out", help="Where to write the page."),
    windows: int = typer.Option(30, help="How many of the latest windows the trends show."),
) -> None:
    """Write a self-contained HTML report (works offline)."""
    from steward.monitoring.report.trends import write_monitor_report

    path = write_monitor_report(name, out, windows=windows)
    console.print(f"wrote {path}")


@app.command("delete")
def delete(name: str = typer.Argument(..., help="The monitor.")) -> None:
    """Delete a monitor and its stored windows."""
    from steward.monitoring.monitors.definition import delete_monitor

    delete_monitor(name)
    console.print(f"deleted monitor [bold]{name}[/bold]")


@app.command("events")
def events_command(
    topic: str = typer.Option(
        None, help="One topic (alert.fired) or a prefix with * (alert.*); default: all."
    ),
    after: int = typer.Option(0, help="Only events after this pk (a consumer's offset)."),
    limit: int = typer.Option(100, help="The most events to list."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List the events monitors and alerts published (for retraining triggers)."""
    from steward.monitoring.alerts.events import events

    found = events(topic, after=after, limit=limit)
    if as_json:
        print_json([e.to_dict() for e in found])
        return
    print_table(
        "Events",
        ["pk", "topic", "at", "by", "about"],
        [
            [
                e.pk,
                e.topic,
                e.created_at,
                e.created_by,
                e.payload.get("monitor") or e.payload.get("source") or e.payload.get("rule"),
            ]
            for e in found
        ],
    )
