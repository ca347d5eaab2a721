"""One declaration per repository method a server exposes.

An ``Endpoint`` names a store method (``TrackingStore.get_run``), the HTTP
verb and path under ``/api/v1``, and the least role allowed to call it. Its
request and response shapes come from the method's typed signature and the
records' dataclasses (``steward.api.codec``), so the same declaration makes
the FastAPI route (``steward.server.routes``), the HTTP client's method
(``steward.api.client``) and the OpenAPI operation. Adding a repository
method to the API costs one line.

Arguments named in ``{...}`` in the path travel in the path; for ``GET``
the rest travel as query parameters (scalars only), otherwise as one JSON
object. An ``actor`` parameter never travels: the server fills it with the
authenticated user, so nobody can write in another's name.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Union

from steward.api.codec import decoder_for, encoder_for, is_optional, json_schema, object_schema
from steward.auth import Role
from steward.errors import InvalidInput

SERVER_FILLED = frozenset({"actor"})
"""Parameters the server fills from the authenticated caller, never from the request."""

RoleRule = Callable[[Mapping[str, Any]], Role]
_PATH_PARAM = re.compile(r"{(\w+)(?::path)?}")
_QUERY_SCALARS = {str, int, float, bool}


@dataclass(frozen=True)
class Endpoint:
    """A repository method exposed over HTTP.

    Attributes:
        repository: the attribute of ``MetadataStore`` holding the repository.
        function: the repository class's method (its signature is the contract).
        verb: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
        path: below ``/api/v1``; ``{name}`` (or ``{name:path}``) for path arguments.
        role: the least role allowed, checked before the request is read.
        check: validation the store leaves to its callers, run on the server
            before the call (raises InvalidInput).
        status: the HTTP status of a success.
        server_decides: arguments never taken from a request: ``check`` sets them
            (the status a production alias needs, say).
        escalate: for actions whose role depends on the arguments (moving
            ``production`` needs an approver), the role a given call needs.
        server_check: the name of a method of the server's own services
            (``steward.server.services``) called with the arguments after
            ``check``, for checks that need the server's stores: re-reading a
            version's blobs before it is approved (a client cannot vouch for
            content it holds).
        on_server: ``function`` is a method of a protocol that the server's own
            services answer (work that needs the blob store too, or many
            queries), not a method of a store repository.
    """

    repository: str
    function: Callable[..., Any]
    verb: str
    path: str
    role: Role
    check: Callable[[dict[str, Any]], None] | None = None
    status: int = 200
    server_decides: tuple[str, ...] = ()
    escalate: RoleRule | None = None
    server_check: str | None = None
    on_server: bool = False

    def __post_init__(self) -> None:
        for name in SERVER_FILLED & set(self.signature.parameters):
            if self.signature.parameters[name].default is not inspect.Parameter.empty:
                # An optional ``actor`` is a filter ("events by whom"), not the writer: the
                # server would silently replace what the caller asked for with its own name.
                raise TypeError(
                    f"{self.operation_id}: parameter {name!r} is filled by the server with the "
                    "caller's name, so it must be a required argument naming the writer; "
                    "rename a filter."
                )

    @property
    def name(self) -> str:
        """The method's name (``get_run``)."""
        return self.function.__name__

    @property
    def operation_id(self) -> str:
        """The OpenAPI operation id (``tracking.get_run``)."""
        return f"{self.repository}.{self.name}"

    @property
    def summary(self) -> str:
        """The first line of the method's docstring."""
        return (inspect.getdoc(self.function) or self.name).splitlines()[0]

    @cached_property
    def signature(self) -> inspect.Signature:
        """The method's signature without ``self``."""
        signature = inspect.signature(self.function)
        return signature.replace(parameters=list(signature.parameters.values())[1:])

    @cached_property
    def hints(self) -> dict[str, Any]:
        """Resolved type hints of the parameters and the return value."""
        return typing.get_type_hints(self.function)

    @cached_property
    def path_params(self) -> tuple[str, ...]:
        """Arguments carried in the path."""
        return tuple(_PATH_PARAM.findall(self.path))

    @cached_property
    def wire_params(self) -> tuple[str, ...]:
        """Arguments carried in the query string (GET) or the JSON body (other verbs)."""
        return tuple(
            name
            for name in self.signature.parameters
            if name not in self.path_params
            and name not in SERVER_FILLED
            and name not in self.server_decides
        )

    @property
    def in_query(self) -> bool:
        """Whether ``wire_params`` travel as query parameters."""
        return self.verb == "GET"

    def required(self, name: str) -> bool:
        """Whether argument ``name`` must be sent: no default, and None not allowed."""
        no_default = self.signature.parameters[name].default is inspect.Parameter.empty
        return no_default and not is_optional(self.hints[name])

    @cached_property
    def return_hint(self) -> Any:
        """The method's return type."""
        return self.hints.get("return", type(None))

    def validate_declaration(self) -> None:
        """Fail loudly at import time on a declaration that cannot work."""
        parameters = self.signature.parameters
        for name in self.path_params:
            if name not in parameters or not _is_scalar(self.hints[name]):
                raise TypeError(f"{self.operation_id}: path argument {name!r} must be a scalar")
        if self.in_query:
            for name in self.wire_params:
                if not _is_scalar(self.hints[name]):
                    raise TypeError(f"{self.operation_id}: GET argument {name!r} is not a scalar")
        for name in (*self.wire_params, *self.path_params):
            decoder_for(self.hints[name])
        encoder_for(self.return_hint)

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Arguments of a client call by name, as the method itself would bind them."""
        bound = self.signature.bind(*args, **kwargs)
        return dict(bound.arguments)

    def decode_arguments(
        self, path: Mapping[str, str], wire: Mapping[str, Any], query_strings: bool
    ) -> dict[str, Any]:
        """Decode a request's arguments (server side), checking types and required ones.

        Args:
            path: path arguments (already URL-decoded once by the server).
            wire: query parameters (strings, when ``query_strings``) or the JSON body.
            query_strings: whether ``wire`` holds raw query-string values.

        Raises:
            InvalidInput: unknown, missing or ill-typed arguments.
        """
        unknown = set(wire) - set(self.wire_params)
        if unknown:
            raise InvalidInput(f"unknown argument(s) {sorted(unknown)[:5]} for {self.name}.")
        arguments: dict[str, Any] = {}
        for name in self.path_params:
            raw = path[name]
            arguments[name] = decoder_for(self.hints[name])(
                _from_query(raw, self.hints[name], name), name
            )
        for name in self.wire_params:
            if name not in wire:
                if self.required(name):
                    raise InvalidInput(f"{self.name} needs the argument {name!r}.")
                if self.signature.parameters[name].default is inspect.Parameter.empty:
                    arguments[name] = None  # optional in type, positional in the method
                continue
            value = wire[name]
            if query_strings:
                value = _from_query(value, self.hints[name], name)
            arguments[name] = decoder_for(self.hints[name])(value, name)
        return arguments

    def required_role(self, arguments: Mapping[str, Any]) -> Role:
        """The least role allowed for a call with ``arguments``."""
        return max(self.role, self.escalate(arguments)) if self.escalate else self.role

    def openapi(self, components: dict[str, Any]) -> dict[str, Any]:
        """The OpenAPI operation (parameters, request body, responses) of this endpoint."""
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": json_schema(self.hints[name], components),
            }
            for name in self.path_params
        ]
        operation: dict[str, Any] = {
            "operationId": self.operation_id,
            "summary": self.summary,
            "description": inspect.getdoc(self.function) or "",
            "x-steward-role": self.role.label,
            "security": [{"bearer": []}, {"session": []}],
        }
        if self.in_query:
            parameters += [
                {
                    "name": name,
                    "in": "query",
                    "required": self.required(name),
                    "schema": json_schema(_without_none(self.hints[name]), components),
                }
                for name in self.wire_params
            ]
        elif self.wire_params:
            hints = {name: self.hints[name] for name in self.wire_params}
            required = [name for name in self.wire_params if self.required(name)]
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": object_schema(hints, required, components)}
                },
            }
        operation["parameters"] = parameters
        operation["responses"] = {
            str(self.status): {
                "description": "success",
                "content": {
                    "application/json": {"schema": json_schema(self.return_hint, components)}
                },
            },
            **ERROR_RESPONSES,
        }
        return operation


def _without_none(hint: Any) -> Any:
    if is_optional(hint):
        rest = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else hint
    return hint


def _scalar_kinds(hint: Any) -> list[Any]:
    """The non-None types a hint admits."""
    args = typing.get_args(hint) if typing.get_origin(hint) in (Union, types.UnionType) else ()
    return [arg for arg in args if arg is not type(None)] or [hint]


def _is_scalar(hint: Any) -> bool:
    """Whether a hint admits only strings, numbers, booleans (or str enums) and None."""
    return all(
        isinstance(kind, type) and issubclass(kind, tuple(_QUERY_SCALARS))
        for kind in _scalar_kinds(hint)
    )


def _from_query(raw: Any, hint: Any, name: str) -> Any:
    """A path or query-string value as the JSON value its declared type expects.

    A number is read as one when the type admits numbers (``int | str``: ``"3"``
    is the version 3, ``"champion"`` an alias).
    """
    kinds = _scalar_kinds(hint)
    if int in kinds and raw.lstrip("-").isdigit():
        return int(raw)
    if any(issubclass(kind, str) for kind in kinds):
        return raw
    base = kinds[0]
    if base is bool:
        if raw in ("true", "false"):
            return raw == "true"
        raise InvalidInput(f"{name}: expected true or false, got {raw[:60]!r}.")
    try:
        return int(raw) if base is int else float(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name}: expected a number, got {raw[:60]!r}.") from exc


ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    "required": ["error", "message"],
}
ERROR_RESPONSES = {
    str(status): {
        "description": description,
        "content": {"application/json": {"schema": ERROR_SCHEMA}},
    }
    for status, description in (
        (400, "invalid input"),
        (401, "no valid token"),
        (403, "the caller's role does not allow this"),
        (404, "not found"),
        (409, "conflicts with what is stored"),
        (413, "request too large"),
        (429, "too many attempts"),
    )
}


@dataclass(frozen=True)
class Repository:
    """The endpoints of one repository of the metadata store."""

    name: str
    endpoints: tuple[Endpoint, ...]

    def __post_init__(self) -> None:
        for endpoint in self.endpoints:
            endpoint.validate_declaration()
