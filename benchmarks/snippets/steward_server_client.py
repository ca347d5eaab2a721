"""Steward's client side of ``benchmarks/server.py``: the tracking measures of
``steward_tracking.py``, through a ``steward server`` (``STEWARD_URI``/``STEWARD_TOKEN``).

Usage (through ``peers.run_snippet``): ``python steward_server_client.py CONFIG RESULT``.
Each measure gets a fresh experiment on the shared server; timers start after set-up.
"""

from __future__ import annotations

import json
import sys
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
    result["search"] = measures.search(root, config["seed_runs"], config["repeats"])
    Path(sys.argv[2]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
