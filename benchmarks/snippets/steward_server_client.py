"""Steward's client side of ``benchmarks/server.py``: the tracking measures of
``steward_tracking.py``, through a ``steward server`` (``STEWARD_URI``/``STEWARD_TOKEN``).

Usage (through ``peers.run_snippet``): ``python steward_server_client.py CONFIG RESULT``.
Each measure gets a fresh experiment on the shared server; timers start after set-up.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import steward_tracking as measures

import steward


def server_workspace(root: Path, name: str) -> steward.Workspace:
    """A workspace on the server (STEWARD_URI), pinned, with experiment ``name``."""
    workspace = steward.open_workspace(home=root / name)
    steward.use_workspace(workspace)
    steward.set_experiment(name)
    return workspace


def search(root: Path, seed_runs: list[dict[str, Any]], repeats: dict[str, int]) -> dict[str, Any]:
    """Seed runs (timed apart), then the top 100 by a metric filter and order."""
    server_workspace(root, "search")
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
    measures.fresh_workspace = server_workspace  # the same measures, on the server
    result: dict[str, Any] = {"version": steward.__version__}
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
