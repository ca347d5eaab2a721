"""Who is calling, and may they: bearer tokens, browser sessions, CSRF, login throttling.

Every route handler is made through ``access(role)`` or ``access(None)``
(public): the decision is explicit and recorded on the handler as
``__steward_access__``, which the route-enumeration test reads.

Browsers sign in with a password (``POST /api/v1/auth/login``) and get a
session cookie (``HttpOnly``, ``SameSite=Strict``) holding a session token,
stored hashed like any token, plus a readable CSRF cookie. A request
authenticated by the cookie that changes anything must echo the CSRF value
in ``X-CSRF-Token`` (derived from the session, so a planted cookie is
useless) and, when it has an ``Origin``, come from this server's own origin.
Bearer tokens are never sent by a browser on its own, so they need neither.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from steward.auth import Principal, Role
from steward.errors import PermissionDenied, RateLimited, Unauthenticated

if TYPE_CHECKING:
    from starlette.requests import Request

    from steward.workspace import Workspace

SESSION_COOKIE = "steward_session"
CSRF_COOKIE = "steward_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ACCESS_ATTRIBUTE = "__steward_access__"

F = TypeVar("F", bound=Callable[..., Any])


def access(role: Role | None) -> Callable[[F], F]:
    """Record a handler's authorization decision: the least role, or None for public."""

    def mark(handler: F) -> F:
        setattr(handler, ACCESS_ATTRIBUTE, "public" if role is None else role.label)
        return handler

    return mark


def csrf_token(session_secret: str) -> str:
    """The CSRF value that goes with a session (a hash of it, so it reveals nothing)."""
    return hashlib.sha256(b"steward-csrf:" + session_secret.encode()).hexdigest()


def request_origin(request: Request) -> str:
    """This server's origin as the request reached it (``scheme://host[:port]``)."""
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


class Authenticator:
    """Finds the principal of a request against a workspace's users."""

    def __init__(self, workspace: Workspace, allowed_origins: frozenset[str]) -> None:
        self.workspace = workspace
        self.allowed_origins = allowed_origins

    def principal(self, request: Request) -> Principal:
        """The caller of ``request``.

        Raises:
            Unauthenticated: no credential, or an invalid one.
            PermissionDenied: a cookie-authenticated change without the CSRF value
                or from a foreign origin.
        """
        header = request.headers.get("authorization")
        auth = self.workspace.store.auth
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("send the token as 'Authorization: Bearer <token>'.")
            return auth.authenticate(token.strip())
        session = request.cookies.get(SESSION_COOKIE)
        if session is None:
            raise Unauthenticated(
                "this needs a token: send 'Authorization: Bearer <token>' or sign in."
            )
        principal = auth.authenticate(session)
        if principal.kind != "session":
            raise Unauthenticated("the session cookie does not hold a session; sign in again.")
        if request.method not in SAFE_METHODS:
            self.check_same_origin(request)
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), csrf_token(session).encode()):
                raise PermissionDenied(
                    f"a signed-in browser must send the {CSRF_COOKIE} cookie's value "
                    f"in the {CSRF_HEADER} header to change anything."
                )
        return principal

    def check_same_origin(self, request: Request) -> None:
        """Refuse a browser request sent from another site (its Origin header).

        Raises:
            PermissionDenied: the Origin is neither this server nor an allowed one.
        """
        origin = request.headers.get("origin")
        if origin is None or origin == request_origin(request) or origin in self.allowed_origins:
            return
        raise PermissionDenied(f"requests from {origin[:100]!r} are not allowed here.")

    def authorize(self, request: Request, role: Role) -> Principal:
        """The caller of ``request``, if they hold ``role``."""
        principal = self.principal(request)
        principal.require(role)
        return principal


class LoginThrottle:
    """Refuses sign-in attempts past a budget of failures per client and per user name."""

    def __init__(self, failures: int = 5, window_s: float = 60.0) -> None:
        self.failures = failures
        self.window_s = window_s
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen.setdefault(key, deque())
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def check(self, *keys: str) -> None:
        """Raise RateLimited if any key (client address, user name) used up its failures."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.failures:
                    wait = int(self.window_s - (now - times[0])) + 1
                    raise RateLimited(f"too many failed sign-ins; try again in {wait} s.")

    def failed(self, *keys: str) -> None:
        """Count a failed attempt against every key."""
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 100_000:  # bounded memory under a flood of names
                self._seen.clear()
            for key in keys:
                self._recent(key, now).append(now)
