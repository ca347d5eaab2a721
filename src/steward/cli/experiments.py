"""``steward experiments list|create``."""

from __future__ import annotations

import typer

from steward.cli.output import JSON_HELP, console, print_json, print_table

app = typer.Typer(help="Group runs into experiments.", no_args_is_help=True)


@app.command("list")
def list_experiments(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List experiments with their run counts."""
    from steward.workspace import current_workspace

    experiments = current_workspace().tracking.list_experiments()
    if as_json:
        print_json([experiment.__dict__ for experiment in experiments])
        return
    print_table(
        "Experiments",
        ["name", "id", "runs", "created", "by"],
        [[e.name, e.id, e.run_count, e.created_at, e.created_by] for e in experiments],
    )


@app.command("create")
def create(
    name: str,
    description: str = typer.Option(None, help="What the experiment is for."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Create an experiment."""
    from steward.workspace import current_workspace

    experiment = current_workspace().tracking.create_experiment(name, description)
    if as_json:
        print_json(experiment.__dict__)
    else:
        console.print(f"created experiment [bold]{experiment.name}[/bold] ({experiment.id})")
