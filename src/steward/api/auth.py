"""Users and tokens over HTTP: admin only (``steward server users|tokens``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from steward.api.endpoint import Endpoint, Repository
from steward.auth import Role
from steward.errors import InvalidInput
from steward.store.auth import AuthStore


def _check_token_kind(arguments: dict[str, Any]) -> None:
    if arguments.get("kind", "api") != "api":
        raise InvalidInput("only API tokens are created here; browsers sign in at /auth/login.")


_auth = partial(Endpoint, "auth")
_admin = Role.ADMIN

AUTH = Repository(
    "auth",
    (
        _auth(AuthStore.list_users, "GET", "/users", _admin),
        _auth(AuthStore.create_user, "POST", "/users", _admin, status=201),
        _auth(AuthStore.get_user, "GET", "/users/{name:path}", _admin),
        _auth(AuthStore.update_user, "PATCH", "/users/{name:path}", _admin),
        _auth(AuthStore.list_tokens, "GET", "/tokens", _admin),
        _auth(AuthStore.create_token, "POST", "/tokens", _admin, _check_token_kind, status=201),
        _auth(AuthStore.revoke_token, "DELETE", "/tokens/{token_id}", _admin),
    ),
)
