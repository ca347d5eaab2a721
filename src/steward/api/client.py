"""The HTTP side of the store seam: repositories that call a ``steward server``.

``RemoteMetadataStore`` stands where ``MetadataStore`` stands in a local
workspace; each repository on it (``.tracking``…) has one method per
declared endpoint, built from the declaration, with the store method's
signature and docstring. Errors come back as the same ``StewardError``
class with the same message.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlencode

from steward.api.codec import decoder_for, encoder_for
from steward.api.endpoint import Endpoint, Repository
from steward.api.http_connection import JsonConnections, lean_transport_applies
from steward.errors import InvalidInput, StewardError, TransferFailed, Unauthenticated, require

API_PREFIX = "/api/v1"
TOKEN_ENV = "STEWARD_TOKEN"
_TIMEOUT_S = 60.0
_JSON = {"content-type": "application/json"}


_BY_STATUS = {
    400: "InvalidInput",
    401: "Unauthenticated",
    403: "PermissionDenied",
    404: "NotFound",
    409: "Conflict",
    429: "RateLimited",
}
"""Error classes for answers without a body (``HEAD``)."""


def error_class(name: str) -> type[StewardError]:
    """The ``StewardError`` subclass called ``name`` (StewardError itself if unknown)."""
    pending: list[type[StewardError]] = [StewardError]
    while pending:
        cls = pending.pop()
        if cls.__name__ == name and cls.__module__.startswith("steward"):
            return cls
        pending.extend(cls.__subclasses__())
    return StewardError


def raise_for_error(status: int, body: bytes) -> None:
    """Re-raise a server's error answer as the StewardError it was on the server."""
    import json

    try:
        data = json.loads(body)
        name, message = str(data["error"]), str(data["message"])
    except (ValueError, KeyError, TypeError):
        name, message = _BY_STATUS.get(status, "StewardError"), f"the server answered {status}."
        if body:
            message = f"the server answered {status}: {body[:200]!r}"
    error = error_class(name)
    exception = error.__new__(error)
    Exception.__init__(exception, message)
    raise exception


class Transport:
    """One keep-alive HTTP connection pool to a server, with the caller's token."""

    def __init__(self, base_url: str, token: str | None) -> None:
        httpx: Any = require("httpx", "server", "talking to a Steward server")
        self.base_url = base_url.rstrip("/")
        headers = {"user-agent": "steward"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.client = httpx.Client(base_url=self.base_url, headers=headers, timeout=_TIMEOUT_S)
        self.lean = (
            JsonConnections(self.base_url + API_PREFIX, headers, _TIMEOUT_S)
            if lean_transport_applies(self.base_url)
            else None
        )
        """The JSON calls' own connections, or None where httpx carries every request."""
        self._httpx = httpx
        self.errors: tuple[type[Exception], ...] = (httpx.TransportError, TransferFailed)
        """What a dropped or refused connection raises (for callers that retry)."""

    def request(
        self,
        verb: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one request; return the response, or raise its StewardError."""
        try:
            response = self.client.request(
                verb, API_PREFIX + path, params=params, content=content, headers=headers
            )
        except self._httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            raise_for_error(response.status_code, response.content)
        return response

    def _unreachable(self, exc: Exception) -> TransferFailed:
        return TransferFailed(
            f"cannot reach the Steward server at {self.base_url}: {exc}. "
            "Check STEWARD_URI and that 'steward server' is running."
        )

    @contextmanager
    def stream(
        self, verb: str, path: str, headers: Mapping[str, str] | None = None
    ) -> Iterator[Any]:
        """A streamed response (for downloads); raises its StewardError on failure."""
        try:
            with self.client.stream(verb, API_PREFIX + path, headers=headers) as response:
                if response.status_code >= 400:
                    raise_for_error(response.status_code, response.read())
                yield response
        except self._httpx.TransportError as exc:
            raise TransferFailed(
                f"the connection to the Steward server at {self.base_url} failed: {exc}."
            ) from exc

    def call(self, endpoint: Endpoint, arguments: Mapping[str, Any]) -> Any:
        """Call ``endpoint`` with bound ``arguments`` and decode its result."""
        import orjson

        path = endpoint.path
        for name in endpoint.path_params:
            value = _query_value(encoder_for(endpoint.hints[name])(arguments[name]))
            if not value:
                raise InvalidInput(f"{name} must not be empty.")
            path = path.replace(f"{{{name}:path}}", quote(value, safe="")).replace(
                f"{{{name}}}", quote(value, safe="")
            )
        wire = {
            name: encoder_for(endpoint.hints[name])(arguments[name])
            for name in endpoint.wire_params
            if name in arguments
        }
        if endpoint.in_query:
            params = {
                name: _query_value(value) for name, value in wire.items() if value is not None
            }
            content = self._json_call(endpoint.verb, path, params, None)
        else:
            content = self._json_call(endpoint.verb, path, None, orjson.dumps(wire))
        return decoder_for(endpoint.return_hint)(orjson.loads(content), "response")

    def _json_call(
        self, verb: str, path: str, params: dict[str, str] | None, body: bytes | None
    ) -> bytes:
        """One JSON call's answer (on the lean connection where it applies)."""
        if self.lean is None:
            headers = _JSON if body is not None else None
            response = self.request(verb, path, params=params, content=body, headers=headers)
            return bytes(response.content)
        if params:
            path = f"{path}?{urlencode(params)}"
        try:
            status, content = self.lean.request(verb, path, body, _JSON if body else {})
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from exc
        if status >= 400:
            raise_for_error(status, content)
        return content

    def close(self) -> None:
        """Close the connections."""
        self.client.close()
        if self.lean is not None:
            self.lean.close()


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _method(endpoint: Endpoint) -> Any:
    def call(self: RemoteRepository, *args: Any, **kwargs: Any) -> Any:
        return self._transport.call(endpoint, endpoint.bind(args, kwargs))

    call.__name__ = endpoint.name
    call.__qualname__ = f"RemoteRepository.{endpoint.name}"
    call.__doc__ = endpoint.function.__doc__
    return call


class RemoteRepository:
    """A store repository whose methods call a server (one per declared endpoint)."""

    def __init__(self, transport: Transport, repository: Repository) -> None:
        self._transport = transport
        self._repository = repository

    def __getattr__(self, name: str) -> Any:
        raise InvalidInput(
            f"{self._repository.name}.{name} is not available through a Steward server yet; "
            "unset STEWARD_URI to work on a local store."
        )


_CLASSES: dict[str, type[RemoteRepository]] = {}


def remote_repository(transport: Transport, repository: Repository) -> RemoteRepository:
    """A client for ``repository``: a class made once from its declarations."""
    cls = _CLASSES.get(repository.name)
    if cls is None:
        methods = {endpoint.name: _method(endpoint) for endpoint in repository.endpoints}
        name = f"Remote{repository.name.title()}Store"
        cls = type(name, (RemoteRepository,), methods)
        _CLASSES[repository.name] = cls
    return cls(transport, repository)


class RemoteMetadataStore:
    """The metadata store of a ``steward server``: the same repositories, over HTTP."""

    def __init__(self, url: str, token: str | None) -> None:
        from steward.api.repositories import REPOSITORIES

        self.url = url
        self.transport = Transport(url, token)
        for repository in REPOSITORIES:
            setattr(self, repository.name, remote_repository(self.transport, repository))

    def whoami(self) -> dict[str, Any]:
        """The user and role the token belongs to.

        Raises:
            Unauthenticated: no valid token.
        """
        import orjson

        if "authorization" not in self.transport.client.headers:
            raise Unauthenticated(
                f"{self.url} needs a token: set {TOKEN_ENV} (an admin creates one with "
                "'steward server tokens create')."
            )
        result: dict[str, Any] = orjson.loads(self.transport.request("GET", "/auth/whoami").content)
        return result

    def close(self) -> None:
        """Close the connections."""
        self.transport.close()
