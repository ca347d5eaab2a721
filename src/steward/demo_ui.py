"""``steward demo --ui``: after the demo, serve the web UI on the demo's store.

A user ``demo`` (admin) gets a fresh random password, printed once with the
address of the overview page, which links to everything the demo made; the
server runs until Ctrl-C.
"""

from __future__ import annotations

import secrets
from typing import Any

DEMO_USER = "demo"


def demo_login(workspace: Any) -> str:
    """Give the user ``demo`` (created as an admin if missing) a new random password."""
    from steward.errors import NotFound

    auth = workspace.store.auth
    password = secrets.token_urlsafe(12)
    try:
        auth.get_user(DEMO_USER)
    except NotFound:
        auth.create_user(DEMO_USER, "admin", workspace.actor, password=password)
    else:
        auth.update_user(DEMO_USER, workspace.actor, password=password, active=True)
    return password


def serve_demo_ui(port: int, console: Any, host: str = "127.0.0.1") -> None:
    """Serve the current workspace's web UI on loopback until interrupted."""
    import uvicorn

    from steward.server.app import create_app
    from steward.workspace import current_workspace

    workspace = current_workspace()
    password = demo_login(workspace)
    url = f"http://{host}:{port}/ui/"
    console.print(
        f"web UI: [bold]{url}[/bold]  (sign in as '{DEMO_USER}' with password {password}; "
        "Ctrl-C stops it)",
        soft_wrap=True,
    )
    app = create_app(workspace)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
