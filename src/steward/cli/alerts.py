"""``steward alerts list|ack``."""

from __future__ import annotations

import typer

from steward.cli.output import JSON_HELP, console, print_json, print_table

app = typer.Typer(help="See and acknowledge monitoring alerts.", no_args_is_help=True)


@app.command("list")
def list_alerts(
    status: str = typer.Option(None, help="Only 'firing' or 'resolved' alerts."),
    source: str = typer.Option(None, help="Only alerts of this monitored source."),
    limit: int = typer.Option(100, help="At most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List alerts, newest first."""
    from steward.monitoring.alerts.manager import list_alerts as fetch

    alerts = fetch(status=status, source=source, limit=limit)
    if as_json:
        print_json([alert.to_dict() for alert in alerts])
        return
    print_table(
        "Alerts",
        ["id", "severity", "status", "rule", "value", "source", "fired", "acknowledged by"],
        [
            [
                a.id[:12],
                a.severity,
                a.status,
                a.expression,
                a.value,
                a.source,
                a.fired_at,
                a.acknowledged_by,
            ]
            for a in alerts
        ],
    )


@app.command("ack")
def ack(
    alert_id: str = typer.Argument(..., help="The alert's id or a unique prefix of it."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Acknowledge an alert."""
    from steward.monitoring.alerts.manager import ack as acknowledge

    alert = acknowledge(alert_id)
    if as_json:
        print_json(alert.to_dict())
    else:
        console.print(f"acknowledged alert [bold]{alert.id}[/bold] ({alert.expression})")
