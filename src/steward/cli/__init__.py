"""The ``steward`` command: ``steward <noun> <verb>``.

Thin by design: each command parses, calls the SDK and formats. Steward's
own errors are printed without a traceback (exit code 1); ``--debug`` shows it.
"""

from __future__ import annotations

import sys

import typer

from steward.cli import (
    agent,
    alerts,
    audit,
    budget,
    checks,
    data,
    experiments,
    lineage,
    models,
    monitor,
    pipeline,
    runs,
    server,
    trigger,
)
from steward.cli.demo import demo
from steward.cli.output import print_error
from steward.cli.score import score
from steward.cli.serve import serve

app = typer.Typer(
    name="steward",
    help="Steward: track, version, serve and watch machine-learning models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(agent.app, name="agent")
app.add_typer(alerts.app, name="alerts")
app.add_typer(audit.app, name="audit")
app.add_typer(budget.app, name="budget")
app.add_typer(checks.app, name="checks")
app.add_typer(data.app, name="data")
app.add_typer(experiments.app, name="experiments")
app.add_typer(lineage.app, name="lineage")
app.add_typer(models.app, name="models")
app.add_typer(monitor.app, name="monitor")
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(runs.app, name="runs")
app.add_typer(server.app, name="server")
app.add_typer(trigger.app, name="trigger")
app.command()(demo)
app.command()(score)
app.command()(serve)


def main() -> None:
    """Entry point of the console script."""
    from steward.errors import StewardError

    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        app()
    except StewardError as exc:
        if debug:
            raise
        print_error(str(exc))
        sys.exit(1)
