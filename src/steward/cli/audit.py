"""``steward audit list|verify|export``."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import typer

from steward.cli.output import JSON_HELP, console, print_json, print_table

app = typer.Typer(help="The tamper-evident audit log of every change.", no_args_is_help=True)


def _when(text: str | None) -> datetime | None:
    from steward.errors import InvalidInput

    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not a date; use ISO 8601, e.g. 2026-12-01 or 2026-12-01T08:30."
        ) from None


@app.command("list")
def list_events(
    action: str = typer.Option(None, "--action", help="e.g. run.end, or model.* for a prefix."),
    subject: str = typer.Option(None, "--subject", help="e.g. run:ID, model:NAME/3, or a prefix*."),
    actor: str = typer.Option(None, "--actor", help="Only changes by this user."),
    since: str = typer.Option(None, "--since", help="At or after this time (ISO 8601)."),
    until: str = typer.Option(None, "--until", help="Before this time (ISO 8601)."),
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many events."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List audit events, newest first."""
    from steward.governance.audit import audit_events

    events = audit_events(
        action=action,
        subject=subject,
        actor=actor,
        since=_when(since),
        until=_when(until),
        limit=limit,
    )
    if as_json:
        print_json([event.to_dict() for event in events])
        return
    print_table(
        "Audit log",
        ["seq", "when", "who", "action", "subject", "from", "to", "why"],
        [
            [e.seq, e.at, e.actor, e.action, e.subject, e.from_state, e.to_state, e.reason]
            for e in events
        ],
    )


@app.command("verify")
def verify(
    expect_head: str = typer.Option(
        None, "--expect-head", help="Also require the chain to end at this hash (noted earlier)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Check the hash chain: exit 1 if any event was edited, deleted or reordered."""
    from steward.governance.audit import verify_audit

    result = verify_audit()
    head_matches = expect_head is None or result.head_hash == expect_head
    if as_json:
        print_json({**result.to_dict(), "head_matches": head_matches})
    elif result.ok and head_matches:
        console.print(
            f"[green]audit log intact[/green]: {result.events} events, "
            f"head {result.head_seq} {result.head_hash}"
        )
    else:
        for problem in result.problems:
            console.print(f"[red]{problem.kind}[/red] at event {problem.seq}: {problem.message}")
        if not head_matches:
            console.print(
                f"[red]head[/red]: the chain ends at {result.head_hash}, not {expect_head}"
            )
        console.print(f"[bold red]audit log NOT intact[/bold red] ({result.events} events)")
    if not (result.ok and head_matches):
        raise typer.Exit(1)


@app.command("export")
def export(
    output: Path = typer.Option(None, "--output", "-o", help="File to write (default: stdout)."),
    format: str = typer.Option("jsonl", "--format", "-f", help="jsonl or csv."),
) -> None:
    """Export the whole log, oldest first, for auditors."""
    from steward.governance.audit import export_audit

    if output is None:
        export_audit(sys.stdout, format)
        return
    count = export_audit(output, format)
    console.print(f"wrote {count} events to {output}")
