"""The model registry over HTTP, with its review rules applied on the server.

The review rules (``steward.models.review``) are not left to the client: the
server decides the status a version needs for an alias and which aliases are
protected, whatever a request says, and the role follows the action:
approvers approve or reject and move ``production``; editors do the rest.
Approving a version or pointing an alias at it first re-reads its blobs from
the server's own blob store (``steward.server.services``), and a client about
to bundle a version asks the server to do the same (``verify_version``): a
client cannot vouch for content it holds itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, Protocol

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


VERIFIED_ACTIONS = ("bundle", "serve", "load")
"""What a client may say it is about to do with a version it asks the server to verify."""


def _check_action(arguments: dict[str, Any]) -> None:
    if arguments["action"] not in VERIFIED_ACTIONS:
        raise InvalidInput(f"action must be one of {VERIFIED_ACTIONS}.")


class ModelContent(Protocol):
    """What the server answers about a version's stored content (``steward.server.services``)."""

    def verify_version(self, name: str, version: int, action: str) -> ModelVersion:
        """Re-read every blob of a version from the server's store and check it against its seal.

        Args:
            name: the registered model.
            version: its version number.
            action: what the caller is about to do (``bundle``…), for the message.

        Returns:
            The version, verified.

        Raises:
            UnverifiedContent: a blob is gone or changed; the message names the model file.
        """
        ...


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
            server_check="reverify_before_status",
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
            server_check="reverify_before_alias",
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
            server_decides=("required_status", "to_version"),
            escalate=_alias_role,
            server_check="reverify_before_rollback",
        ),
        _registry(
            RegistryStore.rollback_target,
            "GET",
            "/models/{name}/aliases/{alias}/rollback-target",
            _read,
        ),
        _registry(RegistryStore.alias_history, "GET", "/models/{name}/alias-history", _read),
        _registry(RegistryStore.search_versions, "POST", "/model-versions/search", _read),
        _registry(
            ModelContent.verify_version,
            "POST",
            _version + "/verify",
            _read,
            _check_action,
            on_server=True,
        ),
    ),
)
