"""Hand-written SQL for the tracking hot path: starting runs, logging, ending.

Building SQLAlchemy statements costs more than running them when a run logs
a handful of values: these few statements are plain text executed at the
driver level. Every one is standard enough to run unchanged on SQLite
(3.35+) and PostgreSQL; only the parameter marker differs.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection


class Statement:
    """One SQL statement written with ``?`` markers, run with the driver's own."""

    def __init__(self, text: str) -> None:
        self.qmark = " ".join(text.split())
        self.format = self.qmark.replace("?", "%s")

    def _text(self, connection: Connection) -> str:
        return self.qmark if connection.dialect.paramstyle == "qmark" else self.format

    def run(self, connection: Connection, parameters: tuple[Any, ...]) -> Any:
        """Execute once; returns the driver-level result (rows, ``scalar_one()``…)."""
        return connection.exec_driver_sql(self._text(connection), parameters)

    def rows(self, connection: Connection, parameters: tuple[Any, ...]) -> list[Any]:
        """Every row of a read, as the driver's tuples (``driver_rows``)."""
        return driver_rows(connection, self._text(connection), parameters)

    def run_many(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Execute once per row (the driver's executemany)."""
        if rows:
            connection.exec_driver_sql(self._text(connection), list(rows))


def driver_rows(
    connection: Connection, text: str, parameters: tuple[Any, ...] | dict[str, Any]
) -> list[Any]:
    """Every row of one read, run on a cursor of the connection's own driver connection.

    It runs inside the connection's transaction, like ``exec_driver_sql``, without
    the result object SQLAlchemy makes per statement (which costs ten times what
    SQLite takes for a small indexed read). A failure goes through SQLAlchemy's
    handling all the same, so the store's error translation applies.
    """
    cursor = connection.connection.cursor()
    try:
        cursor.execute(text, parameters)
        return list(cursor.fetchall())
    except connection.dialect.loaded_dbapi.Error as exc:
        connection._handle_dbapi_exception(exc, text, parameters, cursor, None)
    finally:
        cursor.close()


_EXPERIMENT_COLUMNS = "pk, id, name, description, lifecycle, created_at, created_by"
SELECT_EXPERIMENT_BY_NAME_OR_ID = Statement(
    f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments WHERE name = ? OR id = ?"
)
SELECT_EXPERIMENT_BY_NAME = Statement("SELECT pk FROM experiments WHERE name = ?")
INSERT_EXPERIMENT = Statement(
    """INSERT INTO experiments (id, name, description, lifecycle, created_at, created_by)
       VALUES (?, ?, ?, 'active', ?, ?)"""
)
SELECT_RUN_START = Statement(
    """SELECT experiments.pk, experiments.name, runs.pk AS run_pk, runs.experiment_pk,
              runs.status, runs.start_time, runs.created_by
       FROM experiments LEFT JOIN runs ON runs.id = ?
       WHERE experiments.id = ?"""
)
_DEAD_RUNS = "status = 'RUNNING' AND alive_until < ?"
"""RUNNING runs whose heartbeat stopped by a time (walks ``ix_runs_status_alive_until``)."""
SELECT_DEAD_RUN = Statement(f"SELECT pk FROM runs WHERE {_DEAD_RUNS} LIMIT 1")
KILL_DEAD_RUNS = Statement(
    f"""UPDATE runs SET status = 'KILLED', end_time = COALESCE(heartbeat_at, start_time),
                        heartbeat_lost = TRUE
        WHERE {_DEAD_RUNS} RETURNING id"""
)
"""Mark them KILLED, ended at their last heartbeat; their ids."""
SELECT_RUN_STATE = Statement("SELECT pk, status, heartbeat_lost FROM runs WHERE id = ?")
INSERT_RUN = Statement(
    """INSERT INTO runs (id, experiment_pk, parent_pk, name, status, lifecycle, start_time,
                         created_by, system_info_digest, heartbeat_at, alive_until,
                         heartbeat_lost)
       VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?) RETURNING pk"""
)
INSERT_ENDED_RUN = Statement(
    """INSERT INTO runs (id, experiment_pk, parent_pk, name, status, lifecycle, start_time,
                         end_time, created_by, heartbeat_at, heartbeat_lost)
       VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, FALSE)"""
)
END_RUNNING_RUN = Statement(
    """UPDATE runs SET status = ?, end_time = ?, start_time = COALESCE(?, start_time)
       WHERE pk = ? AND status = 'RUNNING'"""
)
REOPEN_RUN = Statement(
    """UPDATE runs SET status = 'RUNNING', end_time = NULL, heartbeat_lost = ?,
                       heartbeat_at = ?, alive_until = ?
       WHERE pk = ?"""
)
INSERT_BATCH = Statement(
    """INSERT INTO write_batches (run_pk, written_by, written_at, metric_count, param_count,
                                  tag_count)
       VALUES (?, ?, ?, ?, ?, ?) RETURNING pk"""
)
INSERT_BATCH_ROWS = Statement(
    """INSERT INTO write_batches (run_pk, written_by, written_at, metric_count, param_count,
                                  tag_count)
       VALUES (?, ?, ?, ?, ?, ?)"""
)
SELECT_PARAMS = Statement("SELECT key, value FROM params WHERE run_pk = ?")
KEYED_TABLES = ("params", "latest_metrics", "tags")
"""The tables of a run's ``key`` → ``value`` pairs, read for a page of runs at once."""


def keyed_values(connection: Connection, table: str, run_pks: Sequence[int]) -> Any:
    """The ``(run_pk, key, value)`` rows of ``table`` (one of ``KEYED_TABLES``) for runs.

    One statement per page: SQLAlchemy would render and cache an ``IN`` of a hundred
    parameters anew for every page, which costs more than SQLite takes to answer.
    """
    if table not in KEYED_TABLES:
        raise ValueError(f"{table!r} is not a table of keyed values")
    markers = ", ".join("?" * len(run_pks))
    statement = Statement(f"SELECT run_pk, key, value FROM {table} WHERE run_pk IN ({markers})")
    return statement.rows(connection, tuple(run_pks))


INSERT_PARAMS = Statement("INSERT INTO params (run_pk, key, value, batch_pk) VALUES (?, ?, ?, ?)")
UPSERT_TAGS = Statement(
    """INSERT INTO tags (run_pk, key, value, batch_pk) VALUES (?, ?, ?, ?)
       ON CONFLICT (run_pk, key) DO UPDATE SET value = excluded.value,
                                               batch_pk = excluded.batch_pk"""
)
INSERT_METRIC_CHUNKS = Statement(
    """INSERT INTO metric_chunks (run_pk, key, batch_pk, count, first_step, last_step, points)
       VALUES (?, ?, ?, ?, ?, ?, ?)"""
)
SELECT_METRIC_CHUNKS = Statement(
    "SELECT points FROM metric_chunks WHERE run_pk = ? AND key = ? ORDER BY pk"
)
UPSERT_LATEST_METRICS = Statement(
    """INSERT INTO latest_metrics (run_pk, key, step, timestamp, value) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (run_pk, key) DO UPDATE
       SET step = excluded.step, timestamp = excluded.timestamp, value = excluded.value
       WHERE excluded.step > latest_metrics.step
          OR (excluded.step = latest_metrics.step
              AND excluded.timestamp >= latest_metrics.timestamp)"""
)


def pack_points(points: Sequence[tuple[str, float, int, int]]) -> bytes:
    """Pack one key's ``(key, value, step, timestamp_ms)`` points: steps, then
    timestamps (int64), then values (float64, so NaN and infinities survive),
    little-endian."""
    steps = array("q", [point[2] for point in points])
    times = array("q", [point[3] for point in points])
    values = array("d", [point[1] for point in points])
    if sys.byteorder != "little":  # pragma: no cover - every platform Steward runs on
        for part in (steps, times, values):
            part.byteswap()
    return steps.tobytes() + times.tobytes() + values.tobytes()


def unpack_points(packed: bytes) -> tuple[array[int], array[int], array[float]]:
    """The steps, timestamps and values of a packed chunk."""
    count = len(packed) // 24
    steps, times, values = array("q"), array("q"), array("d")
    steps.frombytes(packed[: 8 * count])
    times.frombytes(packed[8 * count : 16 * count])
    values.frombytes(packed[16 * count :])
    if sys.byteorder != "little":  # pragma: no cover
        for part in (steps, times, values):
            part.byteswap()
    return steps, times, values


def _latest(group: list[Any]) -> Any:
    """The point of highest (step, timestamp); on a tie the one logged last."""
    best = group[0]
    for point in group:
        if point[2] > best[2] or (point[2] == best[2] and point[3] >= best[3]):
            best = point
    return best


def metric_rows(
    run_pk: int, batch_pk: int, points: Sequence[Any]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The ``metric_chunks`` rows (one packed chunk per key) and the ``latest_metrics`` rows
    (each key's latest point) of metric points, ``(key, value, step, timestamp_ms)``."""
    by_key: dict[str, list[Any]] = {}
    for point in points:
        group = by_key.get(point[0])
        if group is None:
            by_key[point[0]] = [point]
        else:
            group.append(point)
    chunks: list[tuple[Any, ...]] = [
        (
            run_pk,
            key,
            batch_pk,
            len(group),
            min(point[2] for point in group),
            max(point[2] for point in group),
            pack_points(group),
        )
        for key, group in by_key.items()
    ]
    latest: list[tuple[Any, ...]] = [
        # NaN is stored as NULL, as SQLite does by itself, on PostgreSQL too.
        (run_pk, key, step, timestamp, None if value != value else value)
        for key, value, step, timestamp in (_latest(group) for group in by_key.values())
    ]
    return chunks, latest


def write_metric_points(
    connection: Connection, run_pk: int, batch_pk: int, points: Sequence[Any]
) -> None:
    """Store metric points, ``(key, value, step, timestamp_ms)`` tuples: one packed chunk
    per key (one row per key and write, not one per point), and each key's latest
    point in ``latest_metrics`` unless a later one is already there."""
    chunks, latest = metric_rows(run_pk, batch_pk, points)
    INSERT_METRIC_CHUNKS.run_many(connection, chunks)
    UPSERT_LATEST_METRICS.run_many(connection, latest)
