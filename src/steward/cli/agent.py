"""``steward agent``: run the workspace's agent; ``steward agent status``: who runs it."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from typing import Any

import typer

from steward.cli.output import JSON_HELP, console, print_json
from steward.cli.trigger import print_firings

app = typer.Typer(
    help="Run monitors on their schedules and fire triggers, within retraining budgets.",
    invoke_without_command=True,
)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Writes to whatever ``sys.stderr`` is at the time of each record."""

    @property  # type: ignore[override,unused-ignore]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _log_to_stderr() -> None:
    """One line per action on stderr: ``2026-12-03T12:00:00Z steward.agent: …``."""
    handler = _StderrHandler()
    formatter = logging.Formatter("%(asctime)sZ %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    for name in ("steward.agent", "steward.alerts", "steward.monitoring"):
        log = logging.getLogger(name)
        if not any(isinstance(h, _StderrHandler) for h in log.handlers):
            log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


@app.callback()
def agent(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Do what is due now, then exit."),
    poll: float = typer.Option(0.5, "--poll", help="Seconds between looks at the store."),
    lease_ttl: float = typer.Option(
        30.0, "--lease-ttl", help="Seconds the lease outlives an agent that stopped renewing."
    ),
    no_monitors: bool = typer.Option(
        False, "--no-monitors", help="Leave scheduled monitors to another process."
    ),
) -> None:
    """Run the agent until interrupted (one per workspace; a second one waits)."""
    if ctx.invoked_subcommand is not None:
        return
    from steward.agent import Agent
    from steward.errors import InvalidInput

    if poll <= 0 or lease_ttl <= 0:
        raise InvalidInput("--poll and --lease-ttl must be positive numbers of seconds.")
    _log_to_stderr()
    runner = Agent(poll_s=poll, lease_ttl_s=lease_ttl, run_monitors=not no_monitors)
    if once:
        try:
            report = runner.tick()
        finally:
            runner.close()
        if not report.holding:
            raise typer.Exit(1)
        console.print(
            f"{len(report.firings)} firing(s), {report.monitor_windows} monitor window(s)",
            highlight=False,
        )
        return
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    try:
        runner.run(stop)
    except KeyboardInterrupt:
        runner.close()


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Who holds the agent lease, its last tick, and the latest firings."""
    from datetime import UTC, datetime

    import steward.agent

    lease, firings = steward.agent.status()
    if as_json:
        print_json(
            {
                "lease": None if lease is None else lease.to_dict(),
                "firings": [f.to_dict() for f in firings],
            }
        )
        return
    if lease is None:
        console.print("no agent has run in this workspace (start one: steward agent)")
    else:
        alive = lease.expires_at > datetime.now(UTC)
        state = "[green]running[/green]" if alive else "[yellow]not running[/yellow]"
        console.print(
            f"agent {state}: host {lease.host} pid {lease.pid}, holding since "
            f"{lease.acquired_at:%Y-%m-%d %H:%M:%S} UTC, lease until {lease.expires_at:%H:%M:%S}, "
            f"last tick {'-' if lease.last_tick_at is None else f'{lease.last_tick_at:%H:%M:%S}'}"
        )
    print_firings(firings)
