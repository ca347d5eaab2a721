"""The model registry SDK: registered models, versions, aliases, review status.

Every change records its actor (the workspace's user unless ``actor`` is
given, which the server will pass once it checks roles). Rules enforced here:
the ``production`` alias needs a reason and goes only to an approved
version; a version holding ``production`` cannot be rejected or archived.
Approving a version and pointing an alias at it first re-read its stored
content: a version whose blobs no longer verify is refused, nothing changed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from steward.errors import InvalidInput, NotFound
from steward.models.review import (
    PROTECTED_ALIASES,
    alias_requirement,
    check_alias_removal,
    check_status_reason,
)
from steward.models.uri import parse_model_uri
from steward.store.registry import (
    AliasEvent,
    ModelVersion,
    RegisteredModel,
    StatusEvent,
    VersionStatus,
)

if TYPE_CHECKING:
    from steward.workspace import Workspace

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,249}$")


def _workspace() -> Workspace:
    from steward.workspace import current_workspace

    return current_workspace()


def _check(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value) or value.isdigit():
        raise InvalidInput(
            f"{kind} {value!r} is invalid: use 1-250 letters, digits, '_', '-' and '.', "
            "starting with a letter or digit (and not all digits)."
        )
    return value


def _actor(workspace: Workspace, actor: str | None) -> str:
    return actor or workspace.actor


def _register(
    workspace: Workspace,
    name: str,
    run_id: str,
    artifact_path: str,
    metadata_digest: str,
    flavor: str,
    description: str | None = None,
    actor: str | None = None,
) -> ModelVersion:
    run = workspace.tracking.get_run(run_id)
    return workspace.store.registry.create_version(
        _check("model name", name),
        _actor(workspace, actor),
        run_id=run_id,
        artifact_path=artifact_path,
        metadata_digest=metadata_digest,
        flavor=flavor,
        metrics=run.metrics,
        description=description,
    )


def register(
    source: str, name: str, *, description: str | None = None, actor: str | None = None
) -> ModelVersion:
    """Register a logged model (``runs:/<run_id>/<path>``) as the next version of ``name``.

    The run's latest metrics are copied onto the version.

    Raises:
        NotFound: the run holds no model at that path.
    """
    from steward.models.package import METADATA_FILE, ModelMetadata
    from steward.models.stored import run_model_files

    parsed = parse_model_uri(source)
    if parsed.run_id is None or parsed.path is None:
        raise InvalidInput(f"register needs a 'runs:/RUN_ID/PATH' source, got {source!r}.")
    workspace = _workspace()
    digest = run_model_files(workspace, parsed.run_id, parsed.path).get(METADATA_FILE)
    if digest is None:
        raise NotFound(f"run {parsed.run_id} holds no model at {parsed.path!r}.")
    metadata = ModelMetadata.from_json(workspace.blobs.get_bytes(digest))
    return _register(
        workspace, name, parsed.run_id, parsed.path, digest, metadata.flavor, description, actor
    )


def create_model(
    name: str,
    *,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    actor: str | None = None,
) -> RegisteredModel:
    """Register a model name before any version exists."""
    workspace = _workspace()
    return workspace.store.registry.create_model(
        _check("model name", name), _actor(workspace, actor), description, tags
    )


def update_model(
    name: str, *, description: str | None = None, tags: dict[str, str] | None = None
) -> RegisteredModel:
    """Change a registered model's description or tags."""
    workspace = _workspace()
    return workspace.store.registry.update_model(name, description, tags, actor=workspace.actor)


def get_model(name: str) -> RegisteredModel:
    """A registered model with its tags, latest version and aliases."""
    return _workspace().store.registry.get_model(name)


def list_models(name_like: str | None = None) -> list[RegisteredModel]:
    """Registered models, optionally those whose name contains ``name_like``."""
    return _workspace().store.registry.list_models(name_like)


def get_version(name: str, version: int | str) -> ModelVersion:
    """One version of a registered model."""
    return _workspace().store.registry.get_version(name, int(version))


def list_versions(name: str, status: str | None = None) -> list[ModelVersion]:
    """The versions of a model, newest first."""
    return _workspace().store.registry.list_versions(name, status)


def search(
    name: str | None = None,
    *,
    status: str | None = None,
    flavor: str | None = None,
    run_id: str | None = None,
    max_results: int = 1000,
) -> list[ModelVersion]:
    """Versions across models whose name contains ``name`` and that match the rest."""
    return _workspace().store.registry.search_versions(name, status, flavor, run_id, max_results)


def resolve(uri: str) -> ModelVersion:
    """The version a ``models:/name@alias`` or ``models:/name/3`` URI points at."""
    parsed = parse_model_uri(uri, allow_short=True)
    if parsed.name is None:
        raise InvalidInput(f"{uri!r} names a run artifact, not a registered model version.")
    registry = _workspace().store.registry
    if parsed.alias is not None:
        return registry.resolve_alias(parsed.name, parsed.alias)
    assert parsed.version is not None
    return registry.get_version(parsed.name, parsed.version)


def verified(workspace: Workspace, name: str, version: int | str, action: str) -> None:
    """Re-read the stored content of a version before it is promoted.

    Through a team server the server re-reads its own blob store as part of the
    change (``steward.api.registry``); a client's copy could not vouch for it.

    Raises:
        IntegrityError: a blob of the version no longer verifies (named in the message).
    """
    from steward.models.stored import verify_stored

    if workspace.settings.remote:
        return
    verify_stored(workspace, workspace.store.registry.get_version(name, int(version)), action)


def set_alias(
    name: str,
    alias: str,
    version: int | str,
    reason: str | None = None,
    *,
    actor: str | None = None,
) -> AliasEvent:
    """Point ``alias`` at ``version`` (create or move it); the move is recorded.

    Raises:
        NotFound: no such model or version.
        InvalidInput: ``production`` without a reason.
        Conflict: ``production`` on a version that is not approved.
        IntegrityError: the version's stored content no longer verifies (nothing changed).
    """
    _check("alias", alias)
    required = alias_requirement(alias, reason)
    workspace = _workspace()
    verified(workspace, name, version, f"point alias {alias!r} at")
    return workspace.store.registry.set_alias(
        name, alias, int(version), _actor(workspace, actor), reason, required
    )


def delete_alias(
    name: str, alias: str, reason: str | None = None, *, actor: str | None = None
) -> AliasEvent:
    """Remove an alias; the removal is recorded.

    Raises:
        InvalidInput: removing ``production`` without a reason.
    """
    check_alias_removal(alias, reason)
    workspace = _workspace()
    return workspace.store.registry.delete_alias(name, alias, _actor(workspace, actor), reason)


def alias_history(name: str, alias: str | None = None) -> list[AliasEvent]:
    """Every move of a model's aliases (or of one alias), oldest first."""
    return _workspace().store.registry.alias_history(name, alias)


def _set_status(
    name: str, version: int | str, status: VersionStatus, reason: str | None, actor: str | None
) -> ModelVersion:
    workspace = _workspace()
    return workspace.store.registry.set_status(
        name, int(version), status, _actor(workspace, actor), reason, PROTECTED_ALIASES
    )


def approve(
    name: str, version: int | str, reason: str, *, actor: str | None = None
) -> ModelVersion:
    """Mark a version approved (it may then take the ``production`` alias).

    Raises:
        InvalidInput: no reason.
        IntegrityError: the version's stored content no longer verifies (nothing changed).
    """
    check_status_reason(VersionStatus.APPROVED, reason)
    verified(_workspace(), name, version, "approve")
    return _set_status(name, version, VersionStatus.APPROVED, reason, actor)


def reject(name: str, version: int | str, reason: str, *, actor: str | None = None) -> ModelVersion:
    """Mark a version rejected."""
    check_status_reason(VersionStatus.REJECTED, reason)
    return _set_status(name, version, VersionStatus.REJECTED, reason, actor)


def archive(
    name: str, version: int | str, reason: str | None = None, *, actor: str | None = None
) -> ModelVersion:
    """Mark a version archived."""
    return _set_status(name, version, VersionStatus.ARCHIVED, reason, actor)


def status_history(name: str, version: int | str) -> list[StatusEvent]:
    """Every status change of a version, oldest first."""
    return _workspace().store.registry.status_history(name, int(version))


def set_card_fields(
    name: str,
    version: int | str,
    *,
    intended_use: str | None = None,
    limitations: str | None = None,
    ethical_considerations: str | None = None,
    **other: str,
) -> ModelVersion:
    """Fill in the people-written fields of a version's model card."""
    fields = {
        "intended_use": intended_use,
        "limitations": limitations,
        "ethical_considerations": ethical_considerations,
        **other,
    }
    given = {key: value for key, value in fields.items() if value is not None}
    workspace = _workspace()
    return workspace.store.registry.set_card_fields(
        name, int(version), given, actor=workspace.actor
    )
