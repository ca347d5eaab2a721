"""Self-service tokens: every signed-in user lists, creates and revokes their own.

``/auth/tokens`` acts for the caller only: a token of another user is
answered as if it did not exist (404), so ids reveal nothing. Admins manage
everyone's tokens through ``/tokens`` (``steward.api.auth``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from steward.api.codec import encoder_for
from steward.auth import Role
from steward.errors import InvalidInput, NotFound
from steward.server.routes import API_PREFIX, parse_json_body
from steward.server.security import Authenticator, access
from steward.store.auth import ApiToken, NewToken

if TYPE_CHECKING:
    from fastapi import FastAPI

_NEW_TOKEN_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "expires_in_days": {"type": "number"},
    },
    "required": ["name"],
    "additionalProperties": False,
}


def _new_token_request(body: bytes) -> tuple[str, float]:
    data = parse_json_body(body)
    if not isinstance(data, dict) or set(data) - {"name", "expires_in_days"}:
        raise InvalidInput("send {'name': ..., 'expires_in_days': ...} and nothing else.")
    name, days = data.get("name"), data.get("expires_in_days", 90)
    if not isinstance(name, str):
        raise InvalidInput("name must be a string.")
    if isinstance(days, bool) or not isinstance(days, int | float):
        raise InvalidInput("expires_in_days must be a number.")
    return name, float(days)


def add_token_routes(app: FastAPI, authenticator: Authenticator) -> None:
    """Mount ``/auth/tokens`` (list, create) and ``/auth/tokens/{token_id}`` (revoke)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse

    auth = authenticator.workspace.store.auth
    encode_list = encoder_for(list[ApiToken])
    encode_new = encoder_for(NewToken)
    encode_one = encoder_for(ApiToken)

    def own_tokens(request: Request) -> Any:
        principal = authenticator.authorize(request, Role.VIEWER)
        return encode_list(auth.list_tokens(principal.user))

    def create(request: Request, body: bytes) -> Any:
        principal = authenticator.authorize(request, Role.VIEWER)
        name, days = _new_token_request(body)
        return encode_new(auth.create_token(principal.user, name, principal.user, days))

    def revoke(request: Request, token_id: str) -> Any:
        principal = authenticator.authorize(request, Role.VIEWER)
        if token_id not in {token.id for token in auth.list_tokens(principal.user)}:
            raise NotFound(f"you have no token with id {token_id[:40]!r}.")
        return encode_one(auth.revoke_token(token_id, principal.user))

    @access(Role.VIEWER)
    async def list_own(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(own_tokens, request))

    @access(Role.VIEWER)
    async def create_own(request: Request) -> Response:
        body = await request.body()
        return JSONResponse(await run_in_threadpool(create, request, body), status_code=201)

    @access(Role.VIEWER)
    async def revoke_own(request: Request, token_id: str) -> Response:
        return JSONResponse(await run_in_threadpool(revoke, request, token_id))

    path = API_PREFIX + "/auth/tokens"
    app.add_api_route(path, list_own, methods=["GET"], tags=["auth"], response_model=None)
    app.add_api_route(
        path,
        create_own,
        methods=["POST"],
        tags=["auth"],
        status_code=201,
        response_model=None,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _NEW_TOKEN_SCHEMA}},
            }
        },
    )
    app.add_api_route(
        path + "/{token_id}", revoke_own, methods=["DELETE"], tags=["auth"], response_model=None
    )
