"""The one mapping from failures to the REST API's JSON error replies.

Every error reply is ``{"error": "<StewardError class>", "message": "..."}``
with the class's ``http_status``, so the HTTP client re-raises the same class
with the same message. Messages are bounded, and the server's own locations
(its folder, blob store and database URLs) are replaced by ``<server>``:
callers learn what was wrong, not where the server keeps things. Anything
unexpected is a 500 that says only that, with the traceback in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from steward.errors import Conflict, InvalidInput, NotFound, StewardError, Unauthenticated

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

logger = logging.getLogger("steward.server")
MAX_MESSAGE_CHARS = 1000


class PayloadTooLarge(InvalidInput):
    """The request body is over the route's size limit."""

    http_status = 413


class MethodNotAllowed(InvalidInput):
    """The path exists but not with this HTTP verb."""

    http_status = 405


class Scrubber:
    """Replaces the server's own locations in messages by ``<server>``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a folder inside another is replaced whole.
        self.secrets = sorted({secret for secret in secrets if len(secret) > 1}, key=len)[::-1]

    def __call__(self, message: str) -> str:
        for secret in self.secrets:
            message = message.replace(secret, "<server>")
        return message


def error_body(exc: StewardError, scrub: Scrubber) -> dict[str, str]:
    """The JSON body of a Steward error."""
    message = scrub(str(exc))
    if len(message) > MAX_MESSAGE_CHARS:  # a reply never grows with the input
        message = message[: MAX_MESSAGE_CHARS - 15] + " …(shortened)"
    return {"error": type(exc).__name__, "message": message}


def from_database(exc: BaseException) -> BaseException:
    """A database's refusal of a value (too long for its column, a dangling
    reference) as the Steward error it is: the request's fault, not the server's."""
    from sqlalchemy import exc as database

    if isinstance(exc, database.DataError):
        return InvalidInput("a value is too long or of the wrong form for the store.")
    if isinstance(exc, database.IntegrityError):
        return Conflict("the change contradicts what is stored (a duplicate or a dangling id).")
    return exc


def error_response(exc: BaseException, scrub: Scrubber) -> Response:
    """The reply for an exception raised while handling a request."""
    from starlette.responses import JSONResponse

    if not isinstance(exc, StewardError) or exc.http_status >= 500:
        logger.error("request failed", exc_info=exc)
        body = {"error": "StewardError", "message": "the server failed; see its log."}
        if isinstance(exc, StewardError) and exc.http_status != 500:
            body["error"] = type(exc).__name__
        status = exc.http_status if isinstance(exc, StewardError) else 500
        return JSONResponse(body, status_code=status)
    headers = {"www-authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
    return JSONResponse(error_body(exc, scrub), status_code=exc.http_status, headers=headers)


def install_handlers(app: object, scrub: Scrubber) -> None:
    """Register the handlers that turn every failure into ``error_response``."""
    from fastapi import FastAPI
    from starlette.exceptions import HTTPException

    assert isinstance(app, FastAPI)

    async def on_error(_request: Request, exc: Exception) -> Response:
        return error_response(exc, scrub)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        mapped: StewardError
        if exc.status_code == 404:
            mapped = NotFound(f"no route {request.url.path!r}; see /api/v1/openapi.json.")
        elif exc.status_code == 405:
            mapped = MethodNotAllowed(f"{request.method} is not allowed on this route.")
        else:
            mapped = InvalidInput(str(exc.detail))
            mapped.http_status = exc.status_code
        return error_response(mapped, scrub)

    app.add_exception_handler(StewardError, on_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_error)
