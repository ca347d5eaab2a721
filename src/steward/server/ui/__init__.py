"""The web UI: server-rendered pages over the same stores and role decisions as the
REST API, under ``/ui``. No JavaScript build: Jinja2 templates, one stylesheet, a
few lines of script, and the plotly.js file the plotly package ships for charts."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from steward.server.errors import Scrubber
    from steward.server.security import Authenticator, LoginThrottle
    from steward.workspace import Workspace


def add_ui_routes(
    app: FastAPI,
    workspace: Workspace,
    authenticator: Authenticator,
    throttle: LoginThrottle,
    scrub: Scrubber,
) -> None:
    """Mount every page of the UI, the sign-in page and the static files."""
    from starlette.responses import RedirectResponse

    from steward.server.security import access
    from steward.server.ui import (
        datasets,
        deployments,
        governance,
        monitoring,
        overview,
        pipelines,
        registry,
        tracking,
    )
    from steward.server.ui.formatting import UI_PREFIX
    from steward.server.ui.pages import Ui
    from steward.server.ui.signin import add_signin_routes

    ui = Ui(workspace, authenticator, throttle, scrub)
    add_signin_routes(app, ui)
    for module in (
        overview,
        tracking,
        datasets,
        registry,
        deployments,
        monitoring,
        pipelines,
        governance,
    ):
        for path, view, role in module.PAGES:
            ui.mount(app, path, view, role)
        for path, view, role in getattr(module, "POSTS", ()):
            ui.mount(app, path, view, role, ("POST",))

    @access(None)
    async def root() -> RedirectResponse:
        return RedirectResponse(UI_PREFIX + "/", status_code=307)

    app.add_api_route("/", root, methods=["GET"], include_in_schema=False, response_model=None)
