"""``steward trigger …``: what starts a pipeline, and what each firing did."""

from __future__ import annotations

import json
from typing import Any

import typer

from steward.cli.output import JSON_HELP, console, print_json, print_table

app = typer.Typer(
    help="Start pipelines on a schedule, on new data, on alerts or on a performance drop.",
    no_args_is_help=True,
)

_ON_KINDS = ("new-data", "alert", "performance")


def _params(items: list[str]) -> dict[str, Any]:
    from steward.errors import InvalidInput

    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--param {item!r} must be KEY=VALUE.")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _describe(trigger: Any) -> str:
    spec = trigger.spec
    if trigger.kind == "cron":
        return f"cron {spec['cron']}"
    if trigger.kind == "new-data":
        return f"new data in {spec['dataset']}"
    if trigger.kind == "alert":
        rule = f":{spec['rule']}" if spec.get("rule") else ""
        return f"alert of {spec['monitor']}{rule}"
    return f"performance {spec['model']}:{spec['metric']}<{spec['threshold']:g}"


@app.command("add")
def add(
    name: str = typer.Argument(..., help="The trigger's name."),
    pipeline: str = typer.Option(..., "--pipeline", help="package.module:function to run."),
    cron: str | None = typer.Option(None, "--cron", help="Cron schedule, e.g. '0 2 * * *'."),
    on: tuple[str, str] | None = typer.Option(
        None,
        "--on",
        help="new-data DATASET | alert MONITOR[:RULE] | performance MODEL:METRIC<X.",
    ),
    param: list[str] = typer.Option([], "--param", "-p", help="KEY=VALUE; repeatable."),
    model: str | None = typer.Option(
        None, "--model", help="The model whose retraining budget the firings count against."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Add a trigger: exactly one of --cron EXPR or --on KIND SPEC."""
    import steward.agent
    from steward.errors import InvalidInput

    causes: dict[str, str | None] = dict.fromkeys(("new-data", "alert", "performance"))
    if on is not None:
        kind, spec = on
        if kind not in _ON_KINDS:
            raise InvalidInput(
                f"--on {kind!r} is not a trigger kind; use --on new-data DATASET, --on alert "
                "MONITOR[:RULE] or --on performance MODEL:METRIC<X (or --cron EXPR)."
            )
        causes[kind] = spec
    trigger = steward.agent.triggers.add(
        name,
        pipeline,
        cron=cron,
        new_data=causes["new-data"],
        alert=causes["alert"],
        performance=causes["performance"],
        params=_params(param),
        model=model,
    )
    if as_json:
        print_json(trigger.to_dict())
        return
    console.print(
        f"added trigger [bold]{trigger.name}[/bold]: {_describe(trigger)} → {trigger.pipeline}",
        highlight=False,
    )


@app.command("list")
def list_triggers(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List triggers."""
    import steward.agent

    found = steward.agent.triggers.list_triggers()
    if as_json:
        print_json([trigger.to_dict() for trigger in found])
        return
    print_table(
        "Triggers",
        ["name", "on", "pipeline", "model", "state"],
        [
            [t.name, _describe(t), t.pipeline, t.model, "paused" if t.paused else "active"]
            for t in found
        ],
    )


@app.command("show")
def show(
    name: str = typer.Argument(..., help="The trigger."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a trigger and its latest firings."""
    import steward.agent

    trigger = steward.agent.triggers.get(name)
    firings = steward.agent.triggers.history(name, limit=10)
    if as_json:
        print_json({"trigger": trigger.to_dict(), "firings": [f.to_dict() for f in firings]})
        return
    console.print(
        f"[bold]{trigger.name}[/bold] ({'paused' if trigger.paused else 'active'}): "
        f"{_describe(trigger)} → {trigger.pipeline}"
        + (f" params {json.dumps(trigger.params)}" if trigger.params else "")
        + (f", budget of model {trigger.model}" if trigger.model else "")
        + f"; added {trigger.created_at:%Y-%m-%d %H:%M:%S} by {trigger.created_by}",
        highlight=False,
    )
    print_firings(firings)


def print_firings(firings: list[Any]) -> None:
    """A table of firings: key, state, timings, spend, pipeline run, reason."""
    print_table(
        f"Latest {len(firings)} firing(s)",
        ["firing", "trigger", "key", "state", "planned", "wall s", "cpu s", "run", "reason"],
        [
            [
                f.id[:12],
                f.trigger,
                f.key,
                f.state.value,
                f.planned_at,
                f.wall_seconds,
                f.cpu_seconds,
                (f.pipeline_run_id or "")[:12],
                f.reason,
            ]
            for f in firings
        ],
    )


@app.command("pause")
def pause(name: str = typer.Argument(..., help="The trigger.")) -> None:
    """Stop a trigger firing (what happens while paused is not fired later)."""
    import steward.agent

    steward.agent.triggers.pause(name)
    console.print(f"paused trigger [bold]{name}[/bold]")


@app.command("resume")
def resume(name: str = typer.Argument(..., help="The trigger.")) -> None:
    """Let a paused trigger fire again, from now on."""
    import steward.agent

    steward.agent.triggers.resume(name)
    console.print(f"resumed trigger [bold]{name}[/bold]")


@app.command("delete")
def delete(name: str = typer.Argument(..., help="The trigger.")) -> None:
    """Delete a trigger (its firings stay in the history)."""
    import steward.agent

    steward.agent.triggers.delete(name)
    console.print(f"deleted trigger [bold]{name}[/bold]")


@app.command("history")
def history(
    name: str | None = typer.Argument(None, help="The trigger (default: all)."),
    limit: int = typer.Option(50, "--limit", "-n", help="How many firings, newest first."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List firings: key, cause, state, reason, pipeline run, timings, CPU seconds."""
    import steward.agent

    firings = steward.agent.triggers.history(name, limit=limit)
    if as_json:
        print_json([f.to_dict() for f in firings])
        return
    print_firings(firings)
