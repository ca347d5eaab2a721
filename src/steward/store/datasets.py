"""SQL for datasets, their versions, aliases, tags and run lineage.

Everything that touches the dataset tables lives here; callers get plain
records back. A version row is written in one transaction after all of its
blobs are stored, so an interrupted add never leaves a half version visible.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from steward.errors import Conflict, InvalidInput, NotFound
from steward.store import schema as t
from steward.store.audit import append_event
from steward.store.engine import read_transaction, run_with_retry, write_transaction
from steward.store.records import datetime_to_ms, ms_to_datetime, now_ms
from steward.store.validation import check_name

DIRECTIONS = ("input", "output")
MANIFEST_KINDS = ("files", "table")
"""What a dataset version holds: files, or one table (``steward.data.manifest``)."""


@dataclass(frozen=True)
class Dataset:
    """A named series of dataset versions."""

    id: str
    name: str
    kind: str
    description: str | None
    created_at: datetime
    created_by: str
    version_count: int = 0
    latest_version: int | None = None


@dataclass(frozen=True)
class DatasetVersionRecord:
    """One stored version of a dataset, as the metadata store holds it."""

    id: str
    name: str
    version: int
    digest: str
    profile_digest: str | None
    size: int
    file_count: int
    row_count: int | None
    column_count: int | None
    description: str | None
    created_at: datetime
    created_by: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class NewDatasetVersion:
    """What a caller knows about a version before it is stored."""

    digest: str
    profile_digest: str | None
    size: int
    file_count: int
    row_count: int | None
    column_count: int | None


@dataclass(frozen=True)
class LineageEdge:
    """A run read ("input") or produced ("output") a dataset version."""

    run_id: str
    run_name: str
    dataset: str
    version: int
    version_id: str
    direction: str
    created_at: datetime


def _new_id() -> str:
    return uuid.uuid4().hex


def _check_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    return {check_name("tag", key): str(value) for key, value in (tags or {}).items()}


T = TypeVar("T")


_RACE_ATTEMPTS = 20


def _again_on_race(write: Callable[[], T]) -> T:
    """Run ``write`` again while another writer takes the number it chose first.

    On PostgreSQL, writers that read the same latest version number race for
    the next one; the unique constraint lets one win and the others choose
    again. Several server processes adding versions of one dataset at once
    can lose more than once, so a loser waits a moment (with jitter) and
    retries, up to ``_RACE_ATTEMPTS`` times.
    """
    for attempt in range(1, _RACE_ATTEMPTS):
        try:
            return write()
        except SQLIntegrityError:
            time.sleep(0.005 * attempt * (1 + random.random()))
    return write()


_VERSION_COLUMNS = (
    t.dataset_versions,
    t.datasets.c.name.label("dataset_name"),
)


class DatasetStore:
    """Datasets, versions, aliases and lineage in the metadata store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- reading ----------------------------------------------------------------

    def _record(self, connection: Connection, row: Any) -> DatasetVersionRecord:
        tags = dict(
            connection.execute(
                select(t.dataset_version_tags.c.key, t.dataset_version_tags.c.value).where(
                    t.dataset_version_tags.c.version_pk == row.pk
                )
            ).all()
        )
        aliases = connection.execute(
            select(t.dataset_aliases.c.alias)
            .where(t.dataset_aliases.c.version_pk == row.pk)
            .order_by(t.dataset_aliases.c.alias)
        ).scalars()
        return DatasetVersionRecord(
            id=row.id,
            name=row.dataset_name,
            version=row.version,
            digest=row.digest,
            profile_digest=row.profile_digest,
            size=row.size,
            file_count=row.file_count,
            row_count=row.row_count,
            column_count=row.column_count,
            description=row.description,
            created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
            created_by=row.created_by,
            tags={str(key): str(value) for key, value in tags.items()},
            aliases=tuple(aliases),
        )

    def _dataset_row(self, connection: Connection, name: str) -> Any:
        row = connection.execute(select(t.datasets).where(t.datasets.c.name == name)).first()
        if row is None:
            raise NotFound(f"no dataset named {name!r}; list them with 'steward data list'.")
        return row

    def get_dataset(self, name: str) -> Dataset:
        """Fetch a dataset by name.

        Raises:
            NotFound: no such dataset.
        """
        with read_transaction(self.engine) as connection:
            row = self._dataset_row(connection, name)
            count, latest = connection.execute(
                select(func.count(), func.max(t.dataset_versions.c.version)).where(
                    t.dataset_versions.c.dataset_pk == row.pk
                )
            ).one()
        return self._dataset(row, count, latest)

    def _dataset(self, row: Any, count: int, latest: int | None) -> Dataset:
        return Dataset(
            id=row.id,
            name=row.name,
            kind=row.kind,
            description=row.description,
            created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
            created_by=row.created_by,
            version_count=int(count or 0),
            latest_version=latest,
        )

    def list_datasets(self) -> list[Dataset]:
        """All datasets with their version counts, by name."""
        counts = (
            select(
                t.dataset_versions.c.dataset_pk,
                func.count().label("n"),
                func.max(t.dataset_versions.c.version).label("latest"),
            )
            .group_by(t.dataset_versions.c.dataset_pk)
            .subquery()
        )
        query = (
            select(t.datasets, counts.c.n, counts.c.latest)
            .outerjoin(counts, counts.c.dataset_pk == t.datasets.c.pk)
            .order_by(t.datasets.c.name)
        )
        with read_transaction(self.engine) as connection:
            return [self._dataset(row, row.n, row.latest) for row in connection.execute(query)]

    def get_version(self, name: str, version: int | str | None = None) -> DatasetVersionRecord:
        """Resolve ``version`` (None or "latest", a number, or an alias) of dataset ``name``.

        Raises:
            NotFound: no such dataset, version or alias.
        """
        with read_transaction(self.engine) as connection:
            dataset = self._dataset_row(connection, name)
            query = select(*_VERSION_COLUMNS).join(
                t.datasets, t.datasets.c.pk == t.dataset_versions.c.dataset_pk
            )
            query = query.where(t.dataset_versions.c.dataset_pk == dataset.pk)
            if version is None or version == "latest":
                query = query.order_by(t.dataset_versions.c.version.desc()).limit(1)
                what = "any version"
            elif isinstance(version, int) or (isinstance(version, str) and version.isdigit()):
                query = query.where(t.dataset_versions.c.version == int(version))
                what = f"version {version}"
            else:
                query = query.join(
                    t.dataset_aliases, t.dataset_aliases.c.version_pk == t.dataset_versions.c.pk
                ).where(t.dataset_aliases.c.alias == version)
                what = f"alias {version!r}"
            row = connection.execute(query).first()
            if row is None:
                raise NotFound(
                    f"dataset {name!r} has no {what}; list its versions with "
                    f"'steward data log {name}'."
                )
            return self._record(connection, row)

    def list_versions(self, name: str) -> list[DatasetVersionRecord]:
        """Every version of dataset ``name``, newest first."""
        with read_transaction(self.engine) as connection:
            dataset = self._dataset_row(connection, name)
            rows = connection.execute(
                select(*_VERSION_COLUMNS)
                .join(t.datasets, t.datasets.c.pk == t.dataset_versions.c.dataset_pk)
                .where(t.dataset_versions.c.dataset_pk == dataset.pk)
                .order_by(t.dataset_versions.c.version.desc())
            ).all()
            return [self._record(connection, row) for row in rows]

    def find_by_digest(self, name: str, digest: str) -> DatasetVersionRecord | None:
        """The version of ``name`` whose manifest digest is ``digest``, if any."""
        with read_transaction(self.engine) as connection:
            row = connection.execute(
                select(*_VERSION_COLUMNS)
                .join(t.datasets, t.datasets.c.pk == t.dataset_versions.c.dataset_pk)
                .where(t.datasets.c.name == name, t.dataset_versions.c.digest == digest)
            ).first()
            return None if row is None else self._record(connection, row)

    # -- writing ----------------------------------------------------------------

    def create_version(
        self,
        name: str,
        kind: str,
        new: NewDatasetVersion,
        actor: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> tuple[DatasetVersionRecord, bool]:
        """Store a new version of ``name`` (the dataset is created on first use).

        Returns:
            The version and whether it was created (False: identical content was
            already stored as a version, which is returned instead).

        Raises:
            Conflict: ``name`` holds a different kind of dataset.
        """
        check_name("dataset", name)
        tag_items = _check_tags(tags)

        def create() -> tuple[DatasetVersionRecord, bool]:
            with write_transaction(self.engine) as connection:
                now = now_ms()
                dataset = self._dataset_for(connection, name, kind, description, now, actor)
                existing = connection.execute(
                    select(t.dataset_versions.c.version).where(
                        t.dataset_versions.c.dataset_pk == dataset.pk,
                        t.dataset_versions.c.digest == new.digest,
                    )
                ).scalar()
                if existing is not None:
                    return self._fetch(connection, dataset.pk, existing), False
                latest = connection.execute(
                    select(func.max(t.dataset_versions.c.version)).where(
                        t.dataset_versions.c.dataset_pk == dataset.pk
                    )
                ).scalar()
                number = (latest or 0) + 1
                self._insert_version(
                    connection, dataset.pk, number, new, description, now, actor, tag_items
                )
                append_event(
                    connection,
                    actor,
                    "dataset.version.create",
                    f"dataset:{name}:{number}",
                    details={"digest": new.digest, "rows": new.row_count, "size": new.size},
                    at_ms=now,
                )
                return self._fetch(connection, dataset.pk, number), True

        return run_with_retry(lambda: _again_on_race(create))

    def check_import(
        self, name: str, kind: str, number: int, digest: str
    ) -> DatasetVersionRecord | None:
        """Whether version ``number`` of ``name`` with content ``digest`` can be imported.

        Returns:
            The version, if this store already holds it with that content (there
            is nothing to import); None if it can be imported.

        Raises:
            Conflict: ``name`` holds another kind of dataset, its version
                ``number`` has other content, or it holds ``digest`` under
                another number (each message says what to do).
        """
        with read_transaction(self.engine) as connection:
            return self._existing_identical(connection, name, kind, number, digest)

    def import_version(
        self,
        name: str,
        kind: str,
        number: int,
        new: NewDatasetVersion,
        created_by: str,
        created_at: datetime,
        actor: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> tuple[DatasetVersionRecord, bool]:
        """Register a version made elsewhere, keeping its number, author and time.

        The dataset is created on first use. Unlike ``create_version``, the
        number is given, not the next free one; no lineage comes with it.

        Returns:
            The version and whether it was registered (False: this store already
            held it, with the same content).

        The audit log records ``actor``: who imported it (the server fills it in).

        Raises:
            Conflict: as ``check_import``.
        """
        check_name("dataset", name)
        tag_items = _check_tags(tags)
        created_ms = datetime_to_ms(created_at)

        def register() -> tuple[DatasetVersionRecord, bool]:
            with write_transaction(self.engine) as connection:
                existing = self._existing_identical(connection, name, kind, number, new.digest)
                if existing is not None:
                    return existing, False
                dataset = self._dataset_for(
                    connection, name, kind, description, created_ms, created_by
                )
                self._insert_version(
                    connection,
                    dataset.pk,
                    number,
                    new,
                    description,
                    created_ms,
                    created_by,
                    tag_items,
                )
                append_event(
                    connection,
                    actor,
                    "dataset.version.import",
                    f"dataset:{name}:{number}",
                    details={"digest": new.digest, "created_by": created_by},
                )
                return self._fetch(connection, dataset.pk, number), True

        return run_with_retry(lambda: _again_on_race(register))

    def _dataset_of_kind(self, connection: Connection, name: str, kind: str) -> Any:
        """The dataset row of ``name`` (None if there is none); Conflict if of another kind."""
        dataset = connection.execute(select(t.datasets).where(t.datasets.c.name == name)).first()
        if dataset is not None and dataset.kind != kind:
            raise Conflict(
                f"dataset {name!r} holds {dataset.kind}, not {kind}; "
                "choose another name for this data."
            )
        return dataset

    def _existing_identical(
        self, connection: Connection, name: str, kind: str, number: int, digest: str
    ) -> DatasetVersionRecord | None:
        dataset = self._dataset_of_kind(connection, name, kind)
        if dataset is None:
            return None
        rows = connection.execute(
            select(t.dataset_versions.c.version, t.dataset_versions.c.digest).where(
                t.dataset_versions.c.dataset_pk == dataset.pk,
                or_(
                    t.dataset_versions.c.version == number,
                    t.dataset_versions.c.digest == digest,
                ),
            )
        ).all()
        same_number = next((row for row in rows if row.version == number), None)
        if same_number is not None and same_number.digest == digest:
            return self._fetch(connection, dataset.pk, number)
        if same_number is not None:
            raise Conflict(
                f"{name}:{number} here has digest {same_number.digest}, not {digest}: two "
                "different versions share that name and number. To keep both, pull into another "
                "workspace (another STEWARD_HOME), or add one of them under another dataset name."
            )
        if rows:
            raise Conflict(
                f"this workspace holds that content (digest {digest}) as {name}:{rows[0].version}, "
                f"so it cannot also be {name}:{number}; use {name}:{rows[0].version}."
            )
        return None

    def _dataset_for(
        self,
        connection: Connection,
        name: str,
        kind: str,
        description: str | None,
        created_ms: int,
        created_by: str,
    ) -> Any:
        """The dataset row of ``name``, created now if there is none (Conflict: another kind)."""
        dataset = self._dataset_of_kind(connection, name, kind)
        if dataset is not None:
            return dataset
        connection.execute(
            insert(t.datasets).values(
                id=_new_id(),
                name=name,
                kind=kind,
                description=description,
                created_at=created_ms,
                created_by=created_by,
            )
        )
        return connection.execute(select(t.datasets).where(t.datasets.c.name == name)).one()

    def _insert_version(
        self,
        connection: Connection,
        dataset_pk: int,
        number: int,
        new: NewDatasetVersion,
        description: str | None,
        created_ms: int,
        created_by: str,
        tags: dict[str, str],
    ) -> None:
        version_pk = connection.execute(
            insert(t.dataset_versions)
            .values(
                id=_new_id(),
                dataset_pk=dataset_pk,
                version=number,
                digest=new.digest,
                profile_digest=new.profile_digest,
                size=new.size,
                file_count=new.file_count,
                row_count=new.row_count,
                column_count=new.column_count,
                description=description,
                created_at=created_ms,
                created_by=created_by,
            )
            .returning(t.dataset_versions.c.pk)
        ).scalar_one()
        if tags:
            connection.execute(
                insert(t.dataset_version_tags),
                [
                    {"version_pk": version_pk, "key": key, "value": value}
                    for key, value in tags.items()
                ],
            )

    def update_version_metadata(
        self, name: str, version: int, description: str | None, tags: Mapping[str, str]
    ) -> DatasetVersionRecord:
        """Set a version's description (unless None) and the given tags (others stay).

        Raises:
            NotFound: no such dataset or version.
        """
        tag_items = _check_tags(tags)

        def change() -> DatasetVersionRecord:
            with write_transaction(self.engine) as connection:
                dataset = self._dataset_row(connection, name)
                version_pk = connection.execute(
                    select(t.dataset_versions.c.pk).where(
                        t.dataset_versions.c.dataset_pk == dataset.pk,
                        t.dataset_versions.c.version == version,
                    )
                ).scalar()
                if version_pk is None:
                    raise NotFound(f"dataset {name!r} has no version {version}.")
                if description is not None:
                    connection.execute(
                        update(t.dataset_versions)
                        .where(t.dataset_versions.c.pk == version_pk)
                        .values(description=description)
                    )
                if tag_items:
                    connection.execute(
                        delete(t.dataset_version_tags).where(
                            t.dataset_version_tags.c.version_pk == version_pk,
                            t.dataset_version_tags.c.key.in_(list(tag_items)),
                        )
                    )
                    connection.execute(
                        insert(t.dataset_version_tags),
                        [
                            {"version_pk": version_pk, "key": key, "value": value}
                            for key, value in tag_items.items()
                        ],
                    )
                return self._fetch(connection, dataset.pk, version)

        return run_with_retry(change)

    def _fetch(self, connection: Connection, dataset_pk: int, number: int) -> DatasetVersionRecord:
        row = connection.execute(
            select(*_VERSION_COLUMNS)
            .join(t.datasets, t.datasets.c.pk == t.dataset_versions.c.dataset_pk)
            .where(
                t.dataset_versions.c.dataset_pk == dataset_pk,
                t.dataset_versions.c.version == number,
            )
        ).one()
        return self._record(connection, row)

    def set_alias(self, name: str, alias: str, version: int, actor: str) -> None:
        """Point ``alias`` of dataset ``name`` at ``version`` (moving it if set).

        Raises:
            InvalidInput: the alias is a number or "latest".
            NotFound: no such dataset or version.
        """
        check_name("alias", alias)
        if alias.isdigit() or alias == "latest":
            raise InvalidInput(f"alias {alias!r} is reserved; use a name such as 'training'.")

        def assign() -> None:
            with write_transaction(self.engine) as connection:
                dataset = self._dataset_row(connection, name)
                version_pk = connection.execute(
                    select(t.dataset_versions.c.pk).where(
                        t.dataset_versions.c.dataset_pk == dataset.pk,
                        t.dataset_versions.c.version == version,
                    )
                ).scalar()
                if version_pk is None:
                    raise NotFound(f"dataset {name!r} has no version {version}.")
                previous = connection.execute(
                    select(t.dataset_versions.c.version)
                    .join(
                        t.dataset_aliases, t.dataset_aliases.c.version_pk == t.dataset_versions.c.pk
                    )
                    .where(
                        t.dataset_aliases.c.dataset_pk == dataset.pk,
                        t.dataset_aliases.c.alias == alias,
                    )
                ).scalar()
                connection.execute(
                    delete(t.dataset_aliases).where(
                        t.dataset_aliases.c.dataset_pk == dataset.pk,
                        t.dataset_aliases.c.alias == alias,
                    )
                )
                append_event(
                    connection,
                    actor,
                    "dataset.alias.set",
                    f"dataset:{name}@{alias}",
                    previous,
                    version,
                )
                connection.execute(
                    insert(t.dataset_aliases).values(
                        dataset_pk=dataset.pk,
                        alias=alias,
                        version_pk=version_pk,
                        updated_at=now_ms(),
                        updated_by=actor,
                    )
                )

        run_with_retry(assign)

    # -- lineage ------------------------------------------------------------------

    def record_lineage(self, run_id: str, version_id: str, direction: str) -> None:
        """Record that run ``run_id`` read ("input") or wrote ("output") a version.

        Raises:
            InvalidInput: unknown direction.
            NotFound: no such run or version.
        """
        if direction not in DIRECTIONS:
            raise InvalidInput(f"direction must be one of {DIRECTIONS}, got {direction!r}.")

        def record() -> None:
            with write_transaction(self.engine) as connection:
                run_pk = connection.execute(
                    select(t.runs.c.pk).where(t.runs.c.id == run_id)
                ).scalar()
                if run_pk is None:
                    raise NotFound(f"no run with id {run_id!r}.")
                version_pk = connection.execute(
                    select(t.dataset_versions.c.pk).where(t.dataset_versions.c.id == version_id)
                ).scalar()
                if version_pk is None:
                    raise NotFound(f"no dataset version with id {version_id!r}.")
                known = connection.execute(
                    select(t.dataset_lineage.c.run_pk).where(
                        t.dataset_lineage.c.run_pk == run_pk,
                        t.dataset_lineage.c.version_pk == version_pk,
                        t.dataset_lineage.c.direction == direction,
                    )
                ).first()
                if known is None:
                    connection.execute(
                        insert(t.dataset_lineage).values(
                            run_pk=run_pk,
                            version_pk=version_pk,
                            direction=direction,
                            created_at=now_ms(),
                        )
                    )

        run_with_retry(record)

    def _lineage(self, condition: Any) -> list[LineageEdge]:
        query = (
            select(
                t.runs.c.id.label("run_id"),
                t.runs.c.name.label("run_name"),
                t.datasets.c.name.label("dataset"),
                t.dataset_versions.c.version,
                t.dataset_versions.c.id.label("version_id"),
                t.dataset_lineage.c.direction,
                t.dataset_lineage.c.created_at,
            )
            .join(t.runs, t.runs.c.pk == t.dataset_lineage.c.run_pk)
            .join(t.dataset_versions, t.dataset_versions.c.pk == t.dataset_lineage.c.version_pk)
            .join(t.datasets, t.datasets.c.pk == t.dataset_versions.c.dataset_pk)
            .where(condition)
            .order_by(t.dataset_lineage.c.created_at, t.runs.c.pk)
        )
        with read_transaction(self.engine) as connection:
            return [
                LineageEdge(
                    run_id=row.run_id,
                    run_name=row.run_name,
                    dataset=row.dataset,
                    version=row.version,
                    version_id=row.version_id,
                    direction=row.direction,
                    created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
                )
                for row in connection.execute(query)
            ]

    def lineage_of_version(self, version_id: str) -> list[LineageEdge]:
        """The runs that read or produced a version, oldest first."""
        return self._lineage(t.dataset_versions.c.id == version_id)

    def lineage_of_run(self, run_id: str) -> list[LineageEdge]:
        """The dataset versions a run read or produced, oldest first."""
        return self._lineage(t.runs.c.id == run_id)
