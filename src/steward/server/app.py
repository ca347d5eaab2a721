"""The team server's ASGI app: the REST API and the web UI over one workspace.

``create_app`` mounts the declared repository routes, the blob and ref
routes, sign-in, health probes and the web UI (``/ui``), with size limits on every request, one
error mapping, and the OpenAPI document at ``/api/v1/openapi.json``. CORS is
closed unless origins are listed explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from steward.server.errors import Scrubber, install_handlers
from steward.server.routes import API_PREFIX, add_repository_routes
from steward.server.security import Authenticator, LoginThrottle, access

if TYPE_CHECKING:
    from fastapi import FastAPI

    from steward.workspace import Workspace

OPENAPI_PATH = API_PREFIX + "/openapi.json"


@dataclass(frozen=True)
class ServerConfig:
    """How a server behaves (the ``steward server`` options)."""

    max_body_bytes: int = 16 << 20
    max_blob_bytes: int = 64 << 20
    cors_origins: tuple[str, ...] = ()
    login_failures: int = 5
    login_window_s: float = 60.0
    extra_scrub: tuple[str, ...] = field(default=())


def _locations(workspace: Workspace) -> list[str]:
    """The server's own locations, which error messages must not reveal."""
    from sqlalchemy.engine import make_url

    settings = workspace.settings
    store = make_url(settings.store_url)
    found = [str(settings.home), settings.blob_url, settings.store_url]
    found += [store.render_as_string(hide_password=True), str(store.database or "")]
    return found


def create_app(workspace: Workspace, config: ServerConfig | None = None) -> FastAPI:
    """The REST API app serving ``workspace``."""
    from fastapi import FastAPI
    from fastapi.openapi.utils import get_openapi
    from starlette.responses import JSONResponse

    from steward.api.repositories import REPOSITORIES
    from steward.server.auth_routes import add_auth_routes
    from steward.server.blob_routes import BlobService, add_blob_routes
    from steward.server.limits import BodyLimit
    from steward.server.token_routes import add_token_routes
    from steward.server.ui import add_ui_routes

    config = config or ServerConfig()
    app = FastAPI(
        title="Steward",
        version="1",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    scrub = Scrubber([*_locations(workspace), *config.extra_scrub])
    install_handlers(app, scrub)
    authenticator = Authenticator(workspace, frozenset(config.cors_origins))
    components: dict[str, Any] = {}
    add_repository_routes(app, REPOSITORIES, workspace, authenticator, components)
    staging = workspace.settings.home / "server" / "uploads"
    add_blob_routes(app, BlobService(workspace, staging), authenticator)
    throttle = LoginThrottle(config.login_failures, config.login_window_s)
    add_auth_routes(app, authenticator, throttle)
    add_token_routes(app, authenticator)
    add_ui_routes(app, workspace, authenticator, throttle, scrub)

    @access(None)
    async def health() -> Response:
        return JSONResponse({"status": "ok"})

    document: dict[str, Any] = {}

    @access(None)
    async def openapi() -> Response:
        if not document:
            document.update(get_openapi(title="Steward", version="1", routes=app.routes))
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(components)
            document["components"]["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "steward_session"},
            }
        return JSONResponse(document)

    app.add_api_route(
        API_PREFIX + "/health",
        health,
        methods=["GET"],
        tags=["server"],
        response_model=None,
        openapi_extra={"security": []},
    )
    app.add_api_route(
        OPENAPI_PATH, openapi, methods=["GET"], include_in_schema=False, response_model=None
    )
    app.add_middleware(
        BodyLimit, max_body_bytes=config.max_body_bytes, max_blob_bytes=config.max_blob_bytes
    )
    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "x-csrf-token", "upload-offset"],
        )
    return app
