"""Sign-in routes: who am I, browser login and logout.

Login is throttled per client address and per user name (``LoginThrottle``)
and refuses foreign origins, so a page elsewhere cannot sign a browser in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from steward.auth import Role
from steward.errors import InvalidInput, Unauthenticated
from steward.server.routes import API_PREFIX, parse_json_body
from steward.server.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Authenticator,
    LoginThrottle,
    access,
    csrf_token,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

SESSION_HOURS = 12


def sign_in(
    authenticator: Authenticator, throttle: LoginThrottle, request: Request, data: Any
) -> dict[str, Any]:
    """Check a browser's user name and password and open a session (throttled).

    Returns:
        ``user``, ``role``, ``expires_at`` and the new session's secret (``session``).

    Raises:
        PermissionDenied: sent from a foreign origin.
        InvalidInput: not ``{"username": ..., "password": ...}``.
        RateLimited: too many failures from this client or for this name.
        Unauthenticated: a wrong name or password.
    """
    authenticator.check_same_origin(request)
    if not isinstance(data, dict) or not all(
        isinstance(data.get(field), str) for field in ("username", "password")
    ):
        raise InvalidInput("send {'username': ..., 'password': ...}.")
    store = authenticator.workspace.store
    name, password = data["username"][:250], data["password"][:1000]
    client = f"client:{request.client.host if request.client else '?'}"
    throttle.check(client, f"user:{name}")
    try:
        user = store.auth.check_password(name, password)
    except Unauthenticated:
        throttle.failed(client, f"user:{name}")
        raise
    session = store.auth.create_token(
        user.name, "browser session", user.name, SESSION_HOURS / 24, kind="session"
    )
    return {
        "user": user.name,
        "role": user.role,
        "expires_at": session.token.expires_at.isoformat(),
        "session": session.secret,
    }


def set_session_cookies(response: Response, request: Request, session: str) -> None:
    """Put a session and its CSRF value in a response's cookies."""
    csrf = csrf_token(session)
    secure = request.url.scheme == "https"
    max_age = SESSION_HOURS * 3600
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=max_age,
        httponly=True,
        secure=secure,
        samesite="strict",
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=max_age, secure=secure, samesite="strict", path="/"
    )


def clear_session_cookies(response: Response) -> None:
    """Remove the session and CSRF cookies."""
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


def add_auth_routes(app: FastAPI, authenticator: Authenticator, throttle: LoginThrottle) -> None:
    """Mount ``/auth/whoami``, ``/auth/login`` and ``/auth/logout``."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse

    store = authenticator.workspace.store

    @access(Role.VIEWER)
    async def whoami(request: Request) -> Response:
        principal = await run_in_threadpool(authenticator.authorize, request, Role.VIEWER)
        return JSONResponse(
            {
                "user": principal.user,
                "role": principal.role.label,
                "kind": principal.kind,
                "token_id": principal.token_id,
                "expires_at": principal.expires_at.isoformat() if principal.expires_at else None,
            }
        )

    @access(None)
    async def login(request: Request) -> Response:
        data = parse_json_body(await request.body())
        result = await run_in_threadpool(sign_in, authenticator, throttle, request, data)
        session = result.pop("session")
        result["csrf_token"] = csrf_token(session)
        response = JSONResponse(result)
        set_session_cookies(response, request, session)
        return response

    @access(Role.VIEWER)
    async def logout(request: Request) -> Response:
        principal = await run_in_threadpool(authenticator.authorize, request, Role.VIEWER)
        if principal.kind == "session":
            await run_in_threadpool(store.auth.revoke_token, principal.token_id, principal.user)
        response = Response(status_code=204)
        clear_session_cookies(response)
        return response

    credentials = {
        "type": "object",
        "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
        "required": ["username", "password"],
    }
    app.add_api_route(
        API_PREFIX + "/auth/whoami", whoami, methods=["GET"], tags=["auth"], response_model=None
    )
    app.add_api_route(
        API_PREFIX + "/auth/login",
        login,
        methods=["POST"],
        tags=["auth"],
        openapi_extra={
            "requestBody": {"content": {"application/json": {"schema": credentials}}},
            "security": [],
        },
        response_model=None,
    )
    app.add_api_route(
        API_PREFIX + "/auth/logout", logout, methods=["POST"], tags=["auth"], response_model=None
    )
