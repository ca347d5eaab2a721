"""The model registry over HTTP, with its review rules applied on the server.

The review rules (``steward.models.review``) are not left to the client: the
server decides the status a version needs for an alias and which aliases are
protected, whatever a request says, and the role follows the action:
approvers approve or reject and move ``production``; editors do the rest.
Approving a version or pointing an alias at it first re-reads its blobs from
the server's own blob store (``verify_stored``), and a client about to bundle
a version asks the server to do the same (``verify_version``): a client
cannot vouch for content it holds itself.
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
from steward.store.registry import ModelVersion, RegistryStore, VersionStatus, parse_status
from steward.workspace import Workspace  # resolved at run time: a declared signature names it

_REVIEWED = (VersionStatus.APPROVED, VersionStatus.REJECTED)


def _alias_role(arguments: Mapping[str, Any]) -> Role:
    return Role.APPROVER if arguments["alias"] == PRODUCTION else Role.EDITOR


def _status(arguments: Mapping[str, Any]) -> VersionStatus:
    return parse_status(arguments["status"])


def _status_role(arguments: Mapping[str, Any]) -> Role:
    return Role.APPROVER if _status(arguments) in _REVIEWED else Role.EDITOR


def _check_alias(arguments: dict[str, Any]) -> None:
    arguments["required_status"] = alias_requirement(arguments["alias"], arguments.get("reason"))


def _check_alias_removal(arguments: dict[str, Any]) -> None:
    check_alias_removal(arguments["alias"], arguments.get("reason"))


def _check_status(arguments: dict[str, Any]) -> None:
    check_status_reason(_status(arguments), arguments.get("reason"))
    arguments["protected_aliases"] = PROTECTED_ALIASES


def _verify_before_approval(workspace: Workspace, arguments: Mapping[str, Any]) -> None:
    if _status(arguments) is VersionStatus.APPROVED:
        _reverify(workspace, arguments["name"], arguments["version"], "approve")


def _verify_before_alias(workspace: Workspace, arguments: Mapping[str, Any]) -> None:
    action = f"point alias {arguments['alias']!r} at"
    _reverify(workspace, arguments["name"], arguments["version"], action)


def _reverify(workspace: Workspace, name: str, version: int, action: str) -> ModelVersion:
    from steward.models.stored import verify_stored

    found = workspace.store.registry.get_version(name, version)
    verify_stored(workspace, found, action)
    return found


VERIFIED_ACTIONS = ("bundle", "serve", "load")
"""What a client may say it is about to do with a version it asks the server to verify."""


def verify_version(workspace: Workspace, name: str, version: int, action: str) -> ModelVersion:
    """Re-read every blob of a version from the server's store and check it against its seal.

    Args:
        workspace: the server's workspace (filled by the server).
        name: the registered model.
        version: its version number.
        action: what the caller is about to do (``bundle``…), for the message.

    Returns:
        The version, verified.

    Raises:
        IntegrityError: a blob is gone or changed; the message names the model file.
    """
    if action not in VERIFIED_ACTIONS:
        raise InvalidInput(f"action must be one of {VERIFIED_ACTIONS}.")
    return _reverify(workspace, name, version, action)


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
            precondition=_verify_before_approval,
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
            precondition=_verify_before_alias,
        ),
        _registry(
            RegistryStore.delete_alias,
            "DELETE",
            "/models/{name}/aliases/{alias}",
            _write,
            _check_alias_removal,
            escalate=_alias_role,
        ),
        _registry(RegistryStore.alias_history, "GET", "/models/{name}/alias-history", _read),
        _registry(RegistryStore.search_versions, "POST", "/model-versions/search", _read),
        _registry(verify_version, "POST", _version + "/verify", _read, on_workspace=True),
    ),
)
