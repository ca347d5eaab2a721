"""Hand-written SQL for pipeline runs, their steps and the step cache.

A pipeline run is often the first thing a process does: compiling the
SQLAlchemy form of its reads (the cache look-ups with their staleness test,
the run and its steps) cost a fresh process more than running them did, so
these statements are plain text, as the tracking hot path's are
(``tracking_sql``). Each runs unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from steward.store.tracking_sql import Statement

INSERT_RUN = Statement(
    """INSERT INTO pipeline_runs (run_pk, pipeline, target, params, result, executor, cache,
                                  resumed_from_pk, host, pid, created_at, created_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk"""
)
SELECT_PIPELINE_PK = Statement(
    """SELECT pipeline_runs.pk FROM pipeline_runs
       JOIN runs ON runs.pk = pipeline_runs.run_pk WHERE runs.id = ?"""
)
START_STEP = Statement(
    "UPDATE pipeline_steps SET status = 'running', run_pk = ?, started_at = ? WHERE pk = ?"
)
FINISH_STEP = Statement(
    """UPDATE pipeline_steps SET status = ?, ended_at = ?, cache_key = ?, code_digest = ?,
           cached_from_pk = ?, outputs = ?, error = ?, cpu_seconds = ?, peak_memory_bytes = ?,
           worker = ?, run_pk = COALESCE(?, run_pk), started_at = COALESCE(?, started_at)
       WHERE pk = ?"""
)
DELETE_ARTIFACT = Statement("DELETE FROM artifacts WHERE run_pk = ? AND path = ?")
INSERT_ARTIFACT = Statement(
    """INSERT INTO artifacts (run_pk, path, digest, size, created_at, created_by)
       VALUES (?, ?, ?, ?, ?, ?)"""
)
DELETE_CACHE = Statement("DELETE FROM pipeline_cache WHERE key = ?")
INSERT_CACHE = Statement(
    """INSERT INTO pipeline_cache (key, function, code_digest, outputs, step_pk, created_at)
       VALUES (?, ?, ?, ?, ?, ?)"""
)
INSERT_STEP = Statement(
    """INSERT INTO pipeline_steps (pipeline_run_pk, name, position, function, depends_on,
                                   inputs, params, status)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')"""
)
SELECT_STEP_KEYS = Statement("SELECT pk, name FROM pipeline_steps WHERE pipeline_run_pk = ?")
SELECT_PARENT = Statement(
    """SELECT runs.experiment_pk, runs.pk, experiments.name FROM runs
       JOIN experiments ON experiments.pk = runs.experiment_pk WHERE runs.id = ?"""
)


def _markers(count: int) -> str:
    return ", ".join("?" * count)


def _stale(step_pk: str) -> str:
    """EXISTS: the step whose pk is ``step_pk`` (a column) read a dataset version that
    has a newer sibling, so its outputs may be out of date."""
    return f"""EXISTS (
        SELECT 1 FROM pipeline_steps AS read_step
        JOIN dataset_lineage AS lineage ON lineage.run_pk = read_step.run_pk
        JOIN dataset_versions AS read_version ON read_version.pk = lineage.version_pk
        JOIN dataset_versions AS newer ON newer.dataset_pk = read_version.dataset_pk
                                      AND newer.version > read_version.version
        WHERE read_step.pk = {step_pk} AND lineage.direction = 'input')"""


_CACHE_ENTRIES = f"""SELECT entry.key, entry.function, entry.code_digest, entry.outputs,
                            entry.step_pk, entry.created_at, {_stale("entry.step_pk")} AS stale
                     FROM pipeline_cache AS entry"""

CACHE_OF_LATEST_RUN = Statement(
    f"""{_CACHE_ENTRIES}
        WHERE entry.key IN (
            SELECT used.cache_key FROM pipeline_steps AS used
            WHERE used.pipeline_run_pk = (SELECT max(pk) FROM pipeline_runs WHERE pipeline = ?)
              AND used.cache_key IS NOT NULL)"""
)


def cache_by_keys(count: int) -> Statement:
    """The cache entries whose key is one of ``count`` parameters, with ``stale``."""
    return Statement(f"{_CACHE_ENTRIES} WHERE entry.key IN ({_markers(count)})")


def stale_steps(count: int) -> Statement:
    """The pks, among ``count`` parameters, of steps whose outputs may be out of date."""
    return Statement(
        f"""SELECT candidate.pk FROM pipeline_steps AS candidate
            WHERE candidate.pk IN ({_markers(count)}) AND {_stale("candidate.pk")}"""
    )


RUN_FILTERS = {"run_id": "runs.id = ?", "pipeline": "pipeline_runs.pipeline = ?",
               "status": "runs.status = ?"}  # fmt: skip
"""The conditions ``pipeline_runs`` accepts, by name."""


def pipeline_runs(filters: Sequence[str]) -> Statement:
    """Pipeline runs matching ``filters`` (names in ``RUN_FILTERS``, one parameter each,
    then the limit), newest first, with their tracking run's state and experiment."""
    where = " AND ".join(RUN_FILTERS[name] for name in filters) or "1 = 1"
    return Statement(
        f"""SELECT pipeline_runs.pk, pipeline_runs.pipeline, pipeline_runs.target,
                   pipeline_runs.params, pipeline_runs.result, pipeline_runs.executor,
                   pipeline_runs.cache, pipeline_runs.host, pipeline_runs.pid,
                   pipeline_runs.created_by, runs.id AS run_id, runs.status AS run_status,
                   runs.start_time, runs.end_time, experiments.name AS experiment,
                   resumed_run.id AS resumed_from
            FROM pipeline_runs
            JOIN runs ON runs.pk = pipeline_runs.run_pk
            JOIN experiments ON experiments.pk = runs.experiment_pk
            LEFT OUTER JOIN pipeline_runs AS resumed
                ON resumed.pk = pipeline_runs.resumed_from_pk
            LEFT OUTER JOIN runs AS resumed_run ON resumed_run.pk = resumed.run_pk
            WHERE {where}
            ORDER BY pipeline_runs.pk DESC
            LIMIT ?"""
    )


def steps_of_runs(count: int) -> Statement:
    """The steps of ``count`` pipeline runs (their pks as parameters), by position, with
    their run's id and, for a cached step, the id of the run that computed its outputs."""
    return Statement(
        f"""SELECT step.*, step_run.id AS step_run_id, origin_run.id AS origin_run_id
            FROM pipeline_steps AS step
            LEFT OUTER JOIN runs AS step_run ON step_run.pk = step.run_pk
            LEFT OUTER JOIN pipeline_steps AS origin ON origin.pk = step.cached_from_pk
            LEFT OUTER JOIN pipeline_runs AS origin_pipeline
                ON origin_pipeline.pk = origin.pipeline_run_pk
            LEFT OUTER JOIN runs AS origin_run ON origin_run.pk = origin_pipeline.run_pk
            WHERE step.pipeline_run_pk IN ({_markers(count)})
            ORDER BY step.position"""
    )
