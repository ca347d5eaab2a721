"""MLflow's client side of ``benchmarks/server.py``: the measures of
``mlflow_tracking.py``, through an ``mlflow server`` (``MLFLOW_TRACKING_URI``).

Usage (through ``peers.run_snippet``): ``python mlflow_server_client.py CONFIG RESULT``.
This file must not import Steward.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import mlflow
import mlflow_tracking as measures


def server_store(root: Path, name: str) -> str:
    """A new experiment on the tracking server; its id."""
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    return mlflow.create_experiment(name)


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
    result["search"] = measures.search(root, config["seed_runs"], config["repeats"])
    Path(sys.argv[2]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
