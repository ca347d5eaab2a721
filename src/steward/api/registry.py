"""The model registry over HTTP, with its review rules applied on the server.

The review rules (``steward.models.review``) are not left to the client: the
server decides the status a version needs for an alias and which aliases are
protected, whatever a request says, and the role follows the action:
approvers approve or reject and move ``production``; editors do the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from steward.api.endpoint import Endpoint, Repository
from steward.auth import Role
from steward.errors import InvalidInput
from steward.models.review import (
    PRODUCTION,
    PROTECTED_ALIASES,
    alias_requirement,
    check_alias_removal,
    check_status_reason,
)
from steward.store.registry import RegistryStore, VersionStatus, parse_status

_REVIEWED = (VersionStatus.APPROVED, VersionStatus.REJECTED)


def _alias_role(arguments: Mapping[str, Any]) -> Role:
    return Role.APPROVER if arguments["alias"] == PRODUCTION else Role.EDITOR


def _status(arguments: Mapping[str, Any]) -> VersionStatus:
    return parse_status(arguments["status"])


def _status_role(arguments: Mapping[str, Any]) -> Role:
    return Role.APPROVER if _status(arguments) in _REVIEWED else Role.EDITOR


def _check_alias(arguments: dict[str, Any]) -> None:
    arguments["required_status"] = alias_requirement(arguments["alias"], arguments.get("reason"))


def _check_rollback(arguments: dict[str, Any]) -> None:
    if not (arguments.get("reason") or "").strip():
        raise InvalidInput("a rollback needs a reason; it is kept in the audit trail.")
    _check_alias(arguments)


def _check_alias_removal(arguments: dict[str, Any]) -> None:
    check_alias_removal(arguments["alias"], arguments.get("reason"))


def _check_status(arguments: dict[str, Any]) -> None:
    check_status_reason(_status(arguments), arguments.get("reason"))
    arguments["protected_aliases"] = PROTECTED_ALIASES


_registry = partial(Endpoint, "registry")
_read, _write = Role.VIEWER, Role.EDITOR
_version = "/models/{name}/versions/{version}"

REGISTRY = Repository(
    "registry",
    (
        _registry(RegistryStore.create_model, "POST", "/models", _write, status=201),
        _registry(RegistryStore.list_models, "GET", "/models", _read),
        _registry(RegistryStore.get_model, "GET", "/models/{name}", _read),
        _registry(RegistryStore.update_model, "PATCH", "/models/{name}", _write),
        _registry(
            RegistryStore.create_version, "POST", "/models/{name}/versions", _write, status=201
        ),
        _registry(RegistryStore.list_versions, "GET", "/models/{name}/versions", _read),
        _registry(RegistryStore.get_version, "GET", _version, _read),
        _registry(RegistryStore.set_card_fields, "PATCH", _version + "/card", _write),
        _registry(
            RegistryStore.set_status,
            "POST",
            _version + "/status",
            _write,
            _check_status,
            server_decides=("protected_aliases",),
            escalate=_status_role,
        ),
        _registry(RegistryStore.status_history, "GET", _version + "/status-history", _read),
        _registry(RegistryStore.resolve_alias, "GET", "/models/{name}/aliases/{alias}", _read),
        _registry(
            RegistryStore.set_alias,
            "PUT",
            "/models/{name}/aliases/{alias}",
            _write,
            _check_alias,
            server_decides=("required_status",),
            escalate=_alias_role,
        ),
        _registry(
            RegistryStore.delete_alias,
            "DELETE",
            "/models/{name}/aliases/{alias}",
            _write,
            _check_alias_removal,
            escalate=_alias_role,
        ),
        _registry(
            RegistryStore.rollback_alias,
            "POST",
            "/models/{name}/aliases/{alias}/rollback",
            _write,
            _check_rollback,
            server_decides=("required_status",),
            escalate=_alias_role,
        ),
        _registry(RegistryStore.alias_history, "GET", "/models/{name}/alias-history", _read),
        _registry(RegistryStore.search_versions, "POST", "/model-versions/search", _read),
    ),
)
