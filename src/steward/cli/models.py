"""``steward models list|show|versions|alias|approve|reject|archive|card|env-check|bundle``
(and ``policy|promote|rollback`` from ``cli/promotion.py``)."""

from __future__ import annotations

from pathlib import Path

import typer

from steward.cli import promotion
from steward.cli.output import JSON_HELP, console, print_json, print_table

app = typer.Typer(help="Registered models, versions, aliases and bundles.", no_args_is_help=True)
promotion.register(app)


def _split(reference: str) -> tuple[str, int]:
    from steward.models import resolve

    found = resolve(reference)
    return found.name, found.version


@app.command("list")
def list_models(
    name: str = typer.Option(None, "--name", help="Only models whose name contains this."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List registered models with their latest version and aliases."""
    from steward.models import list_models as sdk_list

    models = sdk_list(name)
    if as_json:
        print_json([model.to_dict() for model in models])
        return
    print_table(
        "Registered models",
        ["name", "latest", "aliases", "description", "updated"],
        [
            [
                m.name,
                m.latest_version,
                ", ".join(f"{alias}→v{version}" for alias, version in m.aliases.items()) or None,
                m.description,
                m.updated_at,
            ]
            for m in models
        ],
    )


@app.command("show")
def show(
    reference: str = typer.Argument(..., help="NAME, NAME@ALIAS or NAME/VERSION."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a registered model (with its promotion policy), or one version of it (with
    its latest gate run: each check's figure for the challenger and the champion)."""
    from steward.models import get_model, get_policy, resolve

    local = promotion.promotion_served()
    if "@" not in reference and "/" not in reference:
        model = get_model(reference)
        policy = get_policy(model.name) if local else None
        if as_json:
            print_json({**model.to_dict(), "policy": policy and policy.to_dict()})
            return
        console.print(f"[bold]{model.name}[/bold]  {model.description or ''}")
        console.print(f"latest version: {model.latest_version}   aliases: {model.aliases}")
        console.print(f"tags: {model.tags}")
        if policy is not None:
            console.print(f"promotion policy: {policy.describe()}", highlight=False)
        console.print(f"created {model.created_at:%Y-%m-%d} by {model.created_by}")
        return
    version = resolve(reference)
    gate = promotion.latest_gate(version.name, version.version) if local else None
    if as_json:
        print_json({**version.to_dict(), "gate": gate})
        return
    rows = [[key, value] for key, value in version.to_dict().items() if key != "metrics"]
    rows += [[f"metrics.{key}", value] for key, value in sorted(version.metrics.items())]
    print_table(f"{version.name} v{version.version}", ["field", "value"], rows)
    if gate is not None:
        promotion.show_gate(gate)


@app.command("versions")
def versions(
    name: str,
    status: str = typer.Option(None, help="Only versions of this status."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List the versions of a model, newest first."""
    from steward.models import list_versions

    found = list_versions(name, status)
    if as_json:
        print_json([version.to_dict() for version in found])
        return
    print_table(
        f"Versions of {name}",
        ["version", "status", "aliases", "flavor", "run", "created", "by"],
        [
            [
                v.version,
                v.status.value,
                ", ".join(v.aliases) or None,
                v.flavor,
                (v.run_id or "")[:12],
                v.created_at,
                v.created_by,
            ]
            for v in found
        ],
    )


@app.command("alias")
def alias(
    reference: str = typer.Argument(..., help="NAME@ALIAS to set, move or delete."),
    version: int = typer.Argument(None, help="The version the alias should point at."),
    message: str = typer.Option(None, "--message", "-m", help="Why (required for production)."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias."),
    history: bool = typer.Option(False, "--history", help="Show the alias's moves."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Set, move or delete an alias (``champion``, ``production``…), or show its history."""
    from steward.errors import InvalidInput
    from steward.models import alias_history, delete_alias, set_alias

    name, _, alias_name = reference.partition("@")
    if not alias_name:
        raise InvalidInput(f"expected NAME@ALIAS, got {reference!r}.")
    if history:
        events = alias_history(name, alias_name)
        if as_json:
            print_json([event.__dict__ for event in events])
            return
        print_table(
            f"History of {reference}",
            ["when", "who", "from", "to", "why"],
            [[e.at, e.actor, e.from_version, e.to_version, e.reason] for e in events],
        )
        return
    if delete:
        event = delete_alias(name, alias_name, message)
    elif version is None:
        raise InvalidInput("give the VERSION the alias should point at (or --delete).")
    else:
        event = set_alias(name, alias_name, version, message)
    if as_json:
        print_json(event.__dict__)
        return
    console.print(
        f"{reference}: v{event.from_version or '-'} → v{event.to_version or '-'} (by {event.actor})"
    )


def _status_command(action: str, reference: str, message: str | None, as_json: bool) -> None:
    from steward import models

    name, version = _split(reference)
    if action == "archive":
        found = models.archive(name, version, message)
    else:
        found = getattr(models, action)(name, version, message or "")
    if as_json:
        print_json(found.to_dict())
    else:
        console.print(f"{found.name} v{found.version} is now {found.status.value}")


@app.command("approve")
def approve(
    reference: str = typer.Argument(..., help="NAME/VERSION or NAME@ALIAS."),
    message: str = typer.Option(..., "--message", "-m", help="Why it is approved."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Approve a version (it may then take the production alias)."""
    _status_command("approve", reference, message, as_json)


@app.command("reject")
def reject(
    reference: str = typer.Argument(..., help="NAME/VERSION or NAME@ALIAS."),
    message: str = typer.Option(..., "--message", "-m", help="Why it is rejected."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Reject a version."""
    _status_command("reject", reference, message, as_json)


@app.command("archive")
def archive(
    reference: str = typer.Argument(..., help="NAME/VERSION or NAME@ALIAS."),
    message: str = typer.Option(None, "--message", "-m", help="Why."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Archive a version."""
    _status_command("archive", reference, message, as_json)


@app.command("card")
def card(
    reference: str = typer.Argument(..., help="NAME/VERSION or NAME@ALIAS."),
    html: bool = typer.Option(False, "--html", help="Print HTML instead of Markdown."),
    out: Path = typer.Option(None, "--out", help="Write .md and .html files into this folder."),
    intended_use: str = typer.Option(None, help="Set the card's intended use."),
    limitations: str = typer.Option(None, help="Set the card's limitations."),
    ethical_considerations: str = typer.Option(None, help="Set the ethical considerations."),
) -> None:
    """Print (or write) a version's model card; optionally fill in its fields first."""
    from steward import models

    name, version = _split(reference)
    if intended_use or limitations or ethical_considerations:
        models.set_card_fields(
            name,
            version,
            intended_use=intended_use,
            limitations=limitations,
            ethical_considerations=ethical_considerations,
        )
    if out is not None:
        markdown, page = models.write_card(name, version, out)
        console.print(f"wrote {markdown} and {page}")
        return
    text = models.card(name, version, "html" if html else "markdown")
    typer.echo(text)


@app.command("env-check")
def env_check(
    reference: str = typer.Argument(None, help="NAME@ALIAS or NAME/VERSION."),
    bundle: Path = typer.Option(None, "--bundle", help="Check against a bundle folder instead."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Compare this environment with a model's lock; exit code 1 on mismatches."""
    from steward import models
    from steward.errors import InvalidInput

    if bundle is not None:
        from steward.models.bundle import MODEL_DIR
        from steward.models.package import read_metadata

        mismatches = models.check_environment(read_metadata(bundle / MODEL_DIR).environment)
    elif reference:
        mismatches = models.env_check(reference)
    else:
        raise InvalidInput("give NAME@ALIAS (or --bundle DIR).")
    if as_json:
        print_json([{**m.__dict__, "severity": m.severity} for m in mismatches])
    elif not mismatches:
        console.print("[green]the environment matches the model's lock[/green]")
    else:
        print_table(
            "Environment mismatches",
            ["package", "locked", "installed", "kind"],
            [[m.what, m.locked, m.current or "(missing)", m.severity] for m in mismatches],
        )
    if mismatches:
        raise typer.Exit(1)


@app.command("bundle")
def bundle(
    reference: str = typer.Argument(..., help="NAME@ALIAS or NAME/VERSION."),
    out: Path = typer.Option(..., "--out", help="The folder to write (must be empty)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a non-empty folder."),
) -> None:
    """Write a self-contained bundle: model, lock file, Dockerfile, README."""
    from steward.models import bundle as sdk_bundle
    from steward.models import resolve

    version = resolve(reference)
    uri = f"models:/{reference}" if not reference.startswith("models:/") else reference
    target = sdk_bundle(uri, out, overwrite=overwrite)
    console.print(f"wrote the bundle of {version.name} v{version.version} to {target}")
