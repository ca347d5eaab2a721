"""FastAPI routes made from the endpoint declarations (``steward.api``).

One generic handler per declaration: authenticate, decode and check the
arguments, decide the role, run the server's own check if one is declared,
fill ``actor`` with the caller, call the store method (or the server's own
service, ``steward.server.services``), encode the result. The blocking
part runs in one worker thread per request, so a slow database never stalls
the event loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from steward.api.codec import to_json
from steward.api.endpoint import SERVER_FILLED, Endpoint, Repository
from steward.errors import InvalidInput
from steward.server.errors import from_database
from steward.server.security import ACCESS_ATTRIBUTE, Authenticator
from steward.server.services import ServerServices

if TYPE_CHECKING:
    from fastapi import FastAPI

    from steward.workspace import Workspace

API_PREFIX = "/api/v1"
_NUL_ESCAPE = b"\\u0000"


def parse_json_body(body: bytes) -> Any:
    """The JSON of a request body, refusing NUL characters anywhere in it.

    Raises:
        InvalidInput: not JSON (or NUL inside).
    """
    import orjson

    if _NUL_ESCAPE in body:
        raise InvalidInput("the request body contains a NUL character.")
    try:
        return orjson.loads(body) if body else {}
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}") from exc


def _handler(
    endpoint: Endpoint,
    workspace: Workspace,
    services: ServerServices,
    authenticator: Authenticator,
) -> Any:
    from sqlalchemy.exc import DataError, IntegrityError
    from starlette.concurrency import run_in_threadpool

    returns = endpoint.return_hint
    fills_actor = bool(SERVER_FILLED & set(endpoint.signature.parameters))
    target = services if endpoint.on_server else getattr(workspace.store, endpoint.repository)
    call = getattr(target, endpoint.name)
    server_check = getattr(services, endpoint.server_check) if endpoint.server_check else None

    def handle(request: Request, body: bytes) -> bytes:
        principal = authenticator.principal(request)
        principal.require(endpoint.role)  # decided before reading anything the caller sent
        if endpoint.in_query:
            wire: Any = dict(request.query_params)
        else:
            wire = parse_json_body(body)
            if not isinstance(wire, dict):
                raise InvalidInput("the request body must be a JSON object.")
        arguments = endpoint.decode_arguments(request.path_params, wire, endpoint.in_query)
        principal.require(endpoint.required_role(arguments))
        if endpoint.check is not None:
            endpoint.check(arguments)
        if server_check is not None:
            server_check(arguments)
        if fills_actor:
            arguments["actor"] = principal.user
        try:
            result = call(**arguments)
        except (DataError, IntegrityError) as exc:
            raise from_database(exc) from exc
        return to_json(result, returns)

    async def route(request: Request) -> Response:
        body = b"" if endpoint.in_query else await request.body()
        content = await run_in_threadpool(handle, request, body)
        return Response(content, status_code=endpoint.status, media_type="application/json")

    route.__name__ = endpoint.name
    route.__doc__ = endpoint.function.__doc__
    setattr(route, ACCESS_ATTRIBUTE, f"declared:{endpoint.operation_id}")
    return route


def add_repository_routes(
    app: FastAPI,
    repositories: tuple[Repository, ...],
    workspace: Workspace,
    authenticator: Authenticator,
    components: dict[str, Any],
) -> None:
    """Mount one route per declared endpoint, with its OpenAPI operation."""
    services = ServerServices(workspace)
    for repository in repositories:
        for endpoint in repository.endpoints:
            app.add_api_route(
                API_PREFIX + endpoint.path,
                _handler(endpoint, workspace, services, authenticator),
                methods=[endpoint.verb],
                tags=[repository.name],
                openapi_extra=endpoint.openapi(components),
                status_code=endpoint.status,
                include_in_schema=True,
                response_model=None,
            )
