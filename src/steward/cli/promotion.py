"""``steward models policy|promote|rollback``, and the gate's verdict in ``models show``."""

from __future__ import annotations

from typing import Any

import typer

from steward.cli.output import JSON_HELP, console, print_json, print_table


def policy(
    name: str = typer.Argument(..., help="The registered model."),
    promote: str = typer.Option(
        None,
        "--promote",
        help="auto: a challenger that passes the gate becomes champion; "
        "approval: it waits for 'steward models promote'.",
    ),
    production: str = typer.Option(
        None, "--production", help="auto or approval, the same for the production alias."
    ),
    notify: list[str] = typer.Option(
        None,
        "--notify",
        help="Alert channel told about approvals and failures (repeatable): "
        "webhook:URL, slack:URL, email:ADDR or log.",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a model's promotion policy, or set it (what is not given is kept)."""
    from steward import models

    current = models.get_policy(name)
    if promote is not None or production is not None or notify:
        current = models.set_policy(
            name,
            promote=promote or current.promote,
            production=production or current.production,
            channels=notify or current.channels,
        )
    if as_json:
        print_json(current.to_dict())
        return
    origin = (
        "default (never set)"
        if current.updated_at is None
        else f"set {current.updated_at:%Y-%m-%d %H:%M} by {current.updated_by}"
    )
    console.print(
        f"{name}: promote={current.promote} production={current.production} "
        f"notify={', '.join(current.channels)}  ({origin})",
        highlight=False,
    )


def promote(
    reference: str = typer.Argument(..., help="NAME/VERSION (or NAME@challenger)."),
    message: str = typer.Option(..., "--message", "-m", help="Why it is promoted (audited)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Approve a challenger that passed the gate and make it champion."""
    from steward import models

    found = models.resolve(
        reference if reference.startswith("models:/") else f"models:/{reference}"
    )
    done = models.promote(found.name, found.version, message)
    if as_json:
        print_json(done.__dict__)
        return
    console.print(done.message, highlight=False)


def rollback(
    name: str = typer.Argument(..., help="The registered model."),
    reason: str = typer.Option(..., "--reason", "-m", help="Why (audited)."),
    alias: str = typer.Option("champion", "--alias", help="The alias to move back."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Move the champion (or --alias) back to the version it pointed at before."""
    from steward import models

    event = models.rollback(name, reason, alias=alias)
    if as_json:
        print_json(event.__dict__)
        return
    console.print(
        f"{name}@{alias}: v{event.from_version} → v{event.to_version} (rolled back by "
        f"{event.actor}: {reason})",
        highlight=False,
    )


def latest_gate(name: str, version: int) -> dict[str, Any] | None:
    """The latest gate run of a version with its check results (None if never gated)."""
    from steward.models.policy import promotion_store
    from steward.workspace import current_workspace

    runs = promotion_store().gates(model=(name, version), limit=1)
    if not runs:
        return None
    checks = current_workspace().store.governance.check_runs(run_id=runs[0].check_run_id)[0]
    return {**runs[0].to_dict(), "dataset": checks.dataset, "results": checks.to_dict()["results"]}


def promotion_served() -> bool:
    """Whether the workspace holds gate runs and policies (not yet through a team server)."""
    from steward.workspace import current_workspace

    return hasattr(current_workspace().store, "promotion")


def show_gate(gate: dict[str, Any]) -> None:
    """Print a gate run (``latest_gate``) as a table of its checks."""
    title = (
        f"Gate {gate['id'][:12]}: {'passed' if gate['passed'] else 'FAILED'} against "
        f"{gate['champion'] or '-'}"
        + (f" on {gate['dataset']}" if gate["dataset"] else "")
        + f"; decision: {gate['decision'] or 'none yet'}"
    )
    rows = [
        [
            "pass" if r["passed"] else ("warn" if r["severity"] == "warning" else "FAIL"),
            r["kind"],
            r["name"],
            r["value"],
            r["details"].get("champion_value", r["details"].get("champion")),
            r["threshold"],
        ]
        for r in gate["results"]
    ]
    print_table(title, ["", "kind", "check", "challenger", "champion", "threshold"], rows)


def register(app: typer.Typer) -> None:
    """Add the promotion commands to ``steward models``."""
    app.command("policy")(policy)
    app.command("promote")(promote)
    app.command("rollback")(rollback)
