"""SQL for pipeline runs, their steps and the step cache.

A pipeline run is a tracking run (``runs``) with a ``pipeline_runs`` row
beside it; each step is a ``pipeline_steps`` row, and each step that ran (or
was served from the cache) has a nested tracking run. Writes come in few,
large transactions: one creates the run and every step row, one starts the
steps that became ready together, one records everything that finished
since the last (runs, params, metrics, artifacts, step rows and cache
entries), so a pipeline costs a handful of commits, not several per step.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from steward.errors import NotFound
from steward.store import pipeline_sql
from steward.store import schema as t
from steward.store import tracking_sql as sql
from steward.store.audit import PendingEvent, append_events
from steward.store.engine import read_transaction, run_with_retry, write_transaction
from steward.store.finished_runs import FinishedRun, insert_finished_runs
from steward.store.pipeline_records import (
    CacheEntry,
    NewStep,
    PipelineRunRecord,
    ReusableStep,
    StepOutcome,
    StepRecord,
    StepStart,
    StepStatus,
    outputs_from_json,
    outputs_to_json,
)
from steward.store.records import Metric, RunStatus, ms_to_datetime, now_ms
from steward.store.tracking import end_running_run, insert_run

_RUN_STATUS_BY_STEP = {
    StepStatus.COMPLETED: RunStatus.FINISHED,
    StepStatus.CACHED: RunStatus.FINISHED,
    StepStatus.FAILED: RunStatus.FAILED,
    StepStatus.SKIPPED: RunStatus.KILLED,
}


class PipelineStore:
    """Pipeline runs, steps and the step cache in the metadata store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._last_parent: tuple[str, tuple[tuple[int, str], int]] | None = None
        """The last parent run looked up (a run's steps start and end in many writes)."""

    # -- writing ------------------------------------------------------------------

    def create_run(
        self,
        run_id: str,
        *,
        pipeline: str,
        target: str,
        params: dict[str, Any],
        result: Any,
        executor: str,
        cache: bool,
        resumed_from: str | None,
        host: str,
        pid: int,
        actor: str,
        steps: Sequence[NewStep],
    ) -> dict[str, int]:
        """Record that tracking run ``run_id`` is a run of a pipeline, with every step pending.

        Returns:
            The step rows' keys by step name (for ``start_steps`` and ``finish``).

        Raises:
            NotFound: no such tracking run, or no pipeline run ``resumed_from``.
        """

        def write() -> dict[str, int]:
            with write_transaction(self.engine) as connection:
                run_pk = self._run_pk(connection, run_id)
                resumed_pk = self._pipeline_pk(connection, resumed_from) if resumed_from else None
                pipeline_pk = pipeline_sql.INSERT_RUN.run(
                    connection,
                    (
                        run_pk,
                        pipeline,
                        target,
                        json.dumps(params),
                        json.dumps(result),
                        executor,
                        cache,
                        resumed_pk,
                        host,
                        pid,
                        now_ms(),
                        actor,
                    ),
                ).scalar_one()
                pipeline_sql.INSERT_STEP.run_many(
                    connection,
                    [
                        (
                            pipeline_pk,
                            step.name,
                            step.position,
                            step.function,
                            json.dumps(list(step.depends_on)),
                            json.dumps(step.inputs),
                            json.dumps(step.params),
                        )
                        for step in steps
                    ],
                )
                keys = {
                    name: int(pk)
                    for pk, name in pipeline_sql.SELECT_STEP_KEYS.run(connection, (pipeline_pk,))
                }
                return keys

        return run_with_retry(write)

    def start_steps(self, parent_run_id: str, actor: str, starts: Sequence[StepStart]) -> None:
        """Create the nested runs of steps about to run and mark the steps running."""
        if not starts:
            return

        def write() -> None:
            with write_transaction(self.engine) as connection:
                experiment, parent_pk = self._parent(connection, parent_run_id)
                rows = []
                for start in starts:
                    run_pk = insert_run(
                        connection,
                        start.run_id,
                        experiment,
                        parent_pk,
                        start.name,
                        start.started_at,
                        actor,
                    )
                    rows.append((run_pk, start.started_at, start.step_pk))
                pipeline_sql.START_STEP.run_many(connection, rows)

        run_with_retry(write)

    def finish(self, parent_run_id: str, actor: str, outcomes: Sequence[StepOutcome]) -> None:
        """Record finished, cached and skipped steps in one transaction: their runs (created
        or ended), params, metrics, tags, artifacts, step rows and cache entries."""
        if not outcomes:
            return

        def write() -> None:
            with write_transaction(self.engine) as connection:
                experiment, parent_pk = self._parent(connection, parent_run_id)
                steps, artifacts, cached = [], [], []
                events: list[PendingEvent] = []
                at = now_ms()
                created = insert_finished_runs(
                    connection,
                    experiment,
                    parent_pk,
                    actor,
                    [
                        _finished_run(o, at)
                        for o in outcomes
                        if o.create_run and o.run_id is not None
                    ],
                    events,
                )
                for outcome in outcomes:
                    ended = outcome.ended_at or at
                    run_pk = None
                    if outcome.run_id is not None and outcome.create_run:
                        run_pk = created[outcome.run_id]
                    elif outcome.run_id is not None:
                        run_pk = self._run_pk(connection, outcome.run_id)
                        self._write_values(
                            connection, run_pk, actor, outcome.params, outcome.tags,
                            outcome.metrics,
                        )  # fmt: skip
                        # A step's run may already have ended (a user's end_run in the step).
                        end_running_run(
                            connection,
                            run_pk,
                            outcome.run_id,
                            _RUN_STATUS_BY_STEP[outcome.status],
                            ended,
                            actor,
                            started=outcome.started_at,
                            events=events,
                        )
                    if run_pk is not None:
                        artifacts += [
                            (run_pk, path, digest, size, ended, actor)
                            for path, digest, size in outcome.artifacts
                        ]
                    skipped = outcome.status == StepStatus.SKIPPED
                    steps.append(
                        (
                            outcome.status.value,
                            None if skipped else ended,
                            outcome.cache_key,
                            outcome.code_digest,
                            outcome.cached_from_pk,
                            outputs_to_json(outcome.outputs) if outcome.outputs else None,
                            outcome.error,
                            outcome.cpu_seconds,
                            outcome.peak_memory_bytes,
                            outcome.worker,
                            run_pk,
                            None if skipped else (outcome.started_at or ended),
                            outcome.step_pk,
                        )
                    )
                    if outcome.store_in_cache and outcome.cache_key and outcome.code_digest:
                        cached.append(
                            (
                                outcome.cache_key,
                                outcome.function,
                                outcome.code_digest,
                                outputs_to_json(outcome.outputs),
                                outcome.step_pk,
                                ended,
                            )
                        )
                if events:
                    append_events(connection, events)
                pipeline_sql.DELETE_ARTIFACT.run_many(connection, [row[:2] for row in artifacts])
                pipeline_sql.INSERT_ARTIFACT.run_many(connection, artifacts)
                pipeline_sql.FINISH_STEP.run_many(connection, steps)
                # The latest computation wins: its blobs are the ones known to be stored.
                latest = list({row[0]: row for row in cached}.values())
                pipeline_sql.DELETE_CACHE.run_many(connection, [row[:1] for row in latest])
                pipeline_sql.INSERT_CACHE.run_many(connection, latest)

        run_with_retry(write)

    def forget_cache(self, keys: Sequence[str]) -> None:
        """Drop cache entries (their blobs are gone)."""
        if not keys:
            return

        def write() -> None:
            with write_transaction(self.engine) as connection:
                connection.execute(
                    delete(t.pipeline_cache).where(t.pipeline_cache.c.key.in_(list(keys)))
                )

        run_with_retry(write)

    # -- helpers for writing ----------------------------------------------------------

    @staticmethod
    def _run_pk(connection: Connection, run_id: str) -> int:
        row = sql.SELECT_RUN_STATE.run(connection, (run_id,)).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}; list runs with 'steward runs list'.")
        return int(row.pk)

    @staticmethod
    def _pipeline_pk(connection: Connection, run_id: str) -> int:
        row = pipeline_sql.SELECT_PIPELINE_PK.run(connection, (run_id,)).first()
        pk = None if row is None else row[0]
        if pk is None:
            raise NotFound(
                f"no pipeline run with id {run_id!r}; list them with 'steward pipeline list'."
            )
        return int(pk)

    def _parent(self, connection: Connection, run_id: str) -> tuple[tuple[int, str], int]:
        """The parent run's experiment (pk, name) and its own pk (neither ever changes)."""
        last = self._last_parent
        if last is not None and last[0] == run_id:
            return last[1]
        row = pipeline_sql.SELECT_PARENT.run(connection, (run_id,)).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}; list runs with 'steward runs list'.")
        found = (int(row[0]), str(row[2])), int(row[1])
        self._last_parent = (run_id, found)
        return found

    @staticmethod
    def _write_values(
        connection: Connection,
        run_pk: int,
        actor: str,
        params: dict[str, str],
        tags: dict[str, str],
        metrics: Sequence[Metric],
    ) -> None:
        """Write a stored step run's params (those it has not logged itself), tags and
        metrics as one write batch."""
        if not (params or tags or metrics):
            return
        batch = (run_pk, actor, now_ms(), len(metrics), len(params), len(tags))
        batch_pk = int(sql.INSERT_BATCH.run(connection, batch).scalar_one())
        if params:
            existing = {row[0] for row in sql.SELECT_PARAMS.run(connection, (run_pk,))}
            sql.INSERT_PARAMS.run_many(
                connection,
                [(run_pk, k, v, batch_pk) for k, v in params.items() if k not in existing],
            )
        sql.UPSERT_TAGS.run_many(connection, [(run_pk, k, v, batch_pk) for k, v in tags.items()])
        if metrics:
            sql.write_metric_points(connection, run_pk, batch_pk, metrics)

    # -- reading ------------------------------------------------------------------

    def lookup_cache(self, keys: Sequence[str]) -> dict[str, CacheEntry]:
        """The cache entries among ``keys`` (each marked stale when its computation read a
        dataset version that is no longer its dataset's latest), in one query."""
        if not keys:
            return {}
        with read_transaction(self.engine) as connection:
            rows = pipeline_sql.cache_by_keys(len(keys)).run(connection, tuple(keys)).all()
        return {row.key: _cache_entry(row) for row in rows}

    def cache_candidates(self, pipeline: str) -> dict[str, CacheEntry]:
        """The cache entries that the latest run of ``pipeline`` computed or reused, by key,
        marked stale as ``lookup_cache`` marks them: what a rerun most likely hits, found
        in one query (a chain of steps otherwise looks its keys up one step at a time)."""
        with read_transaction(self.engine) as connection:
            rows = pipeline_sql.CACHE_OF_LATEST_RUN.run(connection, (pipeline,)).all()
        return {row.key: _cache_entry(row) for row in rows}

    def stale_reads(self, step_pks: Sequence[int]) -> set[int]:
        """The steps among ``step_pks`` whose run read a dataset version that is no longer
        its dataset's latest (their outputs may be out of date)."""
        if not step_pks:
            return set()
        with read_transaction(self.engine) as connection:
            statement = pipeline_sql.stale_steps(len(step_pks))
            return {int(row[0]) for row in statement.run(connection, tuple(step_pks))}

    def reusable_steps(self, run_id: str) -> dict[str, ReusableStep]:
        """The steps of a pipeline run, by name, as resuming it needs them.

        Raises:
            NotFound: no such pipeline run.
        """
        steps = t.pipeline_steps
        with read_transaction(self.engine) as connection:
            pipeline_pk = self._pipeline_pk(connection, run_id)
            rows = connection.execute(
                select(steps).where(steps.c.pipeline_run_pk == pipeline_pk)
            ).all()
        return {
            row.name: ReusableStep(
                # A cached step points at the computation it reused, so resuming a
                # resumed run still names the step that really ran.
                row.cached_from_pk or row.pk,
                StepStatus(row.status),
                row.cache_key,
                outputs_from_json(row.outputs),
            )
            for row in rows
        }

    def get_run(self, run_id: str) -> PipelineRunRecord:
        """One pipeline run with its steps.

        Raises:
            NotFound: no such pipeline run.
        """
        records = self._load({"run_id": run_id}, limit=1)
        if not records:
            raise NotFound(
                f"no pipeline run with id {run_id!r}; list them with 'steward pipeline list'."
            )
        return records[0]

    def find_run_ids(self, prefix: str) -> list[str]:
        """Ids of pipeline runs that start with ``prefix`` (at most two: enough to tell)."""
        with read_transaction(self.engine) as connection:
            return list(
                connection.execute(
                    select(t.runs.c.id)
                    .join(t.pipeline_runs, t.pipeline_runs.c.run_pk == t.runs.c.pk)
                    .where(t.runs.c.id.like(f"{prefix}%"))
                    .limit(2)
                ).scalars()
            )

    def list_runs(
        self, pipeline: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[PipelineRunRecord]:
        """Pipeline runs, newest first, with their steps."""
        filters = {"pipeline": pipeline, "status": status}
        return self._load({k: v for k, v in filters.items() if v is not None}, limit=limit)

    def _load(self, filters: dict[str, Any], limit: int) -> list[PipelineRunRecord]:
        """Pipeline runs matching ``filters`` (``pipeline_sql.RUN_FILTERS`` names)."""
        runs = pipeline_sql.pipeline_runs(list(filters))
        with read_transaction(self.engine) as connection:
            rows = runs.run(connection, (*filters.values(), limit)).all()
            pks = [row.pk for row in rows]
            steps = pipeline_sql.steps_of_runs(len(pks)).run(connection, tuple(pks)) if pks else []
            step_rows = list(steps)
        by_run: dict[int, list[StepRecord]] = {pk: [] for pk in pks}
        for row in step_rows:
            by_run[row.pipeline_run_pk].append(_step_record(row))
        return [
            PipelineRunRecord(
                id=row.run_id,
                pipeline=row.pipeline,
                target=row.target,
                experiment=row.experiment,
                status=RunStatus(row.run_status),
                start_time=ms_to_datetime(row.start_time),  # type: ignore[arg-type]
                end_time=ms_to_datetime(row.end_time),
                params=json.loads(row.params),
                result=json.loads(row.result),
                executor=row.executor,
                cache=bool(row.cache),
                resumed_from=row.resumed_from,
                host=row.host,
                pid=row.pid,
                created_by=row.created_by,
                steps=tuple(by_run[row.pk]),
            )
            for row in rows
        ]


def _finished_run(outcome: StepOutcome, at: int) -> FinishedRun:
    """The run of an outcome whose run is created with its end (``create_run``)."""
    assert outcome.run_id is not None
    ended = outcome.ended_at or at
    return FinishedRun(
        outcome.run_id,
        outcome.name,
        _RUN_STATUS_BY_STEP[outcome.status],
        outcome.started_at or ended,
        ended,
        outcome.params,
        outcome.tags,
        outcome.metrics,
    )


def _cache_entry(row: Any) -> CacheEntry:
    return CacheEntry(
        row.key,
        row.function,
        row.code_digest,
        outputs_from_json(row.outputs),
        row.step_pk,
        ms_to_datetime(row.created_at),  # type: ignore[arg-type]
        bool(row.stale),
    )


def _step_record(row: Any) -> StepRecord:
    return StepRecord(
        name=row.name,
        position=row.position,
        function=row.function,
        depends_on=tuple(json.loads(row.depends_on)),
        inputs=json.loads(row.inputs),
        params=json.loads(row.params),
        status=StepStatus(row.status),
        run_id=row.step_run_id,
        cache_key=row.cache_key,
        code_digest=row.code_digest,
        cached_from_run=row.origin_run_id,
        outputs=outputs_from_json(row.outputs),
        error=row.error,
        started_at=ms_to_datetime(row.started_at),
        ended_at=ms_to_datetime(row.ended_at),
        cpu_seconds=row.cpu_seconds,
        peak_memory_bytes=row.peak_memory_bytes,
        worker=row.worker,
    )
