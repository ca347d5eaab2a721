"""Web UI benchmark: the runs page of a 10,000-run experiment, Steward's UI and
MLflow's in the same run, and every page of the demo store.

Run alone with ``.venv/bin/python benchmarks/webui.py`` (``--quick`` for a smoke
run with fewer runs, ``--no-peer`` for Steward only, ``--json PATH`` to keep the
figures). Both servers run on SQLite over loopback, one process each (MLflow:
``--workers 1``, its job runner off); both stores hold the same runs (three
params, two metrics each, ``tracking.seed_runs``), written untimed. The same
headless chromium (Debian's, driven by Playwright) opens each runs page and the
clock stops when the newest run's row is on screen.

Measures (issue #17 targets in brackets):
    runs page of the experiment, chromium, navigation to rows shown, ms  [< 1,000]
    the same page's HTML from the server, ms (Steward) / MLflow's search call, ms
    every page of the demo store, server time, ms                        [< 300 each]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from peers import mlflow_python, run_snippet
from rich.console import Console
from rich.table import Table

from server import MLFLOW_ENV, free_port, start, stop
from tracking import machine, ratio, seed_runs

HERE = Path(__file__).resolve().parent
SNIPPETS = HERE / "snippets"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
USER, PASSWORD = "bench", "bench password 1234"
FULL = {"runs": 10_000, "repeats": 5}
QUICK = {"runs": 1_000, "repeats": 3}
EXPERIMENT = "webui-bench"


def median_ms(action: Callable[[], Any], repeats: int) -> tuple[float, list[float]]:
    """Median wall time of ``action`` in ms (after one untimed warm-up), and every time."""
    action()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), times


def seed_steward(home: Path, runs: list[dict[str, Any]]) -> None:
    """Write the runs (finished, params and metrics) and a viewer with a password."""
    from steward.store.records import Metric, RunStatus
    from steward.workspace import open_workspace

    workspace = open_workspace(home=home, actor=USER)
    tracking = workspace.store.tracking
    experiment = tracking.create_experiment(EXPERIMENT, USER)
    start_ms = int(time.time() * 1000) - len(runs) * 1000
    for index, spec in enumerate(runs):
        at = start_ms + index * 1000
        run = tracking.create_run(experiment.id, spec["name"], USER, start_time_ms=at)
        metrics = [Metric(key, value, 0, at) for key, value in spec["metrics"].items()]
        tracking.log_batch(run.id, USER, metrics=metrics, params=spec["params"])
        tracking.end_run(run.id, RunStatus.FINISHED, USER, end_time_ms=at + 500)
    workspace.store.auth.create_user(USER, "viewer", USER, password=PASSWORD)
    workspace.close()


def steward_server(home: Path, log: Path) -> tuple[Any, str]:
    """``steward server`` on ``home``; the process and its URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
    command = [
        sys.executable,
        "-m",
        "steward.cli",
        "server",
        "--home",
        str(home),
        "--port",
        str(port),
    ]
    url = f"http://127.0.0.1:{port}"
    process, _ = start(command, env, url + "/api/v1/health", log)
    return process, url


def signed_in(url: str) -> httpx.Client:
    """An HTTP client with a viewer's browser session."""
    client = httpx.Client(base_url=url, timeout=60)
    answer = client.post("/ui/login", data={"username": USER, "password": PASSWORD})
    assert answer.status_code == 303 and "steward_session" in client.cookies, "sign-in failed"
    return client


def browser_ms(url: str, newest: str, repeats: int, cookies: list[dict[str, Any]]) -> list[float]:
    """Chromium: ms from navigating to ``url`` until the row of ``newest`` is visible."""
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        context.add_cookies(cookies)
        page = context.new_page()
        for attempt in range(repeats + 1):  # the first load warms caches, untimed
            page.goto("about:blank")
            began = time.perf_counter()
            page.goto(url, wait_until="commit")
            page.get_by_text(newest, exact=True).first.wait_for(state="visible", timeout=120_000)
            if attempt:
                times.append((time.perf_counter() - began) * 1000)
        browser.close()
    return times


def steward_runs_page(root: Path, runs: list[dict[str, Any]], repeats: int) -> dict[str, Any]:
    """Steward's side: seed, serve, time the page's HTML and the page in chromium."""
    home = root / "home"
    began = time.perf_counter()
    seed_steward(home, runs)
    seeded = time.perf_counter() - began
    process, url = steward_server(home, root / "server.log")
    try:
        client = signed_in(url)
        path = f"/ui/experiments/{EXPERIMENT}"
        html_ms, html_all = median_ms(lambda: client.get(path).raise_for_status(), repeats)
        cookies = [
            {"name": name, "value": value, "url": url} for name, value in client.cookies.items()
        ]
        client.close()
        page_all = browser_ms(url + path, runs[-1]["name"], repeats, cookies)
    finally:
        stop(process)
    return {
        "seed_seconds": seeded,
        "html_ms": html_ms,
        "html_ms_all": html_all,
        "page_ms": statistics.median(page_all),
        "page_ms_all": page_all,
    }


def mlflow_runs_page(root: Path, runs: list[dict[str, Any]], repeats: int) -> dict[str, Any]:
    """MLflow's side: seed its store (its own ORM, untimed), serve, time search and page."""
    python = mlflow_python()
    database = root / "mlflow.db"
    seeded = run_snippet(
        python,
        SNIPPETS / "mlflow_ui_seed.py",
        {"database": str(database), "artifacts": str(root / "artifacts"), "runs": runs},
        env=MLFLOW_ENV,
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(python.parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--backend-store-uri", f"sqlite:///{database}",
        "--default-artifact-root", str(root / "artifacts"),
    ]  # fmt: skip
    process, _ = start(command, {**os.environ, **MLFLOW_ENV}, url + "/health", root / "mlflow.log")
    try:
        body = {
            "experiment_ids": [seeded["experiment_id"]],
            "max_results": 100,
            "order_by": ["attributes.start_time DESC"],
        }
        with httpx.Client(base_url=url, timeout=60) as client:
            search_ms, search_all = median_ms(
                lambda: client.post(
                    "/ajax-api/2.0/mlflow/runs/search", json=body
                ).raise_for_status(),
                repeats,
            )
        page_url = f"{url}/#/experiments/{seeded['experiment_id']}/runs"
        page_all = browser_ms(page_url, runs[-1]["name"], repeats, [])
    finally:
        stop(process)
    return {
        "seed_seconds": seeded["seconds"],
        "search_ms": search_ms,
        "search_ms_all": search_all,
        "page_ms": statistics.median(page_all),
        "page_ms_all": page_all,
    }


def demo_pages(root: Path, repeats: int) -> dict[str, float]:
    """Run ``steward demo`` into a fresh store, serve it, time every page (median ms)."""
    home = root / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
    subprocess.run(
        [sys.executable, "-m", "steward.cli", "demo"],
        env={**env, "STEWARD_HOME": str(home)},
        check=True,
        capture_output=True,
        cwd=root,
    )
    from steward.demo import EXPERIMENT as DEMO_EXPERIMENT
    from steward.demo import REGISTERED_MODEL as MODEL
    from steward.serving.reading import read_predictions
    from steward.workspace import open_workspace

    workspace = open_workspace(home=home, actor=USER)
    run_id = workspace.store.tracking.search_runs(max_results=1).runs[0].id
    two = "&".join(f"run={r.id}" for r in workspace.store.tracking.search_runs(max_results=2).runs)
    request_id = read_predictions(MODEL, workspace=workspace)["request_id"].iloc[0]
    workspace.store.auth.create_user(USER, "viewer", USER, password=PASSWORD)
    workspace.close()
    paths = [
        "/ui/", "/ui/experiments", f"/ui/experiments/{DEMO_EXPERIMENT}", f"/ui/runs/{run_id}",
        f"/ui/compare?{two}", "/ui/datasets", "/ui/datasets/breast-cancer-train",
        "/ui/datasets/breast-cancer-train/1", "/ui/datasets/breast-cancer-train/diff?a=1&b=1",
        "/ui/models", f"/ui/models/{MODEL}", f"/ui/models/{MODEL}/1", "/ui/deployments",
        f"/ui/deployments/{MODEL}", "/ui/monitoring", f"/ui/monitoring/{MODEL}-drift",
        "/ui/pipelines", f"/ui/lineage?ref=run:{run_id}",
        f"/ui/predictions?request_id={request_id}", "/ui/audit",
    ]  # fmt: skip
    process, url = steward_server(home, root / "demo-server.log")
    try:
        client = signed_in(url)
        timed = {
            path: median_ms(lambda p=path: client.get(p).raise_for_status(), repeats)[0]
            for path in paths
        }
        client.close()
        return timed
    finally:
        stop(process)


def report(
    console: Console, runs: int, ours: dict[str, Any], theirs: dict[str, Any] | None
) -> None:
    """Print the runs-page table: ours, MLflow's, the ratio, the target."""
    table = Table(title=f"Runs page of an experiment with {runs:,} runs (median ms)")
    for column in ("measure", "Steward", "MLflow 3.17.2", "MLflow / Steward", "target"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    peer = theirs or {}
    page_ratio = ratio(peer.get("page_ms"), ours["page_ms"])
    table.add_row(
        "chromium: navigation to newest row shown",
        f"{ours['page_ms']:.0f}",
        f"{peer['page_ms']:.0f}" if peer else "-",
        f"{page_ratio:.1f}x" if page_ratio else "-",
        "< 1,000 ms " + ("met" if ours["page_ms"] < 1000 else "MISSED"),
    )
    table.add_row(
        "server: page HTML (Steward) / runs/search of 100 (MLflow)",
        f"{ours['html_ms']:.1f}",
        f"{peer['search_ms']:.1f}" if peer else "-",
        "-",
        "",
    )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    """Run both UIs and the demo pages; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 runs, fewer repeats")
    parser.add_argument("--no-peer", action="store_true", help="Steward only")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    runs = seed_runs(sizes["runs"])
    console = Console(width=120)
    load = Path("/proc/loadavg").read_text().split()[:3]
    with tempfile.TemporaryDirectory(prefix="steward-bench-webui-") as scratch:
        root = Path(scratch)
        for name in ("steward", "mlflow"):
            (root / name).mkdir()
        ours = steward_runs_page(root / "steward", runs, sizes["repeats"])
        theirs = None if args.no_peer else mlflow_runs_page(root / "mlflow", runs, sizes["repeats"])
        pages = demo_pages(root, sizes["repeats"])
    report(console, len(runs), ours, theirs)
    table = Table(title="Every page of the demo store: server time (median ms)")
    table.add_column("page")
    table.add_column("ms", justify="right")
    for path, ms in sorted(pages.items(), key=lambda item: -item[1]):
        table.add_row(path if len(path) < 70 else path[:67] + "...", f"{ms:.1f}")
    console.print(table)
    slowest = max(pages.values())
    verdict = "met" if slowest < 300 else "MISSED"
    console.print(f"slowest page {slowest:.0f} ms; target < 300 ms each: {verdict}")
    console.print(f"machine: {machine()}; load average at start: {' '.join(load)}")
    if args.json:
        results = {"steward": ours, "mlflow": theirs, "pages": pages, "load": load}
        args.json.write_text(json.dumps({**results, "machine": machine()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
