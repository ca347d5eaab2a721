"""Agent benchmark: reaction time and idle cost of ``steward agent`` with its defaults.

Run alone with ``.venv/bin/python benchmarks/agent.py`` (``--rounds N``, ``--idle-s S``,
``--json PATH``). No open-source peer has an agent that fires retraining on new data
or alerts, so the figures are printed against the issue's targets:

    (a) a new dataset version -> its trigger's pipeline starts       [<= 2 s]
    (b) an alert fires         -> its trigger's pipeline starts       [<= 2 s]
        (from the commit time in the store to the first line of the pipeline's step,
        and to the firing's recorded start)
    (c) the idle agent's resident memory                             [<= 120 MB]
    (d) the idle agent's CPU use, over --idle-s seconds              [< 1% of a core]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
console = Console()

FLOW = """
import time
from pathlib import Path

import steward


@steward.step(cache=False)
def mark(path: str, trigger: str) -> float:
    now = time.time()
    with Path(path).open("a") as handle:
        handle.write(f"{trigger} {now}\\n")
    return now


@steward.pipeline
def started(path: str, cause: dict | None = None) -> float:
    return mark(path, (cause or {}).get("trigger", "?"))
"""


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _marks(path: Path) -> list[tuple[str, float]]:
    if not path.exists():
        return []
    return [(c, float(t)) for c, t in (line.split() for line in path.read_text().splitlines())]


def _wait_marks(path: Path, count: int, what: str) -> None:
    _wait(lambda: len(_marks(path)) >= count, 30, what)


def run(rounds: int, idle_s: float) -> dict[str, Any]:
    import pandas as pd

    import steward
    from steward.monitoring.alerts.manager import AlertManager
    from steward.workspace import open_workspace, use_workspace

    scratch = Path(tempfile.mkdtemp(prefix="steward-agent-bench-"))
    (scratch / "bench_agent_flow.py").write_text(FLOW)
    sys.path.insert(0, str(scratch))
    home = scratch / "home"
    ws = open_workspace(home=home, actor="bench")
    use_workspace(ws)
    marks = scratch / "marks.txt"
    steward.data.add("patients", pd.DataFrame({"x": [0.0]}))
    steward.monitoring.create_monitor(
        "bench",
        table="dataset:patients",
        reference="patients:1",
        window="500 rows",
        rules=["drift.share > 0.3"],
    )
    for cause, spec in (("data", {"new_data": "patients"}), ("alert", {"alert": "bench"})):
        steward.triggers.add(
            cause,
            "bench_agent_flow:started",
            params={"path": str(marks)},
            **spec,
        )
    env = {
        **os.environ,
        "STEWARD_HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(scratch), *sys.path]),
    }
    agent = subprocess.Popen(
        [sys.executable, "-m", "steward.cli", "agent"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait(lambda: ws.store.agent_lease.get() is not None, 60, "the agent to take the lease")
        time.sleep(1.0)  # let start-up settle before measuring idle
        cpu_before, wall_before = _cpu_s(agent.pid), time.monotonic()
        rss = []
        while time.monotonic() - wall_before < idle_s:
            rss.append(_rss_mb(agent.pid))
            time.sleep(0.5)
        idle_cpu = (_cpu_s(agent.pid) - cpu_before) / (time.monotonic() - wall_before)
        idle_rss = max(rss)

        data_latency, alert_latency, firing_latency = [], [], []
        manager = AlertManager(["drift.share > 0.3"], [], source="monitor:bench", workspace=ws)
        for round_ in range(rounds):
            steward.data.add("patients", pd.DataFrame({"x": [float(round_ + 1)]}))
            (event,) = ws.store.audit.events(action="dataset.version.create", limit=1)
            _wait_marks(marks, 2 * round_ + 1, "the data pipeline")
            data_latency.append(_marks(marks)[-1][1] - event.at.timestamp())
            latest = ws.store.agent.firings(trigger="data", limit=1)[0]
            assert latest.started_at is not None
            firing_latency.append((latest.started_at - event.at).total_seconds())

            manager.evaluate({"drift.share": 0.0})  # resolve the last round's alert
            manager.evaluate({"drift.share": 0.9})
            (fired,) = ws.store.audit.events(action="alert.fire", limit=1)
            _wait_marks(marks, 2 * round_ + 2, "the alert pipeline")
            alert_latency.append(_marks(marks)[-1][1] - fired.at.timestamp())
        busy_rss = _rss_mb(agent.pid)
    finally:
        agent.terminate()
        stderr = agent.communicate(timeout=30)[1]
        use_workspace(None)
        ws.close()
    if agent.returncode not in (0, -15):
        raise RuntimeError(f"the agent failed:\n{stderr}")
    return {
        "new_data_to_step_s": data_latency,
        "new_data_to_firing_start_s": firing_latency,
        "alert_to_step_s": alert_latency,
        "idle_rss_mb": idle_rss,
        "rss_after_firings_mb": busy_rss,
        "idle_cpu_share": idle_cpu,
        "idle_s": idle_s,
    }


def report(figures: dict[str, Any]) -> None:
    table = Table(title="steward agent (defaults: poll 0.5 s)", header_style="bold")
    for column in ("measure", "steward", "target", "ok"):
        table.add_column(column)

    def row(name: str, value: float, target: float, unit: str, fmt: str = ".2f") -> None:
        table.add_row(name, f"{value:{fmt}} {unit}", f"<= {target:g} {unit}", _ok(value <= target))

    for key, label in (
        ("new_data_to_step_s", "new data version -> pipeline step (median)"),
        ("new_data_to_firing_start_s", "new data version -> firing start (median)"),
        ("alert_to_step_s", "alert fired -> pipeline step (median)"),
    ):
        row(label, statistics.median(figures[key]), 2.0, "s")
        row(label.replace("median", "worst"), max(figures[key]), 2.0, "s")
    row("idle resident memory (peak)", figures["idle_rss_mb"], 120, "MB", ".0f")
    table.add_row(
        f"idle CPU over {figures['idle_s']:g} s",
        f"{figures['idle_cpu_share']:.2%} of a core",
        "< 1% of a core",
        _ok(figures["idle_cpu_share"] < 0.01),
    )
    table.add_row(
        "resident memory after firings",
        f"{figures['rss_after_firings_mb']:.0f} MB",
        "(pipelines run in the agent)",
        "",
    )
    console.print(table)
    console.print("No open-source peer fires pipelines on new data or alerts: no peer column.")


def _ok(passed: bool) -> str:
    return "[green]yes[/green]" if passed else "[red]no[/red]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="new versions and alerts to time")
    parser.add_argument("--idle-s", type=float, default=20.0, help="idle measurement, seconds")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    console.print(
        f"{platform.node()}: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
        f"Python {platform.python_version()}"
    )
    figures = run(args.rounds, args.idle_s)
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
