"""Team-server benchmark: ``steward server`` against MLflow's tracking server, same run.

Run alone with ``.venv/bin/python benchmarks/server.py`` (``--quick`` for a smoke
run, ``--json PATH`` to keep the figures). Both servers run on SQLite over
loopback, one process each (MLflow: ``--workers 1`` and its job runner off, its
leanest set-up); Steward's with auth on (every call carries an editor's token),
MLflow's without auth (its basic auth costs a password hash per request). The
clients run the tracking benchmark's own measures (``snippets/steward_tracking.py``
and ``snippets/mlflow_tracking.py``), pointed at the servers.

Measures (issue #16 targets in brackets):
    log_metric calls/s, durable at the end  [>= 10x MLflow; the SDK batches over HTTP]
    batched metric points/s                  [>= 20x]
    runs/s (20 params + 5 metrics each)      [>= 20x]
    top-100 search of 1,000 runs, ms         [>= 20x]
    ready: process start to first 200, s     [<= 2 s]
    idle RSS of the whole process tree, MB   [<= 150 MB]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from peers import mlflow_python, run_snippet
from rich.console import Console
from rich.table import Table

from tracking import machine, ratio, seed_runs

HERE = Path(__file__).resolve().parent
SNIPPETS = HERE / "snippets"
FULL = {
    "single_calls": 10_000,
    "batch_points": 300_000,
    "batch_keys": 10,
    "runs": 300,
    "params_per_run": 20,
    "metrics_per_run": 5,
    "search_runs": 1_000,
}
QUICK = {**FULL, "single_calls": 1_000, "batch_points": 20_000, "runs": 30, "search_runs": 300}
MLFLOW_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
}


def free_port() -> int:
    """A free loopback port."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    command: list[str], env: dict[str, str], health: str, log: Path
) -> tuple[Any, float, float]:
    """Start a server; return the process, the seconds until ``health`` answered 200, and
    the CPU seconds its processes had used by then."""
    began = time.perf_counter()
    with open(log, "wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(health, timeout=1) as answer:
                if answer.status == 200:
                    return process, time.perf_counter() - began, tree_cpu_s(process.pid)
        except OSError:
            time.sleep(0.02)


def stop(process: Any) -> None:
    """Stop a server and its workers."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tree(pid: int) -> list[int]:
    """A process and all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += children.get(current, [])
    return found


def tree_rss_mb(pid: int) -> tuple[float, int]:
    """Resident memory of a process and all its descendants, MB, and how many processes."""
    total_kb, count = 0, 0
    for current in _tree(pid):
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+)", status)
        total_kb += int(match.group(1)) if match else 0
        count += 1
    return total_kb / 1024, count


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process and its live descendants have used: on a
    loaded machine the figure that wall time hides."""
    ticks = 0
    for current in _tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(
    command: list[str],
    env: dict[str, str],
    health: str,
    root: Path,
    client: Any,
) -> dict[str, Any]:
    """Start a server on a fresh store (timed), stop it, start it again on that store
    (timed: the usual start), take its idle RSS, run ``client(first_log)`` against it."""
    first_log = root / "server-first.log"
    process, first_s, _ = start(command, env, health, first_log)
    stop(process)
    process, ready_s, ready_cpu_s = start(command, env, health, root / "server.log")
    try:
        time.sleep(3)
        rss_mb, processes = tree_rss_mb(process.pid)
        cpu_before = tree_cpu_s(process.pid)
        result: dict[str, Any] = client(first_log)
        result["server_cpu_s"] = tree_cpu_s(process.pid) - cpu_before
    finally:
        stop(process)
    return {
        **result,
        "first_ready_s": first_s,
        "ready_s": ready_s,
        "ready_cpu_s": ready_cpu_s,
        "idle_rss_mb": rss_mb,
        "processes": processes,
    }


def steward_side(root: Path, config: dict[str, Any]) -> dict[str, Any]:
    """``steward server`` on SQLite and a local folder, the client with an editor's token."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("STEWARD_")}
    # Bytecode as an installed package has it (pip compiles on install; MLflow's venv
    # has it), kept in the scratch folder: else every start compiles Steward anew.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "steward.cli",
        "server",
        "--home",
        str(root / "home"),
        "--port",
        str(port),
    ]

    def client(first_log: Path) -> dict[str, Any]:
        match = re.search(r"stw_[A-Za-z0-9_-]{43}", first_log.read_text())
        assert match, "no bootstrap token on the console"
        token = _editor_token(url, match.group(0))
        return run_snippet(
            sys.executable,
            SNIPPETS / "steward_server_client.py",
            config,
            env={**env, "STEWARD_URI": url, "STEWARD_TOKEN": token, "PYTHONPATH": str(SNIPPETS)},
        )

    return measure(command, env, url + "/api/v1/health", root, client)


def _editor_token(url: str, admin: str) -> str:
    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            url + "/api/v1" + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"authorization": f"Bearer {admin}", "content-type": "application/json"},
        )
        with urllib.request.urlopen(request) as answer:
            result: dict[str, Any] = json.loads(answer.read())
            return result

    post("/users", {"name": "bench", "role": "editor"})
    return str(post("/tokens", {"user": "bench", "name": "bench"})["secret"])


def mlflow_side(python: Path, root: Path, config: dict[str, Any]) -> dict[str, Any]:
    """``mlflow server`` on SQLite (one worker, no job runner), its client without auth."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **MLFLOW_ENV}
    command = [
        str(python.parent / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--default-artifact-root",
        str(root / "artifacts"),
    ]

    def client(_first_log: Path) -> dict[str, Any]:
        return run_snippet(
            python,
            SNIPPETS / "mlflow_server_client.py",
            config,
            env={**MLFLOW_ENV, "MLFLOW_TRACKING_URI": url, "PYTHONPATH": str(SNIPPETS)},
        )

    return measure(command, env, url + "/health", root, client)


ROWS = [
    # label, path in the results, unit, higher is better, target
    ("log_metric calls/s (durable)", ("single", "per_s"), "/s", True, ">= 10x"),
    ("batched points/s", ("batch", "per_s"), "/s", True, ">= 20x"),
    ("runs/s (20 params + 5 metrics)", ("runs", "per_s"), "/s", True, ">= 20x"),
    ("top-100 search of the seeded runs, ms", ("search", "search_ms"), "ms", False, ">= 20x"),
    ("ready after start (warm store), s", ("ready_s",), "s", False, "<= 2 s"),
    ("  CPU used by then, s", ("ready_cpu_s",), "s", False, "-"),
    ("ready after first start, s", ("first_ready_s",), "s", False, "-"),
    ("idle RSS, MB (all processes)", ("idle_rss_mb",), "MB", False, "<= 150 MB"),
    ("server CPU over all the measures, s", ("server_cpu_s",), "s", False, "-"),
]


def pick(result: dict[str, Any] | None, path: tuple[str, ...]) -> float | None:
    """A figure from a side's results, or None."""
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value)


def table(ours: dict[str, Any], theirs: dict[str, Any] | None) -> Table:
    """The results side by side; the ratio is how many times better Steward is."""
    rows = Table(
        title="Team server: Steward (auth on) vs MLflow tracking server", header_style="bold"
    )
    for column in ("measure", "Steward", "MLflow", "Steward better by", "target"):
        rows.add_column(column, justify="left" if column == "measure" else "right")
    for label, path, unit, higher, target in ROWS:
        mine, peer = pick(ours, path), pick(theirs, path)
        better = ratio(mine, peer) if higher else ratio(peer, mine)
        rows.add_row(
            label,
            f"{mine:,.3g} {unit}" if mine is not None else "-",
            f"{peer:,.3g} {unit}" if peer is not None else "-",
            f"{better:.1f}x" if better is not None else "-",
            target,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run both servers and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--no-peer", action="store_true", help="Steward only")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    config = {
        "sizes": sizes,
        "seed_runs": seed_runs(sizes["search_runs"]),
        "repeats": {"search": 3 if args.quick else 15, "frame": 1 if args.quick else 3},
    }
    console = Console()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    with tempfile.TemporaryDirectory(prefix="steward-bench-server-") as scratch:
        root = Path(scratch)
        (root / "steward").mkdir()
        ours = steward_side(root / "steward", {**config, "root": str(root / "steward")})
        theirs = None
        if not args.no_peer:
            (root / "mlflow").mkdir()
            theirs = mlflow_side(
                mlflow_python(), root / "mlflow", {**config, "root": str(root / "mlflow")}
            )
    console.print(table(ours, theirs))
    if theirs and ours["search"]["search_names"] != theirs["search"]["search_names"]:
        console.print("[red]the two top-100 lists differ[/red]")
    console.print(f"machine: {machine()}; load average at start: {' '.join(load)}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"steward": ours, "mlflow": theirs, "load": load, "machine": machine()}, indent=2
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
