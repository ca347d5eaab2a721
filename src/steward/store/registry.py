"""SQL for the model registry: registered models, versions, aliases and their audit.

Every change records who made it and when in the audit log, in the same
transaction; alias moves and status changes are read back from there. Callers
get the plain records defined here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from steward.errors import Conflict, InvalidInput, NotFound
from steward.store import schema as t
from steward.store.audit import AuditEvent, AuditStore, append_event
from steward.store.engine import read_transaction, run_with_retry, write_transaction
from steward.store.records import ms_to_datetime, now_ms
from steward.store.validation import check_name


class VersionStatus(StrEnum):
    """Where a model version stands in review."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ARCHIVED = "archived"


def parse_status(value: VersionStatus | str) -> VersionStatus:
    """``value`` as a status, refusing unknown ones with a clear error (not a ValueError)."""
    try:
        return VersionStatus(value)
    except ValueError:
        known = ", ".join(status.value for status in VersionStatus)
        raise InvalidInput(f"unknown version status {value!r}; use one of {known}.") from None


@dataclass(frozen=True)
class RegisteredModel:
    """A named model whose versions are tracked in the registry."""

    name: str
    description: str | None
    tags: dict[str, str]
    created_at: datetime
    created_by: str
    updated_at: datetime
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "name": self.name,
            "description": self.description,
            "tags": dict(self.tags),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "updated_at": self.updated_at.isoformat(),
            "latest_version": self.latest_version,
            "aliases": dict(self.aliases),
        }


@dataclass(frozen=True)
class ModelVersion:
    """One version of a registered model: a pointer to a logged model and its review state."""

    name: str
    version: int
    run_id: str | None
    artifact_path: str
    metadata_digest: str
    flavor: str
    status: VersionStatus
    description: str | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    metrics: dict[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    card_fields: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        """The ``models:/name/version`` URI of this version."""
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "artifact_path": self.artifact_path,
            "metadata_digest": self.metadata_digest,
            "flavor": self.flavor,
            "status": self.status.value,
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "updated_at": self.updated_at.isoformat(),
            "metrics": dict(self.metrics),
            "aliases": list(self.aliases),
            "card_fields": dict(self.card_fields),
        }


@dataclass(frozen=True)
class AliasEvent:
    """One move of an alias: who, when, from which version to which, and why."""

    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    at: datetime
    reason: str | None


@dataclass(frozen=True)
class StatusEvent:
    """One change of a version's status."""

    model: str
    version: int
    from_status: str | None
    to_status: str
    actor: str
    at: datetime
    reason: str | None


def _version_number(state: str | None) -> int | None:
    return None if state is None else int(state)


def _alias_event(name: str, event: AuditEvent) -> AliasEvent:
    alias = event.subject.rpartition("@")[2]
    return AliasEvent(
        name,
        alias,
        _version_number(event.from_state),
        _version_number(event.to_state),
        event.actor,
        event.at,
        event.reason,
    )


def _at(value: int) -> datetime:
    result = ms_to_datetime(value)
    assert result is not None
    return result


def _aliased_version(connection: Connection, model_pk: int, alias: str) -> int | None:
    """The version number ``alias`` points at, or ``None``."""
    return connection.execute(
        select(t.model_versions.c.version)
        .join(t.model_aliases, t.model_aliases.c.version_pk == t.model_versions.c.pk)
        .where(t.model_aliases.c.model_pk == model_pk, t.model_aliases.c.alias == alias)
    ).scalar()


def _earlier_version(connection: Connection, subject: str, current: int) -> int | None:
    """The version an alias pointed at before ``current``: its moves replayed as a stack
    (a move pushes, a rollback pops, a deletion empties it)."""
    events = connection.execute(
        select(t.audit_events.c.action, t.audit_events.c.to_state)
        .where(t.audit_events.c.subject == subject)
        .order_by(t.audit_events.c.seq)
    )
    stack: list[int] = []
    for action, to_state in events:
        if action == "model.alias.set":
            stack.append(int(to_state))
        elif action == "model.alias.rollback" and stack:
            stack.pop()
        elif action == "model.alias.delete":
            stack.clear()
    while stack and stack[-1] == current:
        stack.pop()
    return stack[-1] if stack else None


class RegistryStore:
    """Registered models, versions and aliases in the metadata store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- helpers ------------------------------------------------------------------

    def _model_pk(self, connection: Connection, name: str, *, lock: bool = False) -> int:
        query = select(t.registered_models.c.pk).where(t.registered_models.c.name == name)
        if lock and connection.dialect.name == "postgresql":
            query = query.with_for_update()
        pk = connection.execute(query).scalar()
        if pk is None:
            raise NotFound(
                f"no registered model named {name!r}; list them with 'steward models list'."
            )
        return int(pk)

    def _version_row(
        self, connection: Connection, name: str, version: int, *, lock: bool = False
    ) -> Any:
        """A version's row; ``lock`` holds its model's row until the transaction ends, so
        changes of aliases and status on one model (from several server processes on
        PostgreSQL) happen one after the other: none reads a state another is changing."""
        model_pk = self._model_pk(connection, name, lock=lock)
        row = connection.execute(
            select(t.model_versions).where(
                t.model_versions.c.model_pk == model_pk, t.model_versions.c.version == version
            )
        ).first()
        if row is None:
            raise NotFound(
                f"model {name!r} has no version {version}; "
                f"list them with 'steward models versions {name}'."
            )
        return row

    def _versions(self, connection: Connection, name: str, rows: list[Any]) -> list[ModelVersion]:
        if not rows:
            return []
        pks = [row.pk for row in rows]
        metrics: dict[int, dict[str, float]] = {pk: {} for pk in pks}
        for metric in connection.execute(
            select(t.model_version_metrics).where(t.model_version_metrics.c.version_pk.in_(pks))
        ):
            value = math.nan if metric.value is None else metric.value
            metrics[metric.version_pk][metric.key] = value
        aliases: dict[int, list[str]] = {pk: [] for pk in pks}
        for alias in connection.execute(
            select(t.model_aliases.c.alias, t.model_aliases.c.version_pk)
            .where(t.model_aliases.c.version_pk.in_(pks))
            .order_by(t.model_aliases.c.alias)
        ):
            aliases[alias.version_pk].append(alias.alias)
        run_ids = dict(
            connection.execute(
                select(t.runs.c.pk, t.runs.c.id).where(
                    t.runs.c.pk.in_([row.run_pk for row in rows if row.run_pk is not None])
                )
            ).all()
        )
        return [
            ModelVersion(
                name=name,
                version=row.version,
                run_id=run_ids.get(row.run_pk),
                artifact_path=row.artifact_path,
                metadata_digest=row.metadata_digest,
                flavor=row.flavor,
                status=VersionStatus(row.status),
                description=row.description,
                created_at=_at(row.created_at),
                created_by=row.created_by,
                updated_at=_at(row.updated_at),
                metrics=metrics[row.pk],
                aliases=tuple(aliases[row.pk]),
                card_fields=json.loads(row.card_fields) if row.card_fields else {},
            )
            for row in rows
        ]

    # -- registered models ------------------------------------------------------------

    def _ensure_model(
        self,
        connection: Connection,
        name: str,
        actor: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> int:
        existing = connection.execute(
            select(t.registered_models.c.pk).where(t.registered_models.c.name == name)
        ).scalar()
        if existing is not None:
            return int(existing)
        now = now_ms()
        pk = connection.execute(
            insert(t.registered_models).values(
                name=name,
                description=description,
                created_at=now,
                created_by=actor,
                updated_at=now,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        for key, value in (tags or {}).items():
            connection.execute(
                insert(t.registered_model_tags).values(
                    model_pk=pk, key=check_name("tag", key), value=str(value)
                )
            )
        details = {"description": description} if description else None
        append_event(connection, actor, "model.create", f"model:{name}", details=details)
        return int(pk)

    def create_model(
        self,
        name: str,
        actor: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        """Register a model name.

        Raises:
            Conflict: a model with this name is already registered.
        """
        check_name("model", name)

        def create() -> None:
            with write_transaction(self.engine) as connection:
                if connection.execute(
                    select(t.registered_models.c.pk).where(t.registered_models.c.name == name)
                ).first():
                    raise Conflict(f"model {name!r} is already registered.")
                self._ensure_model(connection, name, actor, description, tags)

        run_with_retry(create)
        return self.get_model(name)

    def update_model(
        self,
        name: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        *,
        actor: str,
    ) -> RegisteredModel:
        """Change a registered model's description and/or set tags."""

        def change() -> None:
            with write_transaction(self.engine) as connection:
                pk = self._model_pk(connection, name)
                changes: dict[str, Any] = {"tags": dict(tags or {})}
                if description is not None:
                    changes["description"] = description
                append_event(connection, actor, "model.update", f"model:{name}", details=changes)
                values: dict[str, Any] = {"updated_at": now_ms()}
                if description is not None:
                    values["description"] = description
                connection.execute(
                    update(t.registered_models)
                    .where(t.registered_models.c.pk == pk)
                    .values(**values)
                )
                for key, value in (tags or {}).items():
                    connection.execute(
                        delete(t.registered_model_tags).where(
                            t.registered_model_tags.c.model_pk == pk,
                            t.registered_model_tags.c.key == key,
                        )
                    )
                    connection.execute(
                        insert(t.registered_model_tags).values(
                            model_pk=pk, key=check_name("tag", key), value=str(value)
                        )
                    )

        run_with_retry(change)
        return self.get_model(name)

    def _models(self, connection: Connection, rows: list[Any]) -> list[RegisteredModel]:
        pks = [row.pk for row in rows]
        if not pks:
            return []
        tags: dict[int, dict[str, str]] = {pk: {} for pk in pks}
        for tag in connection.execute(
            select(t.registered_model_tags).where(t.registered_model_tags.c.model_pk.in_(pks))
        ):
            tags[tag.model_pk][tag.key] = tag.value
        latest = dict(
            connection.execute(
                select(t.model_versions.c.model_pk, func.max(t.model_versions.c.version))
                .where(t.model_versions.c.model_pk.in_(pks))
                .group_by(t.model_versions.c.model_pk)
            ).all()
        )
        aliases: dict[int, dict[str, int]] = {pk: {} for pk in pks}
        for alias in connection.execute(
            select(t.model_aliases.c.model_pk, t.model_aliases.c.alias, t.model_versions.c.version)
            .join(t.model_versions, t.model_versions.c.pk == t.model_aliases.c.version_pk)
            .where(t.model_aliases.c.model_pk.in_(pks))
            .order_by(t.model_aliases.c.alias)
        ):
            aliases[alias.model_pk][alias.alias] = alias.version
        return [
            RegisteredModel(
                name=row.name,
                description=row.description,
                tags=tags[row.pk],
                created_at=_at(row.created_at),
                created_by=row.created_by,
                updated_at=_at(row.updated_at),
                latest_version=latest.get(row.pk),
                aliases=aliases[row.pk],
            )
            for row in rows
        ]

    def get_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags, latest version and aliases.

        Raises:
            NotFound: no model of that name.
        """
        with read_transaction(self.engine) as connection:
            self._model_pk(connection, name)
            rows = list(
                connection.execute(
                    select(t.registered_models).where(t.registered_models.c.name == name)
                )
            )
            return self._models(connection, rows)[0]

    def list_models(self, name_like: str | None = None) -> list[RegisteredModel]:
        """Registered models by name, optionally those whose name contains ``name_like``."""
        query = select(t.registered_models).order_by(t.registered_models.c.name)
        if name_like:
            query = query.where(t.registered_models.c.name.contains(name_like, autoescape=True))
        with read_transaction(self.engine) as connection:
            return self._models(connection, list(connection.execute(query)))

    # -- versions -------------------------------------------------------------------

    def create_version(
        self,
        name: str,
        actor: str,
        *,
        run_id: str | None,
        artifact_path: str,
        metadata_digest: str,
        flavor: str,
        metrics: Mapping[str, float] | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        """Add the next version of ``name`` (registering the name if new), status pending."""
        check_name("model", name)

        def create() -> int:
            with write_transaction(self.engine) as connection:
                model_pk = self._ensure_model(connection, name, actor)
                self._model_pk(connection, name, lock=True)
                run_pk = None
                if run_id is not None:
                    run_pk = connection.execute(
                        select(t.runs.c.pk).where(t.runs.c.id == run_id)
                    ).scalar()
                    if run_pk is None:
                        raise NotFound(f"no run with id {run_id!r}.")
                number = (
                    connection.execute(
                        select(func.max(t.model_versions.c.version)).where(
                            t.model_versions.c.model_pk == model_pk
                        )
                    ).scalar()
                    or 0
                ) + 1
                now = now_ms()
                version_pk = connection.execute(
                    insert(t.model_versions).values(
                        model_pk=model_pk,
                        version=number,
                        run_pk=run_pk,
                        artifact_path=artifact_path,
                        metadata_digest=metadata_digest,
                        flavor=flavor,
                        status=VersionStatus.PENDING.value,
                        description=description,
                        created_at=now,
                        created_by=actor,
                        updated_at=now,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                if metrics:
                    connection.execute(
                        insert(t.model_version_metrics),
                        [
                            {
                                "version_pk": version_pk,
                                "key": key,
                                "value": None if math.isnan(value) else value,
                            }
                            for key, value in metrics.items()
                        ],
                    )
                append_event(
                    connection,
                    actor,
                    "model.version.register",
                    f"model:{name}/{number}",
                    None,
                    VersionStatus.PENDING.value,
                    "registered",
                    {"run_id": run_id, "flavor": flavor, "metadata_digest": metadata_digest},
                    at_ms=now,
                )
                connection.execute(
                    update(t.registered_models)
                    .where(t.registered_models.c.pk == model_pk)
                    .values(updated_at=now)
                )
                return int(number)

        return self.get_version(name, run_with_retry(create))

    def get_version(self, name: str, version: int) -> ModelVersion:
        """One version of a registered model.

        Raises:
            NotFound: no such model or version.
        """
        with read_transaction(self.engine) as connection:
            row = self._version_row(connection, name, int(version))
            return self._versions(connection, name, [row])[0]

    def list_versions(
        self, name: str, status: VersionStatus | str | None = None
    ) -> list[ModelVersion]:
        """The versions of a model, newest first, optionally of one status."""
        with read_transaction(self.engine) as connection:
            model_pk = self._model_pk(connection, name)
            query = (
                select(t.model_versions)
                .where(t.model_versions.c.model_pk == model_pk)
                .order_by(t.model_versions.c.version.desc())
            )
            if status is not None:
                query = query.where(t.model_versions.c.status == parse_status(status).value)
            return self._versions(connection, name, list(connection.execute(query)))

    def resolve_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at.

        Raises:
            NotFound: no such model or alias.
        """
        with read_transaction(self.engine) as connection:
            model_pk = self._model_pk(connection, name)
            row = connection.execute(
                select(t.model_versions)
                .join(t.model_aliases, t.model_aliases.c.version_pk == t.model_versions.c.pk)
                .where(t.model_aliases.c.model_pk == model_pk, t.model_aliases.c.alias == alias)
            ).first()
            if row is None:
                known = connection.execute(
                    select(t.model_aliases.c.alias).where(t.model_aliases.c.model_pk == model_pk)
                ).scalars()
                raise NotFound(
                    f"model {name!r} has no alias {alias!r} "
                    f"(aliases: {', '.join(sorted(known)) or 'none'})."
                )
            return self._versions(connection, name, [row])[0]

    def set_status(
        self,
        name: str,
        version: int,
        status: VersionStatus | str,
        actor: str,
        reason: str | None = None,
        protected_aliases: tuple[str, ...] = (),
    ) -> ModelVersion:
        """Change a version's status and record the change.

        Raises:
            Conflict: leaving ``approved`` while the version holds one of
                ``protected_aliases`` (move the alias first).
        """
        target = parse_status(status)

        def change() -> None:
            with write_transaction(self.engine) as connection:
                row = self._version_row(connection, name, int(version), lock=True)
                if target is not VersionStatus.APPROVED and protected_aliases:
                    held = connection.execute(
                        select(t.model_aliases.c.alias).where(
                            t.model_aliases.c.version_pk == row.pk,
                            t.model_aliases.c.alias.in_(protected_aliases),
                        )
                    ).scalars()
                    held_list = sorted(held)
                    if held_list:
                        raise Conflict(
                            f"version {version} of {name!r} holds the alias "
                            f"{held_list[0]!r}; move it to an approved version before "
                            f"marking this one {target.value}."
                        )
                now = now_ms()
                connection.execute(
                    update(t.model_versions)
                    .where(t.model_versions.c.pk == row.pk)
                    .values(status=target.value, updated_at=now)
                )
                append_event(
                    connection,
                    actor,
                    "model.status",
                    f"model:{name}/{int(version)}",
                    row.status,
                    target.value,
                    reason,
                    at_ms=now,
                )

        run_with_retry(change)
        return self.get_version(name, version)

    def status_history(self, name: str, version: int) -> list[StatusEvent]:
        """Every status change of a version, oldest first."""
        self.get_version(name, version)
        events = AuditStore(self.engine).subject_events(
            [f"model:{name}/{int(version)}"], ("model.version.register", "model.status")
        )
        return [
            StatusEvent(name, int(version), e.from_state, str(e.to_state), e.actor, e.at, e.reason)
            for e in events
        ]

    def set_card_fields(
        self, name: str, version: int, fields: Mapping[str, str], *, actor: str
    ) -> ModelVersion:
        """Merge the people-written model card fields of a version."""

        def change() -> None:
            with write_transaction(self.engine) as connection:
                row = self._version_row(connection, name, int(version))
                append_event(
                    connection,
                    actor,
                    "model.card",
                    f"model:{name}/{int(version)}",
                    details={key: str(value) for key, value in fields.items()},
                )
                merged = json.loads(row.card_fields) if row.card_fields else {}
                merged.update({key: str(value) for key, value in fields.items()})
                connection.execute(
                    update(t.model_versions)
                    .where(t.model_versions.c.pk == row.pk)
                    .values(card_fields=json.dumps(merged, sort_keys=True), updated_at=now_ms())
                )

        run_with_retry(change)
        return self.get_version(name, version)

    # -- aliases ------------------------------------------------------------------

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        actor: str,
        reason: str | None = None,
        required_status: VersionStatus | None = None,
    ) -> AliasEvent:
        """Point ``alias`` at ``version`` (creating or moving it) and record the move.

        Raises:
            NotFound: no such model or version.
            Conflict: the version's status is not ``required_status``.
        """
        check_name("alias", alias)

        def move() -> AliasEvent:
            with write_transaction(self.engine) as connection:
                row = self._version_row(connection, name, int(version), lock=True)
                if required_status is not None and row.status != required_status.value:
                    raise Conflict(
                        f"version {version} of {name!r} is {row.status}; only an "
                        f"{required_status.value} version can take the alias {alias!r}. "
                        f"Approve it first: steward models approve {name}/{version} -m '…'"
                    )
                current = _aliased_version(connection, row.model_pk, alias)
                now = now_ms()
                if current is None:
                    connection.execute(
                        insert(t.model_aliases).values(
                            model_pk=row.model_pk,
                            alias=alias,
                            version_pk=row.pk,
                            updated_at=now,
                            updated_by=actor,
                        )
                    )
                else:
                    connection.execute(
                        update(t.model_aliases)
                        .where(
                            t.model_aliases.c.model_pk == row.model_pk,
                            t.model_aliases.c.alias == alias,
                        )
                        .values(version_pk=row.pk, updated_at=now, updated_by=actor)
                    )
                append_event(
                    connection,
                    actor,
                    "model.alias.set",
                    f"model:{name}@{alias}",
                    current,
                    int(version),
                    reason,
                    at_ms=now,
                )
                return AliasEvent(name, alias, current, int(version), actor, _at(now), reason)

        return run_with_retry(move)

    def delete_alias(
        self, name: str, alias: str, actor: str, reason: str | None = None
    ) -> AliasEvent:
        """Remove an alias and record it.

        Raises:
            NotFound: no such model or alias.
        """

        def remove() -> AliasEvent:
            with write_transaction(self.engine) as connection:
                model_pk = self._model_pk(connection, name, lock=True)
                current = _aliased_version(connection, model_pk, alias)
                if current is None:
                    raise NotFound(f"model {name!r} has no alias {alias!r}.")
                connection.execute(
                    delete(t.model_aliases).where(
                        t.model_aliases.c.model_pk == model_pk, t.model_aliases.c.alias == alias
                    )
                )
                now = now_ms()
                append_event(
                    connection,
                    actor,
                    "model.alias.delete",
                    f"model:{name}@{alias}",
                    current,
                    None,
                    reason,
                    at_ms=now,
                )
                return AliasEvent(name, alias, current, None, actor, _at(now), reason)

        return run_with_retry(remove)

    def rollback_target(self, name: str, alias: str) -> int:
        """The version a rollback of ``alias`` would move it to (nothing is changed).

        Raises:
            NotFound: no such model or alias.
            Conflict: the alias has no earlier version.
        """
        with read_transaction(self.engine) as connection:
            model_pk = self._model_pk(connection, name)
            return self._rollback_versions(connection, model_pk, name, alias)[1]

    @staticmethod
    def _rollback_versions(
        connection: Connection, model_pk: int, name: str, alias: str
    ) -> tuple[int, int]:
        """The version ``alias`` points at and the one a rollback moves it to."""
        current = _aliased_version(connection, model_pk, alias)
        if current is None:
            raise NotFound(f"model {name!r} has no alias {alias!r} to roll back.")
        previous = _earlier_version(connection, f"model:{name}@{alias}", int(current))
        if previous is None:
            raise Conflict(
                f"{name}@{alias} has no earlier version to roll back to "
                f"(it has pointed at v{current} only); see "
                f"'steward models alias {name}@{alias} --history'."
            )
        return int(current), previous

    def rollback_alias(
        self,
        name: str,
        alias: str,
        actor: str,
        reason: str,
        required_status: VersionStatus | None = None,
        to_version: int | None = None,
    ) -> AliasEvent:
        """Move ``alias`` back to the version it pointed at before its current one,
        recorded as ``model.alias.rollback``. Rollbacks undo moves in turn: a second
        rollback goes one step further back, not forth again.

        Args:
            to_version: the version the caller checked (``rollback_target``): if the
                alias moved meanwhile and the rollback would go elsewhere, nothing changes.

        Raises:
            NotFound: no such model or alias.
            Conflict: the alias has no earlier version, that version lacks
                ``required_status``, or it is not ``to_version``.
        """
        subject = f"model:{name}@{alias}"

        def move() -> AliasEvent:
            with write_transaction(self.engine) as connection:
                model_pk = self._model_pk(connection, name, lock=True)
                current, previous = self._rollback_versions(connection, model_pk, name, alias)
                if to_version is not None and previous != to_version:
                    raise Conflict(
                        f"{name}@{alias} moved while its rollback was checked (it would now "
                        f"go to v{previous}, not v{to_version}); run the rollback again."
                    )
                row = self._version_row(connection, name, previous)
                if required_status is not None and row.status != required_status.value:
                    raise Conflict(
                        f"cannot roll {name}@{alias} back to v{previous}: it is {row.status}, "
                        f"and {alias!r} needs an {required_status.value} version."
                    )
                now = now_ms()
                connection.execute(
                    update(t.model_aliases)
                    .where(t.model_aliases.c.model_pk == model_pk, t.model_aliases.c.alias == alias)
                    .values(version_pk=row.pk, updated_at=now, updated_by=actor)
                )
                append_event(
                    connection, actor, "model.alias.rollback", subject, current, previous, reason,
                    at_ms=now,
                )  # fmt: skip
                return AliasEvent(name, alias, int(current), previous, actor, _at(now), reason)

        return run_with_retry(move)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        """Every alias move of a model (or of one alias), oldest first."""
        with read_transaction(self.engine) as connection:
            self._model_pk(connection, name)
        subject = f"model:{name}@{alias}" if alias is not None else f"model:{name}@*"
        events = AuditStore(self.engine).events(
            action="model.alias.*", subject=subject, limit=None, newest_first=False
        )
        return [_alias_event(name, event) for event in events]

    def search_versions(
        self,
        name_like: str | None = None,
        status: VersionStatus | str | None = None,
        flavor: str | None = None,
        run_id: str | None = None,
        max_results: int = 1000,
    ) -> list[ModelVersion]:
        """Versions across models matching every given criterion, newest first."""
        if max_results < 1:
            raise InvalidInput("max_results must be at least 1.")
        query = (
            select(t.model_versions, t.registered_models.c.name.label("model_name"))
            .join(t.registered_models, t.registered_models.c.pk == t.model_versions.c.model_pk)
            .order_by(t.model_versions.c.created_at.desc(), t.model_versions.c.pk.desc())
            .limit(max_results)
        )
        if name_like:
            query = query.where(t.registered_models.c.name.contains(name_like, autoescape=True))
        if status is not None:
            query = query.where(t.model_versions.c.status == parse_status(status).value)
        if flavor is not None:
            query = query.where(t.model_versions.c.flavor == flavor)
        if run_id is not None:
            query = query.join(t.runs, t.runs.c.pk == t.model_versions.c.run_pk).where(
                t.runs.c.id == run_id
            )
        with read_transaction(self.engine) as connection:
            rows = list(connection.execute(query))
            result: list[ModelVersion] = []
            for row in rows:
                result.extend(self._versions(connection, row.model_name, [row]))
            return result
