"""MLflow's client side of ``benchmarks/server.py``: the measures of
``mlflow_tracking.py``, through an ``mlflow server`` (``MLFLOW_TRACKING_URI``).

Usage (through ``peers.run_snippet``): ``python mlflow_server_client.py CONFIG RESULT``.
This file must not import Steward.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import mlflow
import mlflow_tracking as measures
from mlflow import MlflowClient
from mlflow.entities import Metric, Param


def server_store(root: Path, name: str) -> str:
    """A new experiment on the tracking server; its id."""
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    return mlflow.create_experiment(name)


def search(root: Path, seed_runs: list[dict[str, Any]], repeats: dict[str, int]) -> dict[str, Any]:
    """Seed runs with MLflow's fastest documented calls, then the top 100."""
    experiment_id = server_store(root, "search")
    client = MlflowClient()
    start = time.perf_counter()
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

    search_ms, search_all, names = measures.median_ms(top_100, repeats["search"])
    return {
        "seed_runs": len(seed_runs),
        "seed_seconds": seed_seconds,
        "search_ms": search_ms,
        "search_ms_all": search_all,
        "search_names": names,
    }


def main() -> None:
    """Run every measure against the server and write the results."""
    config = json.loads(Path(sys.argv[1]).read_text())
    root, sizes = Path(config["root"]), config["sizes"]
    measures.fresh_store = server_store
    result: dict[str, Any] = {"version": mlflow.__version__}
    result["warm_up"] = measures.warm_up(root)
    result["single"] = measures.single_calls(root, sizes["single_calls"])
    result["batch"] = measures.batch_points(root, sizes["batch_points"], sizes["batch_keys"])
    result["runs"] = measures.many_runs(
        root, sizes["runs"], sizes["params_per_run"], sizes["metrics_per_run"]
    )
    result["search"] = search(root, config["seed_runs"], config["repeats"])
    Path(sys.argv[2]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
