"""Who may call a server's admin routes (reload, the v2 repository's load and unload).

One function decides. A caller who sends a bearer token is let in if it is
the server's own admin token, or a token of the workspace's users with the
admin role: the same tokens, checked by the same ``steward.access.authorize``
as the team server's routes, so a revoked token stops working on both.
Without a token, a server that has an admin token refuses (401), and one
that has none lets in only a caller on loopback that came through no proxy:
a server reached over the network is closed to admin calls by default.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import TYPE_CHECKING

from steward.access import authorize
from steward.auth import Role
from steward.errors import PermissionDenied
from steward.serving.errors import Unauthorized

if TYPE_CHECKING:
    from starlette.requests import Request

    from steward.workspace import Workspace

_PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


ADMIN_ROLE = Role.ADMIN
"""The role a workspace user's token needs on a model server's admin routes."""


def check_admin(request: Request, token: str | None, workspace: Workspace | None = None) -> None:
    """Let an admin call through, or refuse it.

    Args:
        request: the admin call.
        token: the server's own admin token, if it has one.
        workspace: whose users' tokens count (the current workspace by default).

    Raises:
        Unauthorized: a token is set and the request carries none (401).
        Unauthenticated: the request's token is neither the admin token nor a valid
            token of the workspace (401).
        PermissionDenied: the token's user is not an admin, or no token is set and
            the caller is not on loopback (403).
    """
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    sent = sent.strip() if scheme.lower() == "bearer" else ""
    if sent:
        if token is not None and hmac.compare_digest(sent.encode(), token.encode()):
            return
        authorize(sent, ADMIN_ROLE, workspace)
        return
    if token is not None:
        raise Unauthorized("this route needs 'Authorization: Bearer <admin token>'.")
    host = request.client.host if request.client is not None else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback or any(name in request.headers for name in _PROXY_HEADERS):
        raise PermissionDenied(
            "admin routes answer only callers on this machine unless the server has an "
            "admin token (steward serve --admin-token, or STEWARD_ADMIN_TOKEN)."
        )
