"""``steward server``: run the team server; ``steward server users|tokens`` manage access.

The management commands work on the workspace in scope like every other
command: directly on the stores on the server's host, or through a server
with ``STEWARD_URI`` and an admin's ``STEWARD_TOKEN``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer

from steward.cli.output import JSON_HELP, console, print_json, print_table

app = typer.Typer(
    help="Run the team server (no sub-command) and manage its users and tokens.",
    invoke_without_command=True,
)
users = typer.Typer(help="Users and their roles (admin only).", no_args_is_help=True)
tokens = typer.Typer(help="API tokens (admin only).", no_args_is_help=True)
app.add_typer(users, name="users")
app.add_typer(tokens, name="tokens")


@app.callback()
def server(
    context: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every one)."),
    port: int = typer.Option(8080, help="Port to listen on."),
    home: str = typer.Option(None, help="Workspace folder (default $STEWARD_HOME or ./.steward)."),
    store_url: str = typer.Option(
        None, help="Metadata store: SQLite (default, in the home) or postgresql+psycopg://…"
    ),
    blob_url: str = typer.Option(None, help="Blob store: a folder (default) or s3://bucket/…"),
    workers: int = typer.Option(1, help="uvicorn worker processes (PostgreSQL for more than 1)."),
    max_body_mb: float = typer.Option(16.0, help="Largest JSON request body, in MB."),
    max_blob_mb: float = typer.Option(64.0, help="Largest blob PUT or upload chunk, in MB."),
    cors_origin: list[str] = typer.Option(
        [], help="A web origin allowed to call the API from a browser (repeatable; none: closed)."
    ),
) -> None:
    """Run the team server: REST API on SQLite + a local folder, or PostgreSQL + S3."""
    if context.invoked_subcommand is not None:
        return
    from steward.server.app import ServerConfig
    from steward.server.run import serve

    config = ServerConfig(
        max_body_bytes=int(max_body_mb * (1 << 20)),
        max_blob_bytes=int(max_blob_mb * (1 << 20)),
        cors_origins=tuple(cors_origin),
    )
    serve(host, port, home, store_url, blob_url, config, workers)


def _auth():  # type: ignore[no-untyped-def]
    from steward.workspace import current_workspace

    workspace = current_workspace()
    return workspace.store.auth, workspace.actor


def _show(
    records: Sequence[Any], as_json: bool, title: str, columns: list[str], rows: list[list[Any]]
) -> None:
    if as_json:
        print_json([record.__dict__ for record in records])
    else:
        print_table(title, columns, rows)


@users.command("list")
def list_users(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List users with their roles."""
    auth, _ = _auth()
    found = auth.list_users()
    _show(
        found,
        as_json,
        "Users",
        ["name", "role", "active", "password", "created", "by"],
        [[u.name, u.role, u.active, u.has_password, u.created_at, u.created_by] for u in found],
    )


@users.command("add")
def add_user(
    name: str,
    role: str = typer.Option(..., help="viewer, editor, approver or admin."),
    password: bool = typer.Option(False, "--password", help="Prompt for a browser password."),
) -> None:
    """Add a user (then give them a token: steward server tokens create NAME)."""
    auth, actor = _auth()
    secret = (
        typer.prompt("Password", hide_input=True, confirmation_prompt=True) if password else None
    )
    user = auth.create_user(name, role, actor, secret)
    console.print(f"added [bold]{user.name}[/bold] as {user.role}")


@users.command("set-role")
def set_role(name: str, role: str) -> None:
    """Change a user's role."""
    auth, actor = _auth()
    user = auth.update_user(name, actor, role=role)
    console.print(f"[bold]{user.name}[/bold] is now {user.role}")


@users.command("disable")
def disable(name: str) -> None:
    """Disable a user: their tokens and sessions stop working at once."""
    auth, actor = _auth()
    auth.update_user(name, actor, active=False)
    console.print(f"disabled [bold]{name}[/bold]")


@users.command("enable")
def enable(name: str) -> None:
    """Enable a disabled user again."""
    auth, actor = _auth()
    auth.update_user(name, actor, active=True)
    console.print(f"enabled [bold]{name}[/bold]")


@users.command("password")
def set_password(name: str) -> None:
    """Set a user's browser password (prompted)."""
    auth, actor = _auth()
    secret = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    auth.update_user(name, actor, password=secret)
    console.print(f"password of [bold]{name}[/bold] set")


@tokens.command("list")
def list_tokens(
    user: str = typer.Option(None, help="Only this user's tokens."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List API tokens (never the tokens themselves)."""
    auth, _ = _auth()
    found = auth.list_tokens(user)
    _show(
        found,
        as_json,
        "Tokens",
        ["id", "user", "name", "expires", "revoked", "last used"],
        [[t.id, t.user, t.name, t.expires_at, t.revoked_at, t.last_used_at] for t in found],
    )


@tokens.command("create")
def create_token(
    user: str,
    name: str = typer.Option("cli", help="What the token is for (a laptop, a CI job…)."),
    days: float = typer.Option(90.0, help="Days until it expires (at most 3650)."),
) -> None:
    """Create a token for a user and print it once."""
    auth, actor = _auth()
    created = auth.create_token(user, name, actor, days)
    console.print(
        f"token [bold]{created.token.id}[/bold] for {user}, expires "
        f"{created.token.expires_at:%Y-%m-%d %H:%M} UTC. Shown once; store it now:"
    )
    typer.echo(created.secret)


@tokens.command("revoke")
def revoke(token_id: str) -> None:
    """Revoke a token at once."""
    auth, actor = _auth()
    token = auth.revoke_token(token_id, actor)
    console.print(f"revoked token [bold]{token.id}[/bold] of {token.user}")
