"""How a web page is served: who is asking, may they, and the HTML of the answer.

Each page is a plain function ``view(context) -> Page`` run in a worker
thread under the served workspace (``workspace_scope``), so it calls the SDK
and the store layer exactly as the REST API does. ``mount`` wraps it in a
route that records its least role (``__steward_access__``, read by the
route-enumeration test), signs the caller in from the session cookie (or a
bearer token), and turns refusals into pages: no session sends the browser to
the sign-in page, a role too low is a 403 page, a missing thing a 404 page.

A form that changes anything is a ``POST`` carrying the session's CSRF value
in a hidden field (forms cannot send headers); it is checked, with the
``Origin``, before the role and before anything else in the form is read.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request  # resolved at run time: FastAPI reads the hint

from steward.auth import Principal, Role
from steward.errors import (
    IntegrityError,
    InvalidInput,
    PermissionDenied,
    StewardError,
    Unauthenticated,
)
from steward.server.security import (
    ACCESS_ATTRIBUTE,
    SESSION_COOKIE,
    Authenticator,
    LoginThrottle,
    csrf_token,
)
from steward.server.ui import formatting
from steward.server.ui.formatting import UI_PREFIX, ui_url

if TYPE_CHECKING:
    from fastapi import FastAPI
    from jinja2 import Environment
    from starlette.responses import Response

    from steward.server.errors import Scrubber
    from steward.workspace import Workspace

MAX_FORM_BYTES = 64 << 10
SECURITY_HEADERS = {
    # Scripts and styles come only from this server (no inline script at all), so an
    # injected tag could not run; charts read their data from data- attributes.
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
logger = logging.getLogger("steward.server.ui")


@dataclass(frozen=True)
class Page:
    """What a view answers: a template and its values, or a redirect."""

    template: str = ""
    title: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    redirect: str | None = None
    status: int = 200


@dataclass(frozen=True)
class Context:
    """One request as a view sees it."""

    request: Request
    principal: Principal
    workspace: Workspace
    form: Mapping[str, list[str]]

    @property
    def query(self) -> Mapping[str, str]:
        """The query parameters (the last value of each)."""
        return self.request.query_params

    def query_list(self, name: str) -> list[str]:
        """Every value of a repeated query parameter."""
        return self.request.query_params.getlist(name)

    def path(self, name: str) -> str:
        """A path parameter."""
        return str(self.request.path_params[name])

    def field(self, name: str, default: str = "") -> str:
        """A posted form field (stripped)."""
        values = self.form.get(name)
        return values[-1].strip() if values else default

    def can(self, role: Role) -> bool:
        """Whether the caller holds ``role``."""
        return self.principal.role >= role


View = Callable[[Context], Page]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a page of this UI, never another site."""
    if not target or not target.startswith(UI_PREFIX + "/") or target.startswith("//"):
        return UI_PREFIX + "/"
    if "\\" in target or "\n" in target or "\r" in target:
        return UI_PREFIX + "/"
    return target


def parse_form(body: bytes) -> dict[str, list[str]]:
    """An ``application/x-www-form-urlencoded`` body (bounded, strict UTF-8).

    Raises:
        InvalidInput: too large or not UTF-8.
    """
    if len(body) > MAX_FORM_BYTES:
        raise InvalidInput("the form is too large.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the form is not UTF-8.") from None
    return parse_qs(text, keep_blank_values=True, max_num_fields=200)


class Ui:
    """The web UI's shared parts: the workspace, sign-in, templates, error pages."""

    def __init__(
        self,
        workspace: Workspace,
        authenticator: Authenticator,
        throttle: LoginThrottle,
        scrub: Scrubber,
    ) -> None:
        from jinja2 import Environment, PackageLoader, select_autoescape

        self.workspace = workspace
        self.authenticator = authenticator
        self.throttle = throttle
        self.scrub = scrub
        self.templates: Environment = Environment(
            loader=PackageLoader("steward.server.ui", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        formatting.install(self.templates)

    def principal(self, request: Request, form: Mapping[str, list[str]]) -> Principal:
        """The signed-in caller; a cookie-signed form post must carry the CSRF value.

        Raises:
            Unauthenticated: not signed in.
            PermissionDenied: a post without the CSRF value or from another site.
        """
        if request.method != "POST" or "authorization" in request.headers:
            return self.authenticator.principal(request)
        session = request.cookies.get(SESSION_COOKIE)
        if session is None:
            raise Unauthenticated("sign in first.")
        self.authenticator.check_same_origin(request)
        sent = (form.get("csrf_token") or [""])[-1]
        if not hmac.compare_digest(sent.encode(), csrf_token(session).encode()):
            raise PermissionDenied("the form is stale or forged (no CSRF value); reload the page.")
        principal = self.workspace.store.auth.authenticate(session)
        if principal.kind != "session":
            raise Unauthenticated("the session cookie does not hold a session; sign in again.")
        return principal

    def render(
        self, request: Request, page: Page, principal: Principal | None, status: int | None = None
    ) -> Response:
        """The HTML response of a page (or its redirect)."""
        from starlette.responses import HTMLResponse, RedirectResponse

        if page.redirect is not None:
            response: Response = RedirectResponse(page.redirect, status_code=303)
        else:
            session = request.cookies.get(SESSION_COOKIE)
            html = self.templates.get_template(page.template).render(
                title=page.title,
                principal=principal,
                csrf=csrf_token(session) if session else "",
                path=request.url.path,
                Role=Role,
                **page.values,
            )
            response = HTMLResponse(html, status_code=status or page.status)
        response.headers.update(SECURITY_HEADERS)
        return response

    def error_page(
        self, request: Request, exc: BaseException, principal: Principal | None
    ) -> Response:
        """The page for a failure: a clear message for Steward's errors, nothing else leaked."""
        from starlette.responses import RedirectResponse

        if isinstance(exc, Unauthenticated) and request.method == "GET":
            target = request.url.path + ("?" + request.url.query if request.url.query else "")
            response = RedirectResponse(ui_url("/login", next=target), status_code=303)
            response.headers.update(SECURITY_HEADERS)
            return response
        if isinstance(exc, StewardError) and exc.http_status < 500:
            status, message = exc.http_status, self.scrub(str(exc))[:1000]
        elif isinstance(exc, IntegrityError):
            # Stored content that no longer verifies: the people deciding must know why.
            logger.error("stored content failed verification", exc_info=exc)
            status, message = exc.http_status, self.scrub(str(exc))[:1000]
        else:
            logger.error("page failed", exc_info=exc)
            status, message = 500, "the server failed; see its log."
        titles = {400: "Not accepted", 401: "Sign in", 403: "Not allowed", 404: "Not found"}
        page = Page(
            "error.html", titles.get(status, "Error"), {"status": status, "message": message}
        )
        return self.render(request, page, principal, status)

    def handle(self, request: Request, body: bytes, view: View, role: Role) -> Response:
        """Serve one request to ``view`` (in a worker thread)."""
        from steward.workspace import workspace_scope

        principal: Principal | None = None
        try:
            form = parse_form(body) if request.method == "POST" else {}
            principal = self.principal(request, form)
            principal.require(role)
            with workspace_scope(self.workspace):
                page = view(Context(request, principal, self.workspace, form))
            return self.render(request, page, principal)
        except Exception as exc:  # every failure becomes a page, never a traceback
            return self.error_page(request, exc, principal)

    def mount(
        self, app: FastAPI, path: str, view: View, role: Role, methods: tuple[str, ...] = ("GET",)
    ) -> None:
        """Add a page route whose least role is ``role``."""
        from starlette.concurrency import run_in_threadpool

        async def route(request: Request) -> Response:
            body = await request.body() if request.method == "POST" else b""
            return await run_in_threadpool(self.handle, request, body, view, role)

        route.__name__ = f"ui_{view.__name__}"
        route.__doc__ = view.__doc__
        setattr(route, ACCESS_ATTRIBUTE, role.label)
        app.add_api_route(
            UI_PREFIX + path,
            route,
            methods=list(methods),
            include_in_schema=False,
            response_model=None,
        )
