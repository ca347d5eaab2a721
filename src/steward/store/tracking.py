"""SQL for experiments, runs, params, metrics, tags and artifacts.

Everything that touches the tracking tables lives here; callers get plain
records (``steward.store.records``) back. Writes are batched: one transaction
per ``log_batch`` however many points it carries.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    func,
    select,
    update,
)
from sqlalchemy.dialects import sqlite

from steward.errors import Conflict, InvalidInput, NotFound
from steward.store import run_query
from steward.store import schema as t
from steward.store import tracking_sql as sql
from steward.store.audit import SYSTEM_ACTOR, PendingEvent, append_event, append_events
from steward.store.engine import read_transaction, run_with_retry, write_transaction
from steward.store.records import (
    Artifact,
    Experiment,
    Metric,
    Run,
    RunPage,
    RunStart,
    RunStatus,
    ms_to_datetime,
    now_ms,
)
from steward.store.run_filter import (
    parse_filter,
    parse_order_by,
)
from steward.store.validation import check_name, param_conflict

MAX_RESULTS_LIMIT = 50_000
_TERMINAL = {RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED}


_RUN_ID = re.compile(r"[0-9a-f]{32}")


def _new_id() -> str:
    return uuid.uuid4().hex


_T = TypeVar("_T")


class TrackingStore:
    """Experiments and runs in the metadata store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._run_pks: dict[str, int] = {}

    # -- experiments ----------------------------------------------------------

    def _experiment(self, row: Any, run_count: int = 0) -> Experiment:
        return Experiment(
            id=row.id,
            name=row.name,
            description=row.description,
            lifecycle=row.lifecycle,
            created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
            created_by=row.created_by,
            run_count=run_count,
        )

    def create_experiment(
        self, name: str, actor: str, description: str | None = None
    ) -> Experiment:
        """Create an experiment.

        Raises:
            Conflict: an experiment with this name exists.
        """
        check_name("experiment", name)

        def create() -> Experiment:
            with write_transaction(self.engine) as connection:
                if sql.SELECT_EXPERIMENT_BY_NAME.run(connection, (name,)).first():
                    raise Conflict(f"experiment {name!r} already exists.")
                experiment_id, created = _new_id(), now_ms()
                sql.INSERT_EXPERIMENT.run(
                    connection, (experiment_id, name, description, created, actor)
                )
                append_event(connection, actor, "experiment.create", f"experiment:{name}")
                return Experiment(
                    id=experiment_id,
                    name=name,
                    description=description,
                    lifecycle="active",
                    created_at=ms_to_datetime(created),  # type: ignore[arg-type]
                    created_by=actor,
                )

        return run_with_retry(create)

    def get_experiment(self, name_or_id: str) -> Experiment:
        """Fetch an experiment by name or id.

        Raises:
            NotFound: no such experiment.
        """
        with read_transaction(self.engine) as connection:
            query = sql.SELECT_EXPERIMENT_BY_NAME_OR_ID
            row = query.run(connection, (name_or_id, name_or_id)).first()
        if row is None:
            raise NotFound(
                f"no experiment named {name_or_id!r}; list them with 'steward experiments list'."
            )
        return self._experiment(row)

    def get_or_create_experiment(self, name: str, actor: str) -> Experiment:
        """The experiment called ``name``, created if missing."""
        try:
            return self.get_experiment(name)
        except NotFound:
            try:
                return self.create_experiment(name, actor)
            except Conflict:  # another process created it in between
                return self.get_experiment(name)

    def list_experiments(self) -> list[Experiment]:
        """All active experiments with their run counts, oldest first."""
        counts = (
            select(t.runs.c.experiment_pk, func.count().label("n"))
            .where(t.runs.c.lifecycle == "active")
            .group_by(t.runs.c.experiment_pk)
            .subquery()
        )
        query = (
            select(t.experiments, func.coalesce(counts.c.n, 0).label("run_count"))
            .outerjoin(counts, counts.c.experiment_pk == t.experiments.c.pk)
            .where(t.experiments.c.lifecycle == "active")
            .order_by(t.experiments.c.pk)
        )
        with read_transaction(self.engine) as connection:
            return [self._experiment(row, row.run_count) for row in connection.execute(query)]

    # -- runs ---------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        name: str | None,
        actor: str,
        tags: dict[str, str] | None = None,
        parent_id: str | None = None,
        system_info_digest: str | None = None,
        start_time_ms: int | None = None,
        alive_ms: int | None = None,
    ) -> Run:
        """Start a run (status RUNNING) in an experiment, optionally under a parent.

        Args:
            alive_ms: how long the run counts as alive without a ``heartbeat`` (None:
                always; a run past it is marked KILLED when next seen).
        """
        return self.record_run(
            _new_id(),
            experiment_id,
            actor,
            name,
            tags,
            parent_id,
            system_info_digest,
            start_time_ms,
            alive_ms,
        )

    def record_run(
        self,
        run_id: str,
        experiment_id: str,
        actor: str,
        name: str | None = None,
        tags: dict[str, str] | None = None,
        parent_id: str | None = None,
        system_info_digest: str | None = None,
        start_time_ms: int | None = None,
        alive_ms: int | None = None,
        params: dict[str, str] | None = None,
        metrics: Sequence[Metric] = (),
        status: RunStatus | None = None,
        end_time_ms: int | None = None,
    ) -> Run:
        """Start run ``run_id`` (an id its client made) with its first params, tags and
        metrics, and end it with ``status`` if given, in one transaction: a short run is
        one write (one request through a server).

        A run that already exists with this id, experiment, start time and creator is
        this same run sent again (a retried request): its creation is taken as done and
        the rest is applied as ``log_batch`` would.

        Raises:
            InvalidInput: ``run_id`` is not 32 lowercase hex digits; ``status`` is not
                terminal; the run exists and has ended.
            Conflict: another run has this id; a param differs from its logged value.
            NotFound: unknown experiment or parent.
        """
        if not _RUN_ID.fullmatch(run_id):
            raise InvalidInput(f"run id {run_id!r} must be 32 lowercase hex digits (a UUID4).")
        if status is not None and status not in _TERMINAL:
            raise InvalidInput(f"a run ends as FINISHED, FAILED or KILLED, not {status}.")
        start = RunStart(
            run_id,
            experiment_id,
            name,
            tags,
            parent_id,
            system_info_digest,
            start_time_ms,
            alive_ms,
        )
        params = params or {}

        def record() -> Run:
            with write_transaction(self.engine) as connection:
                events: list[PendingEvent] = []  # its start and end: one move of the head
                run_pk, experiment_name, fresh = self._insert_or_find_run(
                    connection, start, actor, events
                )
                new_params = (
                    params if fresh else self._new_params(connection, run_pk, run_id, params)
                )
                if metrics or new_params:
                    batch_pk = self._new_batch(
                        connection, run_pk, actor, len(metrics), len(new_params), 0
                    )
                    sql.INSERT_PARAMS.run_many(
                        connection, [(run_pk, k, v, batch_pk) for k, v in new_params.items()]
                    )
                    if metrics:
                        sql.write_metric_points(connection, run_pk, batch_pk, metrics)
                if status is not None:
                    ended = end_time_ms or now_ms()
                    end_running_run(connection, run_pk, run_id, status, ended, actor, events=events)
                if events:
                    append_events(connection, events)
            self._run_pks[run_id] = run_pk
            return start.record(experiment_name, actor)

        return run_with_retry(record)

    def _insert_or_find_run(
        self, connection: Connection, start: RunStart, actor: str, events: list[PendingEvent]
    ) -> tuple[int, str, bool]:
        """Insert a new RUNNING run with its first tags (its audit event added to
        ``events``), or find the same run sent before (see ``record_run``); its pk, its
        experiment's name and whether it is new."""
        found = sql.SELECT_RUN_START.run(connection, (start.run_id, start.experiment_id)).first()
        if found is None:
            raise NotFound(f"no experiment with id {start.experiment_id!r}.")
        if found.run_pk is not None:
            same = (found.experiment_pk, found.start_time, found.created_by) == (
                found.pk,
                start.start_time,
                actor,
            )
            if not same:
                raise Conflict(f"a run with id {start.run_id} already exists; make a new id.")
            if found.status != RunStatus.RUNNING.value:
                raise InvalidInput(f"run {start.run_id} has already ended ({found.status}).")
            return int(found.run_pk), str(found.name), False  # its tags came with it
        parent_pk = self._run_pk(connection, start.parent_id) if start.parent_id else None
        run_pk = insert_run(
            connection,
            start.run_id,
            (found.pk, found.name),
            parent_pk,
            start.name,
            start.start_time,
            actor,
            start.system_info_digest,
            None if start.alive_ms is None else now_ms() + start.alive_ms,
            events,
        )
        if start.tags:
            batch_pk = self._new_batch(connection, run_pk, actor, 0, 0, len(start.tags))
            sql.UPSERT_TAGS.run_many(
                connection, [(run_pk, k, v, batch_pk) for k, v in start.tags.items()]
            )
        return run_pk, str(found.name), True

    def _run_pk(self, connection: Connection, run_id: str) -> int:
        cached = self._run_pks.get(run_id)
        if cached is not None:
            return cached
        pk = connection.execute(select(t.runs.c.pk).where(t.runs.c.id == run_id)).scalar()
        if pk is None:
            raise NotFound(f"no run with id {run_id!r}; list runs with 'steward runs list'.")
        self._run_pks[run_id] = pk
        return int(pk)

    def _run_pk_and_status(self, connection: Connection, run_id: str) -> tuple[int, str]:
        """The run's pk and status, inside a write: a run KILLED because its heartbeat
        stopped runs again when it writes (its process was only asleep)."""
        row = sql.SELECT_RUN_STATE.run(connection, (run_id,)).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}; list runs with 'steward runs list'.")
        if row.heartbeat_lost:
            sql.REOPEN_RUN.run(connection, (False, now_ms(), None, row.pk))
            _audit_revived(connection, run_id)
            return int(row.pk), RunStatus.RUNNING.value
        return int(row.pk), str(row.status)

    # -- heartbeats ----------------------------------------------------------------

    def heartbeat(self, run_ids: Sequence[str], alive_ms: int) -> None:
        """Record that the runs' process is alive now, and for ``alive_ms`` more.

        A run of these that was KILLED for want of a heartbeat runs again.
        """
        if not run_ids:
            return
        ids = list(run_ids)

        def beat() -> None:
            now = now_ms()
            alive = {"heartbeat_at": now, "alive_until": now + alive_ms}
            chosen = t.runs.c.id.in_(ids)
            with write_transaction(self.engine) as connection:
                connection.execute(
                    update(t.runs)
                    .where(chosen, t.runs.c.status == RunStatus.RUNNING.value)
                    .values(**alive)
                )
                revived = connection.execute(
                    update(t.runs)
                    .where(chosen, t.runs.c.heartbeat_lost)
                    .values(
                        status=RunStatus.RUNNING.value, end_time=None, heartbeat_lost=False, **alive
                    )
                    .returning(t.runs.c.id)
                ).scalars()
                for run_id in sorted(revived):
                    _audit_revived(connection, run_id)

        run_with_retry(beat)

    def attach_run(self, run_id: str, alive_ms: int | None, actor: str) -> bool:
        """Make a run RUNNING for another writer: a running run is joined, an ended one
        (or one presumed dead) is reopened.

        Returns:
            True when the run was running already (the caller joins it; it does not
            own its end), False when it was reopened.

        Raises:
            NotFound: unknown run.
        """

        def attach() -> bool:
            now = now_ms()
            alive_until = None if alive_ms is None else now + alive_ms
            with write_transaction(self.engine) as connection:
                row = sql.SELECT_RUN_STATE.run(connection, (run_id,)).first()
                if row is None:
                    raise NotFound(
                        f"no run with id {run_id!r} to attach to; list runs with "
                        "'steward runs list'."
                    )
                running = row.status == RunStatus.RUNNING.value and not row.heartbeat_lost
                if running:
                    connection.execute(
                        update(t.runs)
                        .where(t.runs.c.pk == row.pk)
                        .values(heartbeat_at=now, alive_until=alive_until)
                    )
                else:
                    sql.REOPEN_RUN.run(connection, (False, now, alive_until, row.pk))
                    append_event(
                        connection, actor, "run.reopen", f"run:{run_id}", row.status, "RUNNING"
                    )
                return running

        return run_with_retry(attach)

    def _read_runs(self, read: Callable[[Connection], _T]) -> _T:
        """``read`` in a read transaction, after marking KILLED the RUNNING runs whose
        heartbeat stopped (their process died), so a reader never sees them running.
        Checking costs one indexed statement in the read's own transaction."""
        with read_transaction(self.engine) as connection:
            if not sql.SELECT_DEAD_RUN.rows(connection, (now_ms(),)):
                return read(connection)
        self._reap_dead()
        with read_transaction(self.engine) as connection:
            return read(connection)

    def _reap_dead(self) -> None:
        """Mark KILLED the RUNNING runs whose heartbeat stopped, ended at their last
        heartbeat, each with its audit event."""
        now = now_ms()

        def reap() -> None:
            with write_transaction(self.engine) as connection:
                killed = [row[0] for row in sql.KILL_DEAD_RUNS.run(connection, (now,))]
                for run_id in sorted(killed):
                    append_event(
                        connection,
                        SYSTEM_ACTOR,
                        "run.end",
                        f"run:{run_id}",
                        RunStatus.RUNNING.value,
                        RunStatus.KILLED.value,
                        reason="its process stopped sending heartbeats",
                    )

        run_with_retry(reap)

    @staticmethod
    def _new_batch(
        connection: Connection, run_pk: int, actor: str, metrics: int, params: int, tags: int
    ) -> int:
        batch = (run_pk, actor, now_ms(), metrics, params, tags)
        return int(sql.INSERT_BATCH.run(connection, batch).scalar_one())

    def log_batch(
        self,
        run_id: str,
        actor: str,
        metrics: Sequence[Metric] = (),
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Write metrics, params and tags of one run in one transaction.

        Values must already be validated (see ``steward.store.validation``).

        Raises:
            NotFound: unknown run.
            InvalidInput: the run has ended.
            Conflict: a param is re-logged with a different value (nothing is written).
        """
        params = params or {}
        tags = tags or {}
        if not (metrics or params or tags):
            return

        def write() -> None:
            with write_transaction(self.engine) as connection:
                run_pk, status = self._run_pk_and_status(connection, run_id)
                if status != RunStatus.RUNNING.value:
                    raise InvalidInput(
                        f"run {run_id} has ended ({status}); start a new run to log more."
                    )
                new_params = self._new_params(connection, run_pk, run_id, params)
                batch_pk = self._new_batch(
                    connection, run_pk, actor, len(metrics), len(new_params), len(tags)
                )
                sql.INSERT_PARAMS.run_many(
                    connection, [(run_pk, k, v, batch_pk) for k, v in new_params.items()]
                )
                sql.UPSERT_TAGS.run_many(
                    connection, [(run_pk, k, v, batch_pk) for k, v in tags.items()]
                )
                if metrics:
                    sql.write_metric_points(connection, run_pk, batch_pk, metrics)

        run_with_retry(write)

    @staticmethod
    def _new_params(
        connection: Connection, run_pk: int, run_id: str, params: dict[str, str]
    ) -> dict[str, str]:
        if not params:
            return {}
        rows = sql.SELECT_PARAMS.run(connection, (run_pk,))
        existing: dict[str, str] = {row[0]: row[1] for row in rows}
        for key, value in params.items():
            if key in existing and existing[key] != value:
                raise param_conflict(run_id, key, existing[key], value)
        return {key: value for key, value in params.items() if key not in existing}

    def _dialect_insert(self, connection: Connection, table: Any) -> Any:
        if connection.dialect.name == "postgresql":
            # Imported here: the PostgreSQL dialect costs a SQLite server 70 ms to start.
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        return sqlite.insert(table)

    def end_run(
        self,
        run_id: str,
        status: RunStatus,
        actor: str,
        metrics: Sequence[Metric] = (),
        end_time_ms: int | None = None,
    ) -> None:
        """Write a run's last metrics and mark it FINISHED, FAILED or KILLED, in one
        transaction.

        Raises:
            InvalidInput: ``status`` is not terminal, or the run has already ended.
        """
        if status not in _TERMINAL:
            raise InvalidInput(f"a run ends as FINISHED, FAILED or KILLED, not {status}.")

        def end() -> None:
            with write_transaction(self.engine) as connection:
                run_pk, current = self._run_pk_and_status(connection, run_id)
                if current != RunStatus.RUNNING.value:
                    raise InvalidInput(f"run {run_id} has already ended ({current}).")
                if metrics:
                    batch_pk = self._new_batch(connection, run_pk, actor, len(metrics), 0, 0)
                    sql.write_metric_points(connection, run_pk, batch_pk, metrics)
                end_running_run(connection, run_pk, run_id, status, end_time_ms or now_ms(), actor)

        run_with_retry(end)

    def set_lifecycle(self, run_ids: Iterable[str], lifecycle: str, actor: str) -> int:
        """Mark runs deleted (hidden from searches) or active again, recording who did it;
        returns how many."""
        ids = list(run_ids)
        action = "run.delete" if lifecycle == "deleted" else "run.restore"

        def change() -> int:
            with write_transaction(self.engine) as connection:
                for run_id in ids:
                    self._run_pk(connection, run_id)
                before = dict(
                    connection.execute(
                        select(t.runs.c.id, t.runs.c.lifecycle).where(t.runs.c.id.in_(ids))
                    ).all()
                )
                result = connection.execute(
                    update(t.runs).where(t.runs.c.id.in_(ids)).values(lifecycle=lifecycle)
                )
                for run_id in dict.fromkeys(ids):
                    if before[run_id] != lifecycle:
                        append_event(
                            connection, actor, action, f"run:{run_id}", before[run_id], lifecycle
                        )
                return int(result.rowcount)

        return run_with_retry(change)

    # -- reading runs ----------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        """Fetch one run with its params, latest metrics and tags.

        Raises:
            NotFound: unknown run id.
        """
        query = run_query.run_by_id_query(self.engine.dialect)
        runs = self._read_runs(
            lambda connection: run_query.load_runs(connection, query, {"run_id": run_id})
        )
        if not runs:
            raise NotFound(f"no run with id {run_id!r}; list runs with 'steward runs list'.")
        return runs[0]

    def search_runs(
        self,
        experiments: Sequence[str] | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> RunPage:
        """Search runs; see ``steward.store.run_filter`` for the filter language.

        Args:
            experiments: experiment names or ids; None means all experiments.
            filter: e.g. ``"metrics.acc > 0.9 and params.model = 'rf'"``.
            order_by: e.g. ``["metrics.acc DESC"]``; newest first by default.
            max_results: page size (1-50,000).
            page_token: ``next_page_token`` of the previous page.
            include_deleted: include runs marked deleted.
        """
        if not 1 <= max_results <= MAX_RESULTS_LIMIT:
            raise InvalidInput(f"max_results must be between 1 and {MAX_RESULTS_LIMIT}.")
        query = run_query.search_query(
            self.engine.dialect,
            filter,
            lambda: parse_filter(filter),
            lambda: parse_order_by(order_by),
            tuple(order_by or ()),
            None if experiments is None else len(experiments),
            include_deleted,
        )
        offset = _decode_page_token(page_token)

        def read(connection: Connection) -> list[Run]:
            values: dict[str, Any] = {"page_limit": max_results + 1, "page_offset": offset}
            if experiments is not None:
                pks = self._experiment_pks(connection, experiments)
                values.update((f"experiment_{index}", pk) for index, pk in enumerate(pks))
            return run_query.load_runs(connection, query, values)

        runs = self._read_runs(read)
        next_token = None
        if len(runs) > max_results:
            runs = runs[:max_results]
            next_token = _encode_page_token(offset + max_results)
        return RunPage(runs, next_token)

    def _experiment_pks(self, connection: Connection, names_or_ids: Sequence[str]) -> list[int]:
        pks = []
        for name in names_or_ids:
            rows = sql.SELECT_EXPERIMENT_BY_NAME_OR_ID.rows(connection, (name, name))
            if not rows:
                raise NotFound(
                    f"no experiment named {name!r}; list them with 'steward experiments list'."
                )
            pks.append(rows[0][0])
        return pks

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric of one run, by step then time (then logging order)."""
        with read_transaction(self.engine) as connection:
            run_pk = self._run_pk(connection, run_id)
            chunks = [row[0] for row in sql.SELECT_METRIC_CHUNKS.run(connection, (run_pk, key))]
        points: list[Metric] = []
        for packed in chunks:
            steps, times, values = sql.unpack_points(bytes(packed))
            points += map(Metric, [key] * len(steps), values, steps, times)
        points.sort(key=lambda point: (point.step, point.timestamp_ms))
        return points

    # -- artifacts ---------------------------------------------------------------

    def add_artifacts(
        self, run_id: str, actor: str, entries: Sequence[tuple[str, str, int]]
    ) -> None:
        """Record artifacts (path, digest, size) of a run; a path logged again is replaced."""
        if not entries:
            return

        def write() -> None:
            with write_transaction(self.engine) as connection:
                run_pk = self._run_pk(connection, run_id)
                statement = self._dialect_insert(connection, t.artifacts)
                statement = statement.on_conflict_do_update(
                    index_elements=[t.artifacts.c.run_pk, t.artifacts.c.path],
                    set_={
                        "digest": statement.excluded.digest,
                        "size": statement.excluded.size,
                        "created_at": statement.excluded.created_at,
                        "created_by": statement.excluded.created_by,
                    },
                )
                at = now_ms()
                connection.execute(
                    statement,
                    [
                        {
                            "run_pk": run_pk,
                            "path": path,
                            "digest": digest,
                            "size": size,
                            "created_at": at,
                            "created_by": actor,
                        }
                        for path, digest, size in entries
                    ],
                )

        run_with_retry(write)

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        """The artifacts of a run, by path."""
        with read_transaction(self.engine) as connection:
            run_pk = self._run_pk(connection, run_id)
            rows = connection.execute(
                select(t.artifacts)
                .where(t.artifacts.c.run_pk == run_pk)
                .order_by(t.artifacts.c.path)
            ).all()
        return [
            Artifact(
                row.path,
                row.digest,
                row.size,
                ms_to_datetime(row.created_at),  # type: ignore[arg-type]
                row.created_by,
            )
            for row in rows
        ]


def _encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_page_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError(offset)
        return offset
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            "page_token is not one Steward issued; pass the next_page_token of the previous page."
        ) from exc


def _audit_revived(connection: Connection, run_id: str) -> None:
    """Record that a run marked KILLED for a lost heartbeat is running again."""
    append_event(
        connection,
        SYSTEM_ACTOR,
        "run.reopen",
        f"run:{run_id}",
        RunStatus.KILLED.value,
        RunStatus.RUNNING.value,
        reason="its process was only paused: it sent a heartbeat or wrote again",
    )


def insert_run(
    connection: Connection,
    run_id: str,
    experiment: tuple[int, str],
    parent_pk: int | None,
    name: str,
    start_time: int,
    actor: str,
    system_info_digest: str | None = None,
    alive_until: int | None = None,
    events: list[PendingEvent] | None = None,
) -> int:
    """Insert a RUNNING run and its ``run.start`` audit event, inside the caller's write;
    every way of starting a run (the SDK's, a pipeline's steps) goes through here.

    Args:
        experiment: the experiment's pk and name.
        events: where to add the audit event, for the caller to append with others
            (``append_events``) before its write ends; default: appended now.

    Returns:
        The run's pk.
    """
    experiment_pk, experiment_name = experiment
    run_pk = sql.INSERT_RUN.run(
        connection,
        (
            run_id,
            experiment_pk,
            parent_pk,
            name,
            RunStatus.RUNNING.value,
            start_time,
            actor,
            system_info_digest,
            start_time,
            alive_until,
            False,
        ),
    ).scalar_one()
    _audit(connection, events, run_start_event(actor, run_id, experiment_name, name, start_time))
    return int(run_pk)


def end_running_run(
    connection: Connection,
    run_pk: int,
    run_id: str,
    status: RunStatus,
    ended: int,
    actor: str,
    started: int | None = None,
    events: list[PendingEvent] | None = None,
) -> bool:
    """End a run that is RUNNING, with its ``run.end`` audit event, inside the caller's
    write (``started`` corrects its start time; ``events`` as for ``insert_run``); False,
    and nothing written, when it had already ended."""
    ended_now = sql.END_RUNNING_RUN.run(connection, (status.value, ended, started, run_pk))
    if ended_now.rowcount == 0:
        return False
    _audit(connection, events, run_end_event(actor, run_id, status, ended))
    return True


def run_start_event(
    actor: str, run_id: str, experiment_name: str, name: str, at_ms: int
) -> PendingEvent:
    """The ``run.start`` audit event of a run, however it was written."""
    details = {"experiment": experiment_name, "name": name}
    subject = f"run:{run_id}"
    return PendingEvent(
        actor, "run.start", subject, None, RunStatus.RUNNING.value, details=details, at_ms=at_ms
    )


def run_end_event(actor: str, run_id: str, status: RunStatus, at_ms: int) -> PendingEvent:
    """The ``run.end`` audit event of a run that was running, however it was written."""
    running = RunStatus.RUNNING.value
    return PendingEvent(actor, "run.end", f"run:{run_id}", running, status.value, at_ms=at_ms)


def _audit(connection: Connection, events: list[PendingEvent] | None, event: PendingEvent) -> None:
    if events is None:
        append_events(connection, [event])
    else:
        events.append(event)
