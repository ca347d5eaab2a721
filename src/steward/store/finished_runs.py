"""Recording many runs that started and ended since the last write, in a few statements.

A pipeline's inline steps and cache hits are runs first written when they
are over: each is inserted already ended, with its params, tags and metrics,
and its ``run.start`` and ``run.end`` audit events. Written one by one that
was seven statements a run (the run, its write batch, its values, its end);
here each table gets one statement for the whole lot, and the keys the
database gave the new rows are read back with one query per table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from steward.store import tracking_sql as sql
from steward.store.audit import PendingEvent
from steward.store.records import Metric, RunStatus, now_ms
from steward.store.tracking import run_end_event, run_start_event

_PAGE = 500
"""Keys read back per query (SQLite allows 32,766 parameters; older builds 999)."""


@dataclass(frozen=True)
class FinishedRun:
    """A run to insert already ended, with what it logged."""

    run_id: str
    name: str
    status: RunStatus
    started_at: int
    ended_at: int
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: Sequence[Metric] = ()


def _pages(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _PAGE):
        yield values[start : start + _PAGE]


def _keys(connection: Connection, template: str, values: Sequence[Any]) -> dict[Any, int]:
    """``value -> pk`` for rows found by ``template`` (two columns, an ``IN ({})``)."""
    found: dict[Any, int] = {}
    for page in _pages(values):
        statement = sql.Statement(template.format(", ".join("?" * len(page))))
        found.update((row[0], int(row[1])) for row in statement.run(connection, tuple(page)))
    return found


def insert_finished_runs(
    connection: Connection,
    experiment: tuple[int, str],
    parent_pk: int | None,
    actor: str,
    runs: Sequence[FinishedRun],
    events: list[PendingEvent],
) -> dict[str, int]:
    """Insert ended runs with their values, inside the caller's write; their audit events
    (start, then end, run by run) are added to ``events`` for the caller to append.

    Args:
        experiment: the experiment's pk and name.

    Returns:
        Each run's pk, by run id.
    """
    if not runs:
        return {}
    experiment_pk, experiment_name = experiment
    sql.INSERT_ENDED_RUN.run_many(
        connection,
        [
            (run.run_id, experiment_pk, parent_pk, run.name, run.status.value, run.started_at,
             run.ended_at, actor, run.started_at)
            for run in runs
        ],
    )  # fmt: skip
    run_pks = _keys(
        connection, "SELECT id, pk FROM runs WHERE id IN ({})", [r.run_id for r in runs]
    )
    for run in runs:
        events.append(run_start_event(actor, run.run_id, experiment_name, run.name, run.started_at))
        events.append(run_end_event(actor, run.run_id, run.status, run.ended_at))
    _write_values(connection, actor, [(run_pks[run.run_id], run) for run in runs])
    return run_pks


def _write_values(connection: Connection, actor: str, runs: list[tuple[int, FinishedRun]]) -> None:
    """Each run's params, tags and metrics as one write batch of its own."""
    logging = [(pk, run) for pk, run in runs if run.params or run.tags or run.metrics]
    if not logging:
        return
    at = now_ms()
    sql.INSERT_BATCH_ROWS.run_many(
        connection,
        [(pk, actor, at, len(run.metrics), len(run.params), len(run.tags)) for pk, run in logging],
    )
    # A run inserted in this write has exactly one batch: this one.
    batch_pks = _keys(
        connection,
        "SELECT run_pk, pk FROM write_batches WHERE run_pk IN ({})",
        [pk for pk, _ in logging],
    )
    params, tags, chunks, latest = [], [], [], []
    for pk, run in logging:
        batch_pk = batch_pks[pk]
        params += [(pk, key, value, batch_pk) for key, value in run.params.items()]
        tags += [(pk, key, value, batch_pk) for key, value in run.tags.items()]
        if run.metrics:
            run_chunks, run_latest = sql.metric_rows(pk, batch_pk, run.metrics)
            chunks += run_chunks
            latest += run_latest
    sql.INSERT_PARAMS.run_many(connection, params)
    sql.UPSERT_TAGS.run_many(connection, tags)
    sql.INSERT_METRIC_CHUNKS.run_many(connection, chunks)
    sql.UPSERT_LATEST_METRICS.run_many(connection, latest)
