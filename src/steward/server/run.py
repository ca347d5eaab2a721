"""Starting a team server: open the stores, bootstrap the first admin, run uvicorn.

On a store with no admin able to sign in (a fresh install), the server
creates the user ``admin`` and prints a bootstrap token for it on the
console, once, valid for 24 hours; nobody can sign up over the network.
With several workers, each worker process builds the app from the
environment (``app_from_environment``).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TextIO

from steward.config import BLOB_URL_ENV, HOME_ENV, STORE_URL_ENV, URI_ENV
from steward.server.app import ServerConfig, create_app

if TYPE_CHECKING:
    from fastapi import FastAPI

    from steward.workspace import Workspace

CONFIG_ENV = "STEWARD_SERVER_CONFIG"
BOOTSTRAP_USER = "admin"
BOOTSTRAP_DAYS = 1.0


def open_server_workspace(
    home: str | None = None, store_url: str | None = None, blob_url: str | None = None
) -> Workspace:
    """The workspace a server serves: always local stores, never another server."""
    from steward.config import is_server_url
    from steward.errors import InvalidInput
    from steward.workspace import open_workspace

    os.environ.pop(URI_ENV, None)
    workspace = open_workspace(home, store_url, blob_url, actor="steward-server")
    if workspace.settings.remote or is_server_url(workspace.settings.blob_url):
        raise InvalidInput("a server keeps its own stores: give a database and a blob store.")
    workspace.store  # noqa: B018  # open and migrate now, before the first request
    return workspace


def bootstrap(workspace: Workspace, url: str, out: TextIO) -> str | None:
    """Create the first admin's token if no admin can sign in; print it once.

    Returns:
        The bootstrap token, or None if an admin already has a credential.
    """
    from steward.errors import Conflict

    auth = workspace.store.auth
    if not auth.needs_bootstrap():
        return None
    try:
        auth.create_user(BOOTSTRAP_USER, "admin", "steward-server")
    except Conflict:
        auth.update_user(BOOTSTRAP_USER, "steward-server", role="admin", active=True)
    secret = auth.create_token(
        BOOTSTRAP_USER, "bootstrap", "steward-server", expires_in_days=BOOTSTRAP_DAYS
    ).secret
    out.write(
        "\nSteward server: no admin can sign in yet, so this bootstrap token was made for\n"
        f"the user '{BOOTSTRAP_USER}' (shown once, valid 24 hours):\n\n    {secret}\n\n"
        f"    export STEWARD_URI={url} STEWARD_TOKEN={secret}\n"
        "    steward server tokens create admin --name my-laptop --days 90\n"
        "    steward server users add alice --role editor\n\n"
    )
    out.flush()
    return secret


def app_from_environment() -> FastAPI:
    """The app of one worker process, configured by the starting ``steward server``."""
    config = ServerConfig(**json.loads(os.environ.get(CONFIG_ENV, "{}")))
    return create_app(open_server_workspace(), config)


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    home: str | None = None,
    store_url: str | None = None,
    blob_url: str | None = None,
    config: ServerConfig | None = None,
    workers: int = 1,
    out: TextIO = sys.stderr,
) -> None:
    """Run the team server until interrupted."""
    import uvicorn

    config = config or ServerConfig()
    workspace = open_server_workspace(home, store_url, blob_url)
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    url = f"http://{shown}:{port}"
    bootstrap(workspace, url, out)
    out.write(f"Steward server on {url}  (API: {url}/api/v1, OpenAPI: {url}/api/v1/openapi.json)\n")
    out.flush()
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
    }
    if workers > 1:
        settings = workspace.settings
        os.environ.update(
            {
                HOME_ENV: str(settings.home),
                STORE_URL_ENV: settings.store_url,
                BLOB_URL_ENV: settings.blob_url,
                CONFIG_ENV: json.dumps(asdict(config)),
            }
        )
        workspace.close()
        uvicorn.run(
            "steward.server.run:app_from_environment", factory=True, workers=workers, **options
        )
        return
    uvicorn.run(create_app(workspace, config), **options)
