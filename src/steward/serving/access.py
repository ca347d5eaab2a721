"""Who may call a server's admin routes (reload, the v2 repository's load and unload).

One function decides, so that a team server can later put its own tokens and
roles behind it. With an admin token set, every caller must send it
(``Authorization: Bearer <token>``); without one, only a caller on loopback
that came through no proxy is let in: a server reached over the network is
closed to admin calls by default.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import TYPE_CHECKING

from steward.errors import PermissionDenied
from steward.serving.errors import Unauthorized

if TYPE_CHECKING:
    from starlette.requests import Request

_PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def check_admin(request: Request, token: str | None) -> None:
    """Let an admin call through, or refuse it.

    Raises:
        Unauthorized: a token is set and the request does not carry it (401).
        PermissionDenied: no token is set and the caller is not on loopback (403).
    """
    if token is not None:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            raise Unauthorized("this route needs 'Authorization: Bearer <admin token>'.")
        return
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
