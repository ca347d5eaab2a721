"""Signing in and out of the web UI, and the files every page loads.

The sign-in form posts here; the check, the throttle and the cookies are the
REST API's own (``steward.server.auth_routes``), so both doors behave alike.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request  # resolved at run time: FastAPI reads the hint

from steward.auth import Role
from steward.errors import RateLimited, StewardError, Unauthenticated
from steward.server.auth_routes import clear_session_cookies, set_session_cookies, sign_in
from steward.server.security import access
from steward.server.ui.formatting import UI_PREFIX
from steward.server.ui.pages import SECURITY_HEADERS, Page, Ui, parse_form, safe_next

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.responses import Response

_MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript"}


def plotly_js() -> Path | None:
    """The plotly.js file the installed plotly package ships (None without plotly);
    found without importing plotly, so starting a server stays quick and small."""
    from importlib.util import find_spec

    spec = find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


def static_files() -> dict[str, Path]:
    """The files served under ``/ui/static``, by name; nothing else is reachable."""
    folder = Path(str(resources.files("steward.server.ui") / "static"))
    files = {path.name: path for path in folder.iterdir() if path.suffix in _MEDIA_TYPES}
    plotly = plotly_js()
    if plotly is not None:
        files["plotly.min.js"] = plotly
    return files


def add_signin_routes(app: FastAPI, ui: Ui) -> None:
    """Mount the sign-in page, sign-out, and the static files."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import FileResponse, RedirectResponse

    files = static_files()

    def login_page(
        request: Request, error: str = "", username: str = "", status: int = 200
    ) -> Response:
        next_page = safe_next(request.query_params.get("next"))
        values = {"error": error, "next": next_page, "username": username}
        return ui.render(request, Page("login.html", "Sign in to Steward", values), None, status)

    @access(None)
    async def show_login(request: Request) -> Response:
        return login_page(request)

    def check(request: Request, body: bytes) -> Response:
        try:
            form = {key: values[-1] for key, values in parse_form(body).items()}
            result = sign_in(ui.authenticator, ui.throttle, request, form)
        except (Unauthenticated, RateLimited) as exc:
            status = 429 if isinstance(exc, RateLimited) else 401
            return login_page(request, str(exc), form.get("username", "")[:250], status)
        except StewardError as exc:
            return ui.error_page(request, exc, None)
        response = RedirectResponse(safe_next(form.get("next")), status_code=303)
        set_session_cookies(response, request, result["session"])
        return response

    @access(None)
    async def post_login(request: Request) -> Response:
        return await run_in_threadpool(check, request, await request.body())

    @access(None)
    async def static(request: Request) -> Response:
        path = files.get(request.path_params["name"])
        if path is None:
            return ui.error_page(request, _missing(request.path_params["name"]), None)
        media = "text/javascript" if path.suffix == ".js" else _MEDIA_TYPES[path.suffix]
        headers = {"cache-control": "public, max-age=3600", "x-content-type-options": "nosniff"}
        return FileResponse(path, media_type=media, headers=headers)

    def end(request: Request, body: bytes) -> Response:
        try:
            principal = ui.principal(request, parse_form(body))
        except StewardError as exc:
            return ui.error_page(request, exc, None)
        if principal.kind == "session":
            ui.workspace.store.auth.revoke_token(principal.token_id, principal.user)
        response = RedirectResponse(UI_PREFIX + "/login", status_code=303)
        clear_session_cookies(response)
        response.headers.update(SECURITY_HEADERS)
        return response

    @access(Role.VIEWER)
    async def logout(request: Request) -> Response:
        return await run_in_threadpool(end, request, await request.body())

    for path, handler, method in (
        ("/login", show_login, "GET"),
        ("/login", post_login, "POST"),
        ("/logout", logout, "POST"),
        ("/static/{name}", static, "GET"),
    ):
        app.add_api_route(
            UI_PREFIX + path,
            handler,
            methods=[method],
            include_in_schema=False,
            response_model=None,
        )


def _missing(name: str) -> StewardError:
    from steward.errors import NotFound

    return NotFound(f"no file {name[:100]!r} here.")
