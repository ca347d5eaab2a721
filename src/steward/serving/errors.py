"""The one mapping from failures to JSON error replies.

Every error the server returns goes through ``error_response``: a small JSON
body ``{"error": {"code", "message"}}`` with the status of the Steward error
class, never the request's input echoed back, and never more than
``MAX_ERROR_BYTES``. Unexpected exceptions become a 500 that says only that
something went wrong on the server, with the detail in the server log.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from steward.errors import InvalidInput, StewardError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

logger = logging.getLogger("steward.serving")

MAX_ERROR_BYTES = 4096
_MAX_MESSAGE_CHARS = 1000


class PayloadTooLarge(InvalidInput):
    """The request body is over the server's size limit."""

    http_status = 413


class UnsupportedMediaType(InvalidInput):
    """The request's content type is not one this route reads."""

    http_status = 415


class NotReady(StewardError):
    """The model is still loading or warming up."""

    http_status = 503


class Unauthorized(StewardError):
    """An admin route was called without the admin token."""

    http_status = 401


_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    503: "not_ready",
}


def shorten(message: str) -> str:
    """Cut a message to a bounded length, so a reply never grows with the input."""
    if len(message) <= _MAX_MESSAGE_CHARS:
        return message
    return message[: _MAX_MESSAGE_CHARS - 15] + " …(shortened)"


def error_response(status: int, message: str) -> Response:
    """A JSON error reply: status, a code naming the kind of error, a bounded message."""
    from starlette.responses import JSONResponse

    code = _CODES.get(status, "error" if status < 500 else "internal_error")
    return JSONResponse({"error": {"code": code, "message": shorten(message)}}, status_code=status)


def status_of(exc: BaseException) -> int:
    """The HTTP status of an exception: its Steward class's, or 500."""
    if isinstance(exc, StewardError):
        return int(exc.http_status)
    return 500


def response_for(exc: BaseException) -> Response:
    """The error reply for an exception raised while handling a request."""
    status = status_of(exc)
    if status >= 500 and not isinstance(exc, NotReady):
        logger.error("request failed", exc_info=exc)
        return error_response(status, "the server failed to handle this request; see its log.")
    return error_response(status, str(exc))


def install_handlers(app: object) -> None:
    """Register the handlers that turn every failure into ``error_response``."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    assert isinstance(app, FastAPI)

    async def on_steward_error(_request: Request, exc: Exception) -> Response:
        return response_for(exc)

    async def on_http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return error_response(exc.status_code, detail)

    async def on_validation_error(_request: Request, exc: Exception) -> Response:
        # FastAPI's default reply echoes the input; name only where the problem is.
        assert isinstance(exc, RequestValidationError)
        places = [".".join(str(part) for part in error.get("loc", ())) for error in exc.errors()]
        return error_response(422, f"invalid request at: {', '.join(places[:10])}")

    async def on_unexpected(_request: Request, exc: Exception) -> Response:
        return response_for(exc)

    app.add_exception_handler(StewardError, on_steward_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
