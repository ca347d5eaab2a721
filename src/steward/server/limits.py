"""Request size limits on every route, before any handler reads a byte.

JSON routes take at most ``max_body_bytes``; the routes that carry blob
bytes (one blob PUT, one upload chunk) take at most ``max_blob_bytes``.
A declared ``Content-Length`` over the limit is refused at once; a body that
grows past it while streaming (chunked encoding) raises ``PayloadTooLarge``
in the handler reading it, answered 413 like any Steward error.
"""

from __future__ import annotations

import re
from typing import Any

from steward.server.errors import PayloadTooLarge

Scope = dict[str, Any]
_BLOB_ROUTES = re.compile(r"^/api/v1/(blobs/[^/]+|blob-uploads/[^/]+)$")


class BodyLimit:
    """ASGI middleware refusing request bodies over the route's limit."""

    def __init__(self, app: Any, max_body_bytes: int, max_blob_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_blob_bytes = max_blob_bytes

    def limit_for(self, scope: Scope) -> int:
        """The largest body the request's route accepts."""
        if scope["method"] in ("PUT", "PATCH") and _BLOB_ROUTES.match(scope["path"]):
            return self.max_blob_bytes
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                await _refuse(scope, send, limit)
                return
        received = 0

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)  # the app's error handler answers 413
            return message

        await self.app(scope, counting_receive, send)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is over this route's limit of {limit:,} bytes; "
        "send large blobs through an upload session in chunks."
    )


async def _refuse(scope: Scope, send: Any, limit: int) -> None:
    from starlette.responses import JSONResponse

    error = _too_large(limit)
    response = JSONResponse({"error": type(error).__name__, "message": str(error)}, 413)
    await response(scope, _no_receive, send)


async def _no_receive() -> Any:
    return {"type": "http.disconnect"}
