"""MLflow's side of ``benchmarks/tracking.py``, run in MLflow's own venv.

Usage (through ``peers.run_snippet``): ``python mlflow_tracking.py CONFIG RESULT``.
Each measure gets a fresh SQLite tracking store (``sqlite:///<root>/<name>/mlflow.db``)
and an experiment whose artifacts go to a temporary folder; timers start after
imports and set-up. This file must not import Steward.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.utils.validation import MAX_METRICS_PER_BATCH


def fresh_store(root: Path, name: str) -> str:
    """Point MLflow at a new SQLite store under ``root/name``; return a new experiment's id."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    return mlflow.create_experiment(name, artifact_location=(folder / "artifacts").as_uri())


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
    """One run in a scratch store, so no measure pays for the process's first run."""
    experiment_id = fresh_store(root, "warm-up")
    start = time.perf_counter()
    with mlflow.start_run(experiment_id=experiment_id, run_name="warm-up"):
        mlflow.log_params({"warm": 1})
        mlflow.log_metrics({"up": 1.0})
    return {"first_run_s": time.perf_counter() - start}


def single_calls(root: Path, calls: int) -> dict[str, Any]:
    """(a) ``mlflow.log_metric`` one point at a time (synchronous: durable on return)."""
    experiment_id = fresh_store(root, "single")
    with mlflow.start_run(experiment_id=experiment_id, run_name="single") as run:
        start = time.perf_counter()
        for step in range(calls):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        elapsed = time.perf_counter() - start
    stored = len(MlflowClient().get_metric_history(run.info.run_id, "loss"))
    assert stored == calls, f"stored {stored} of {calls} points"
    return {"calls": calls, "seconds": elapsed, "per_s": calls / elapsed}


def batch_points(root: Path, points: int, keys: int) -> dict[str, Any]:
    """(b) ``MlflowClient.log_batch`` in chunks of MLflow's maximum of 1000 metrics."""
    experiment_id = fresh_store(root, "batch")
    client = MlflowClient()
    names = [f"m{index}" for index in range(keys)]
    steps = points // keys
    steps_per_batch = MAX_METRICS_PER_BATCH // keys
    with mlflow.start_run(experiment_id=experiment_id, run_name="batch") as run:
        run_id = run.info.run_id
        start = time.perf_counter()
        for first in range(0, steps, steps_per_batch):
            now = int(time.time() * 1000)
            client.log_batch(
                run_id,
                metrics=[
                    Metric(name, step * 1e-3, now, step)
                    for step in range(first, min(first + steps_per_batch, steps))
                    for name in names
                ],
            )
        elapsed = time.perf_counter() - start
    stored = len(client.get_metric_history(run_id, names[-1]))
    assert stored == steps, f"stored {stored} of {steps} steps"
    return {
        "points": steps * keys,
        "seconds": elapsed,
        "per_s": steps * keys / elapsed,
        "method": f"MlflowClient.log_batch, {steps_per_batch * keys} metrics per call",
    }


def many_runs(root: Path, runs: int, params: int, metrics: int) -> dict[str, Any]:
    """(c) ``runs`` runs, each started, given params and metrics, and ended (fluent API)."""
    experiment_id = fresh_store(root, "runs")
    start = time.perf_counter()
    for index in range(runs):
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"run-{index:05d}"):
            mlflow.log_params({f"param_{key}": index * 100 + key for key in range(params)})
            mlflow.log_metrics({f"metric_{key}": index + key / 10 for key in range(metrics)})
    elapsed = time.perf_counter() - start
    found = MlflowClient().search_runs([experiment_id], max_results=runs)
    assert len(found) == runs and all(len(run.data.params) == params for run in found)
    return {"runs": runs, "seconds": elapsed, "per_s": runs / elapsed}


def search(root: Path, seed_runs: list[dict[str, Any]], repeats: dict[str, int]) -> dict[str, Any]:
    """(d) and (e): seed runs (untimed), then search the top 100 and fetch all as a frame."""
    experiment_id = fresh_store(root, "search")
    client = MlflowClient()
    start = time.perf_counter()
    # MLflow's fastest documented way to write a finished run: three calls, one batch.
    for spec in seed_runs:
        run = client.create_run(experiment_id, run_name=spec["name"])
        now = int(time.time() * 1000)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(key, value, now, 0) for key, value in spec["metrics"].items()],
            params=[Param(key, str(value)) for key, value in spec["params"].items()],
        )
        client.set_terminated(run.info.run_id)
    seed_seconds = time.perf_counter() - start

    def top_100() -> list[str]:
        found = client.search_runs(
            [experiment_id],
            filter_string="metrics.acc > 0.5",
            order_by=["metrics.acc DESC"],
            max_results=100,
        )
        return [run.info.run_name for run in found]

    def frame() -> Any:
        return mlflow.search_runs(experiment_ids=[experiment_id], max_results=len(seed_runs))

    search_ms, search_all, names = median_ms(top_100, repeats["search"])
    frame_ms, frame_all, df = median_ms(frame, repeats["frame"])
    assert len(df) == len(seed_runs)
    return {
        "seed_runs": len(seed_runs),
        "seed_seconds": seed_seconds,
        "search_ms": search_ms,
        "search_ms_all": search_all,
        "search_names": names,
        "search_method": "MlflowClient.search_runs",
        "frame_s": frame_ms / 1000,
        "frame_s_all": [value / 1000 for value in frame_all],
        "frame_shape": list(df.shape),
    }


def main() -> None:
    """Run every measure and write the results."""
    config = json.loads(Path(sys.argv[1]).read_text())
    root = Path(config["root"])
    sizes = config["sizes"]
    only = set(config.get("only") or ["single", "batch", "runs", "search"])
    result: dict[str, Any] = {"version": mlflow.__version__}
    result["warm_up"] = warm_up(root)
    if "single" in only:
        result["single"] = single_calls(root, sizes["single_calls"])
    if "batch" in only:
        result["batch"] = batch_points(root, sizes["batch_points"], sizes["batch_keys"])
    if "runs" in only:
        result["runs"] = many_runs(
            root, sizes["runs"], sizes["params_per_run"], sizes["metrics_per_run"]
        )
    if "search" in only:
        result["search"] = search(root, config["seed_runs"], config["repeats"])
    Path(sys.argv[2]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
