"""``authorize(token, role)``: the one access check every Steward server makes.

The team server's routes and the model server's admin routes both call it,
so one token works on both and a revoked one stops working on both. A model
server whose workspace is a team server (``STEWARD_URI``) asks that server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from steward.auth import Principal, Role
from steward.errors import Unauthenticated

if TYPE_CHECKING:
    from steward.workspace import Workspace


def authorize(token: str | None, role: Role | str, workspace: Workspace | None = None) -> Principal:
    """Check that ``token`` is valid and holds ``role``; the check every server shares.

    Args:
        token: the bearer token from the request (``None`` if there was none).
        role: the least role the action needs.
        workspace: the workspace whose users count; the current one by default.

    Returns:
        The caller.

    Raises:
        Unauthenticated: no token, or one that is unknown, expired or revoked.
        PermissionDenied: the token's user has a lower role.
    """
    from steward.workspace import current_workspace

    if not token:
        raise Unauthenticated("this needs a token: send 'Authorization: Bearer <token>'.")
    workspace = workspace or current_workspace()
    if workspace.settings.remote:
        principal = _ask_the_team_server(workspace, token)
    else:
        principal = workspace.store.auth.authenticate(token)
    principal.require(Role.parse(role))
    return principal


def _ask_the_team_server(workspace: Workspace, token: str) -> Principal:
    """Whom ``token`` belongs to, as the team server that keeps the users says."""
    import orjson

    from steward.api.client import Transport

    transport = Transport(workspace.settings.store_url, token)
    try:
        answer = orjson.loads(transport.request("GET", "/auth/whoami").content)
    finally:
        transport.close()
    return Principal(
        answer["user"], Role.parse(answer["role"]), answer.get("token_id", ""), answer["kind"]
    )
