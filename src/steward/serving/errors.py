"""The one mapping from failures to JSON error replies.

Every error the server returns goes through ``error_response``: a small JSON
body with the status of the Steward error class, never the request's input
echoed back, never a filesystem path, and never more than ``MAX_ERROR_BYTES``.
Open Inference Protocol routes (``/v2/...``) answer in that protocol's shape,
``{"error": "<message>"}``, which its clients print; the others answer
``{"error": {"code", "message"}}``. Unexpected exceptions become a 500 that
says only that something went wrong on the server, with the detail in the
server log.
"""

from __future__ import annotations

import logging
import os
import re
from functools import cache
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


class Overloaded(StewardError):
    """A model already holds as many requests as its queue allows; retry shortly."""

    http_status = 503
    retry_after_s = 1


class RequestTimeout(InvalidInput):
    """The request body did not arrive in time."""

    http_status = 408


class ReloadFailed(StewardError):
    """The version an alias now points at could not be loaded; the old one still serves."""

    http_status = 409


_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    408: "request_timeout",
    415: "unsupported_media_type",
    431: "headers_too_large",
    422: "unprocessable",
    503: "not_ready",
}


# An absolute path, not inside a word, URL or model URI ("application/json", "models:/a/3").
_PATH = re.compile(r"(?<![\w:/.~-])(?:file://)?(/[^\s'\"`,;()\[\]{}<>]*)|\b[A-Za-z]:\\[^\s'\"]*")
_ROUTES = frozenset(
    {"v2", "models", "predict", "invocations", "feedback", "admin", "health", "ready", "metrics"}
)


@cache
def _root_entries() -> frozenset[str]:
    try:
        return frozenset(os.listdir("/")) - _ROUTES
    except OSError:
        return frozenset()


def scrub_paths(message: str) -> str:
    """``message`` with every filesystem path cut to its last part (``…/model.onnx``).

    A server's replies go to its clients, who have no business learning where
    the workspace or the model files are kept.
    """

    def cut(match: re.Match[str]) -> str:
        text = match.group(0)
        path = match.group(1)
        if path is not None and path.split("/")[1] not in _root_entries():
            return text
        tail = text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        return f"…/{tail}"

    return _PATH.sub(cut, message)


def shorten(message: str) -> str:
    """Cut a message to a bounded length, so a reply never grows with the input."""
    if len(message) <= _MAX_MESSAGE_CHARS:
        return message
    return message[: _MAX_MESSAGE_CHARS - 15] + " …(shortened)"


def public_message(message: str) -> str:
    """A message fit for a client: bounded and without filesystem paths."""
    return shorten(scrub_paths(message))


def error_response(
    status: int, message: str, *, v2: bool = False, headers: dict[str, str] | None = None
) -> Response:
    """A JSON error reply: status, a code naming the kind of error, a bounded message.

    Args:
        status: the HTTP status.
        message: what went wrong and what to do (cut, and paths removed, here).
        v2: answer in the Open Inference Protocol's shape, ``{"error": message}``.
        headers: extra response headers (``Retry-After``).
    """
    from starlette.responses import JSONResponse

    text = public_message(message)
    if v2:
        return JSONResponse({"error": text}, status_code=status, headers=headers)
    code = _CODES.get(status, "error" if status < 500 else "internal_error")
    return JSONResponse(
        {"error": {"code": code, "message": text}}, status_code=status, headers=headers
    )


def status_of(exc: BaseException) -> int:
    """The HTTP status of an exception: its Steward class's, or 500."""
    if isinstance(exc, StewardError):
        return int(exc.http_status)
    return 500


def is_v2(request: Request) -> bool:
    """Whether a request came to an Open Inference Protocol route."""
    return str(request.scope.get("path", "")).startswith("/v2")


def response_for(exc: BaseException, *, v2: bool = False) -> Response:
    """The error reply for an exception raised while handling a request."""
    status = status_of(exc)
    if isinstance(exc, Overloaded):
        return error_response(
            status, str(exc), v2=v2, headers={"Retry-After": str(exc.retry_after_s)}
        )
    if isinstance(exc, RequestTimeout):
        # The rest of the body may still come: end the connection rather than read it.
        return error_response(status, str(exc), v2=v2, headers={"Connection": "close"})
    if status >= 500 and not isinstance(exc, NotReady):
        logger.error("request failed", exc_info=exc)
        return error_response(
            status, "the server failed to handle this request; see its log.", v2=v2
        )
    return error_response(status, str(exc), v2=v2)


def install_handlers(app: object) -> None:
    """Register the handlers that turn every failure into ``error_response``."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    assert isinstance(app, FastAPI)

    async def on_steward_error(request: Request, exc: Exception) -> Response:
        return response_for(exc, v2=is_v2(request))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return error_response(exc.status_code, detail, v2=is_v2(request))

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        # FastAPI's default reply echoes the input; name only where the problem is.
        assert isinstance(exc, RequestValidationError)
        places = [".".join(str(part) for part in error.get("loc", ())) for error in exc.errors()]
        return error_response(
            422, f"invalid request at: {', '.join(places[:10])}", v2=is_v2(request)
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        return response_for(exc, v2=is_v2(request))

    app.add_exception_handler(StewardError, on_steward_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
