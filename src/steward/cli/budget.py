"""``steward budget …``: what retraining a model may spend, and what it spent."""

from __future__ import annotations

import typer

from steward.cli.output import JSON_HELP, console, format_value, print_json, print_table

app = typer.Typer(
    help="Cap a model's retraining: runs, CPU time, interval, persistence.", no_args_is_help=True
)


@app.command("set")
def set_budget(
    model: str = typer.Argument(..., help="The registered model."),
    max_per_day: int | None = typer.Option(None, "--max-per-day", help="Retrains in 24 h."),
    max_per_week: int | None = typer.Option(None, "--max-per-week", help="Retrains in 7 days."),
    max_cpu_seconds: float | None = typer.Option(
        None, "--max-cpu-seconds", help="CPU seconds of retraining per --period."
    ),
    period: str | None = typer.Option(None, "--period", help="day (default) or week."),
    min_interval: str | None = typer.Option(
        None, "--min-interval", help="Least time between retrains: 30m, 6h, 1d…"
    ),
    persistence: int | None = typer.Option(
        None, "--persistence", help="Windows in a row an alert or drop must hold (default 1)."
    ),
    channel: list[str] = typer.Option(
        [], "--channel", help="Told about skipped and failed retrains (default: log)."
    ),
    reset: bool = typer.Option(False, "--reset", help="Start from no limits."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Set a model's retraining budget; limits not given keep their value."""
    import steward.agent

    record = steward.agent.set_budget(
        model,
        max_per_day=max_per_day,
        max_per_week=max_per_week,
        max_cpu_seconds=max_cpu_seconds,
        period=period,
        min_interval=min_interval,
        persistence=persistence,
        channels=channel or None,
        reset=reset,
    )
    if as_json:
        print_json(record.to_dict())
        return
    console.print(f"budget of [bold]{record.model}[/bold] set", highlight=False)
    _show(model)


def _show(model: str) -> None:
    import steward.agent

    report = steward.agent.show_budget(model)
    budget = report.budget
    if budget is None:
        console.print(f"{report.model} has no budget: retraining is not limited")
    period = report.period

    def limit(value: object) -> str:
        return "-" if value is None else format_value(value)

    print_table(
        f"Retraining of {report.model}",
        ["", "spent", "limit"],
        [
            ["runs, last 24 h", report.runs_day, limit(budget and budget.max_per_day)],
            ["runs, last 7 days", report.runs_week, limit(budget and budget.max_per_week)],
            [f"CPU s, this {period}", report.cpu_seconds, limit(budget and budget.max_cpu_seconds)],
            [f"wall s, this {period}", report.wall_seconds, "-"],
            [
                "last retrain",
                report.last_started_at,
                "-"
                if budget is None or budget.min_interval_s is None
                else f"min interval {budget.min_interval_s} s",
            ],
            ["persistence (windows)", "", 1 if budget is None else budget.persistence],
        ],
    )
    if budget is not None:
        console.print(f"skipped retrains are told to: {', '.join(budget.channels)}")


@app.command("show")
def show(
    model: str = typer.Argument(..., help="The registered model."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a model's budget and spend (runs, CPU seconds, wall time) against it."""
    import steward.agent

    if as_json:
        print_json(steward.agent.show_budget(model).to_dict())
        return
    _show(model)
