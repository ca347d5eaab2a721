"""Steward's side of ``benchmarks/tracking.py``, run in a fresh process.

Usage (through ``peers.run_snippet``): ``python steward_tracking.py CONFIG RESULT``.
Each measure gets a fresh workspace (SQLite store + local blobs) in its own
folder under ``config["root"]``; timers start after imports and set-up. With
``config["profile_dir"]`` set, every measure runs under cProfile and its stats
are written to ``<profile_dir>/steward-<measure>.prof`` (timings are then
inflated and only good for finding hot spots).
"""

from __future__ import annotations

import cProfile
import json
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import steward

PROFILE_DIR: Path | None = None


@contextmanager
def profiled(measure: str) -> Iterator[None]:
    """Profile the block when profiling was asked for."""
    if PROFILE_DIR is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(str(PROFILE_DIR / f"steward-{measure}.prof"))


def fresh_workspace(root: Path, name: str) -> steward.Workspace:
    """A new workspace under ``root/name``, pinned, with its store opened and migrated."""
    workspace = steward.open_workspace(home=root / name, actor="bench")
    steward.use_workspace(workspace)
    steward.set_experiment(name)
    return workspace


def database_path(workspace: steward.Workspace) -> str:
    """The SQLite file behind a workspace."""
    path = workspace.store.engine.url.database
    assert path, "the benchmark needs a SQLite store"
    return path


def median_ms(action: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Run ``action`` once to warm up, then ``repeats`` times; median and all in ms."""
    result = action()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), times, result


def warm_up(root: Path) -> dict[str, Any]:
    """One run in a scratch store, so no measure pays for the process's first run.

    Steward collects the system facts (installed packages, git state) once per
    process on its first ``start_run``; that cost is reported here, apart.
    """
    fresh_workspace(root, "warm-up")
    start = time.perf_counter()
    with steward.start_run(name="warm-up", experiment="warm-up") as run:
        run.log_params({"warm": 1})
        run.log_metrics({"up": 1.0})
    return {"first_run_s": time.perf_counter() - start}


def single_calls(root: Path, calls: int) -> dict[str, Any]:
    """(a) ``steward.log_metric`` one point at a time, then ``steward.flush()``."""
    fresh_workspace(root, "single")
    with steward.start_run(name="single", experiment="single") as run, profiled("single"):
        start = time.perf_counter()
        for step in range(calls):
            steward.log_metric("loss", 1.0 / (step + 1), step=step)
        steward.flush()
        elapsed = time.perf_counter() - start
    stored = len(steward.get_metric_history(run.id, "loss"))
    assert stored == calls, f"stored {stored} of {calls} points"
    return {"calls": calls, "seconds": elapsed, "per_s": calls / elapsed}


def batch_points(root: Path, points: int, keys: int) -> dict[str, Any]:
    """(b) ``steward.log_metrics`` of ``keys`` metrics per step, then ``steward.flush()``."""
    fresh_workspace(root, "batch")
    names = [f"m{index}" for index in range(keys)]
    steps = points // keys
    with steward.start_run(name="batch", experiment="batch") as run, profiled("batch"):
        start = time.perf_counter()
        for step in range(steps):
            steward.log_metrics(dict.fromkeys(names, step * 1e-3), step=step)
        steward.flush()
        elapsed = time.perf_counter() - start
    stored = len(steward.get_metric_history(run.id, names[-1]))
    assert stored == steps, f"stored {stored} of {steps} steps"
    return {"points": steps * keys, "seconds": elapsed, "per_s": steps * keys / elapsed}


ROW_PER_POINT_TABLE = (
    "CREATE TABLE IF NOT EXISTS floor_metrics (pk INTEGER PRIMARY KEY, run_pk INTEGER NOT NULL, "
    "key VARCHAR(250) NOT NULL, step BIGINT NOT NULL, timestamp BIGINT NOT NULL, value FLOAT, "
    "batch_pk INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_floor_metrics ON floor_metrics (run_pk, key, step)",
)
"""The conventional one-row-per-point layout (MLflow's, and Steward's before it
packed points into chunks): the floors write into it, in Steward's own file."""


def _row_per_point_table(connection: sqlite3.Connection) -> None:
    for statement in ROW_PER_POINT_TABLE:
        connection.execute(statement)


def raw_insert_floor(root: Path, rows: int) -> dict[str, Any]:
    """Floor of (a) and (b): one sqlite3 ``executemany`` of one row per point into an
    indexed row-per-point metrics table."""
    workspace = fresh_workspace(root, f"raw-insert-{rows}")
    with steward.start_run(name="raw", experiment=f"raw-insert-{rows}") as run:
        pass
    connection = sqlite3.connect(database_path(workspace), isolation_level=None)
    connection.execute("PRAGMA synchronous=NORMAL")
    _row_per_point_table(connection)
    run_pk = connection.execute("SELECT pk FROM runs WHERE id = ?", (run.id,)).fetchone()[0]
    connection.execute(
        "INSERT INTO write_batches (run_pk, written_by, written_at, metric_count, param_count, "
        "tag_count) VALUES (?, 'bench', 0, ?, 0, 0)",
        (run_pk, rows),
    )
    batch_pk = connection.execute("SELECT max(pk) FROM write_batches").fetchone()[0]
    now = int(time.time() * 1000)
    values = [(run_pk, "loss", step, now, 1.0 / (step + 1), batch_pk) for step in range(rows)]
    start = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(
        "INSERT INTO floor_metrics (run_pk, key, step, timestamp, value, batch_pk) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        values,
    )
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - start
    connection.close()
    return {"rows": rows, "seconds": elapsed, "per_s": rows / elapsed}


def many_runs(root: Path, runs: int, params: int, metrics: int) -> dict[str, Any]:
    """(c) ``runs`` runs, each started, given params and metrics, and ended."""
    fresh_workspace(root, "runs")
    with profiled("runs"):
        start = time.perf_counter()
        for index in range(runs):
            with steward.start_run(name=f"run-{index:05d}", experiment="runs") as run:
                run.log_params({f"param_{key}": index * 100 + key for key in range(params)})
                run.log_metrics({f"metric_{key}": index + key / 10 for key in range(metrics)})
        elapsed = time.perf_counter() - start
    page = steward.search_runs(experiment="runs", max_results=runs)
    assert len(page) == runs and all(len(run.params) == params for run in page)
    return {"runs": runs, "seconds": elapsed, "per_s": runs / elapsed}


def raw_runs_floor(root: Path, runs: int, params: int, metrics: int) -> dict[str, Any]:
    """Floor of (c): the same rows in raw sqlite3, two transactions per run.

    One commit makes the run visible when it starts, one writes its params,
    metrics and end state: the fewest a tracker can do without hiding runs in
    progress.
    """
    workspace = fresh_workspace(root, "raw-runs")
    connection = sqlite3.connect(database_path(workspace), isolation_level=None)
    connection.execute("PRAGMA synchronous=NORMAL")
    _row_per_point_table(connection)
    experiment_pk = connection.execute(
        "SELECT pk FROM experiments WHERE name = 'raw-runs'"
    ).fetchone()[0]
    start = time.perf_counter()
    for index in range(runs):
        now = int(time.time() * 1000)
        connection.execute("BEGIN IMMEDIATE")
        run_pk = connection.execute(
            "INSERT INTO runs (id, experiment_pk, name, status, lifecycle, start_time, created_by) "
            "VALUES (?, ?, ?, 'RUNNING', 'active', ?, 'bench')",
            (uuid.uuid4().hex, experiment_pk, f"run-{index:05d}", now),
        ).lastrowid
        connection.execute("COMMIT")
        connection.execute("BEGIN IMMEDIATE")
        batch_pk = connection.execute(
            "INSERT INTO write_batches (run_pk, written_by, written_at, metric_count, "
            "param_count, tag_count) VALUES (?, 'bench', ?, ?, ?, 0)",
            (run_pk, now, metrics, params),
        ).lastrowid
        connection.executemany(
            "INSERT INTO params (run_pk, key, value, batch_pk) VALUES (?, ?, ?, ?)",
            [(run_pk, f"param_{key}", str(index * 100 + key), batch_pk) for key in range(params)],
        )
        points = [(f"metric_{key}", index + key / 10) for key in range(metrics)]
        connection.executemany(
            "INSERT INTO floor_metrics (run_pk, key, step, timestamp, value, batch_pk) "
            "VALUES (?, ?, 0, ?, ?, ?)",
            [(run_pk, key, now, value, batch_pk) for key, value in points],
        )
        connection.executemany(
            "INSERT INTO latest_metrics (run_pk, key, step, timestamp, value) "
            "VALUES (?, ?, 0, ?, ?)",
            [(run_pk, key, now, value) for key, value in points],
        )
        connection.execute(
            "UPDATE runs SET status = 'FINISHED', end_time = ? WHERE pk = ?", (now, run_pk)
        )
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - start
    connection.close()
    return {"runs": runs, "seconds": elapsed, "per_s": runs / elapsed}


RAW_TOP_100 = """
SELECT r.pk, r.id, r.name, r.status, r.start_time, r.end_time, lm.value
FROM runs AS r
JOIN experiments AS e ON e.pk = r.experiment_pk
JOIN latest_metrics AS lm ON lm.run_pk = r.pk AND lm.key = 'acc'
WHERE e.name = ? AND r.lifecycle = 'active' AND lm.value > 0.5
ORDER BY lm.value DESC
LIMIT ?
"""


def raw_top_100(connection: sqlite3.Connection, experiment: str, limit: int) -> list[Any]:
    """The floor of (d): the same top runs with their params and metrics, in raw SQL."""
    rows = connection.execute(RAW_TOP_100, (experiment, limit)).fetchall()
    pks = [row[0] for row in rows]
    marks = ",".join("?" * len(pks))
    params = connection.execute(
        f"SELECT run_pk, key, value FROM params WHERE run_pk IN ({marks})", pks
    ).fetchall()
    metrics = connection.execute(
        f"SELECT run_pk, key, value FROM latest_metrics WHERE run_pk IN ({marks})", pks
    ).fetchall()
    tags = connection.execute(
        f"SELECT run_pk, key, value FROM tags WHERE run_pk IN ({marks})", pks
    ).fetchall()
    assert len(params) + len(metrics) + len(tags) >= len(pks)
    return [row[2] for row in rows]


def raw_frame(connection: sqlite3.Connection, experiment: str) -> Any:
    """The floor of (e): ``pandas.read_sql`` of runs joined to params and metrics, pivoted."""
    import pandas as pd

    runs = pd.read_sql(
        "SELECT r.pk, r.id AS run_id, r.name AS run_name, r.status, r.start_time, r.end_time "
        "FROM runs AS r JOIN experiments AS e ON e.pk = r.experiment_pk "
        "WHERE e.name = ? AND r.lifecycle = 'active'",
        connection,
        params=(experiment,),
        index_col="pk",
    )
    wide = [runs]
    for table, prefix in (("params", "params."), ("latest_metrics", "metrics.")):
        long = pd.read_sql(
            f"SELECT x.run_pk, ? || x.key AS key, x.value FROM {table} AS x "
            "JOIN runs AS r ON r.pk = x.run_pk JOIN experiments AS e ON e.pk = r.experiment_pk "
            "WHERE e.name = ? AND r.lifecycle = 'active'",
            connection,
            params=(prefix, experiment),
        )
        wide.append(long.pivot(index="run_pk", columns="key", values="value"))
    frame = wide[0].join(wide[1:])
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    return frame.reset_index(drop=True)


def search(root: Path, seed_runs: list[dict[str, Any]], repeats: int) -> dict[str, Any]:
    """(d) and (e): seed runs (untimed), then search the top 100 and fetch all as a frame."""
    workspace = fresh_workspace(root, "search")
    start = time.perf_counter()
    for spec in seed_runs:
        with steward.start_run(name=spec["name"], experiment="search") as run:
            run.log_params(spec["params"])
            run.log_metrics(spec["metrics"])
    seed_seconds = time.perf_counter() - start

    def top_100() -> list[str]:
        page = steward.search_runs(
            experiment="search",
            filter="metrics.acc > 0.5",
            order_by=["metrics.acc DESC"],
            max_results=100,
        )
        return [run.name for run in page]

    def frame() -> Any:
        return steward.search_runs(experiment="search", max_results=len(seed_runs)).to_pandas()

    with profiled("search"):
        search_ms, search_all, names = median_ms(top_100, repeats["search"])
    with profiled("frame"):
        frame_ms, frame_all, df = median_ms(frame, repeats["frame"])
    measured = {
        "seed_runs": len(seed_runs),
        "seed_seconds": seed_seconds,
        "search_ms": search_ms,
        "search_ms_all": search_all,
        "search_names": names,
        "frame_s": frame_ms / 1000,
        "frame_s_all": [value / 1000 for value in frame_all],
        "frame_shape": list(df.shape),
    }
    if workspace.settings.remote:  # a server's store: no SQLite file to read raw
        return measured
    connection = sqlite3.connect(database_path(workspace))
    raw_ms, raw_all, raw_names = median_ms(
        lambda: raw_top_100(connection, "search", 100), repeats["search"]
    )
    raw_frame_ms, raw_frame_all, raw_df = median_ms(
        lambda: raw_frame(connection, "search"), repeats["frame"]
    )
    connection.close()
    assert raw_names == names, "raw SQL and search_runs disagree on the top 100"
    assert len(df) == len(raw_df) == len(seed_runs)
    return {
        **measured,
        "raw_search_ms": raw_ms,
        "raw_search_ms_all": raw_all,
        "raw_frame_s": raw_frame_ms / 1000,
        "raw_frame_s_all": [value / 1000 for value in raw_frame_all],
        "raw_frame_shape": list(raw_df.shape),
    }


def main() -> None:
    """Run every measure and write the results."""
    global PROFILE_DIR
    config = json.loads(Path(sys.argv[1]).read_text())
    root = Path(config["root"])
    if config.get("profile_dir"):
        PROFILE_DIR = Path(config["profile_dir"])
    sizes = config["sizes"]
    only = set(config.get("only") or ["single", "batch", "runs", "search"])
    result: dict[str, Any] = {"version": steward.__version__, "module": steward.__file__}
    result["warm_up"] = warm_up(root)
    if "single" in only:
        result["single"] = single_calls(root, sizes["single_calls"])
        result["single_floor"] = raw_insert_floor(root, sizes["single_calls"])
    if "batch" in only:
        result["batch"] = batch_points(root, sizes["batch_points"], sizes["batch_keys"])
        result["batch_floor"] = raw_insert_floor(root, sizes["batch_points"])
    if "runs" in only:
        result["runs"] = many_runs(
            root, sizes["runs"], sizes["params_per_run"], sizes["metrics_per_run"]
        )
        result["runs_floor"] = raw_runs_floor(
            root, sizes["runs"], sizes["params_per_run"], sizes["metrics_per_run"]
        )
    if "search" in only:
        result["search"] = search(root, config["seed_runs"], config["repeats"])
    Path(sys.argv[2]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
