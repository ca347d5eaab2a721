"""Pipelines benchmark: Steward against ZenML, Metaflow, Prefect, Kedro and plain Python.

Run alone with ``.venv/bin/python benchmarks/pipelines.py`` (``--quick`` for a smoke
run, ``--only steward,kedro`` to pick tools, ``--skip-scoring``, ``--json PATH``).
Peers are installed into their own venvs (``.bench/venvs/<tool>``) on first use.

Measures (issue targets in brackets):
    (a) the same 20-step fan-out/fan-in (one source of a 10k-row frame, 18 small steps,
        one join), cold and fully cached rerun, each in a fresh process; the time of
        the run call (after imports) and of the whole process; ``--repeat`` times in
        fresh workspaces, the tools taking turns, medians shown
        [cold >= 2x faster than Kedro, >= 10x ZenML and Metaflow; cached <= 0.3 s]
    (b) per-step overhead inline: 20 no-op steps against 20 plain calls [<= 5 ms]
    (c) CPU-bound steps on a local 2-CPU Ray cluster against inline [>= 1.7x]
    (d) batch scoring N rows x 30 features through the ONNX export against raw
        onnxruntime in one process [>= 80%], and on 2 Ray workers [>= 1.7x one process]

Steward's snippets run from compiled bytecode, as the peers' pip-installed packages
do (see ``_compile_steward``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from peers import ensure_venv, installed_version, run_snippet
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
SNIPPETS = HERE / "snippets"
console = Console()

PEERS: dict[str, list[str]] = {
    "kedro": ["kedro==1.7.0", "pandas<3"],
    "metaflow": ["metaflow==2.19.39", "pandas<3"],
    "prefect": ["prefect==3.9.1", "pandas<3"],
    "zenml": ["zenml[local]==0.98.0", "pandas<3"],
}
DISTRIBUTION = {"kedro": "kedro", "metaflow": "metaflow", "prefect": "prefect", "zenml": "zenml"}
ISSUE_FIGURES = {  # measured on this machine kind when the issue was filed (cold, cached)
    "zenml": (8.1, 6.4),
    "metaflow": (9.1, 0.89),
    "prefect": (3.5, 3.1),
    "kedro": (0.81, 0.65),
    "plain": (0.36, None),
}
ISSUE_STEP_OVERHEAD_MS = {"kedro": 22.0, "zenml": 390.0}


def _prefect_server(scratch: Path) -> tuple[dict[str, str], Any]:
    """Start ``prefect server`` once (as the issue measured, server already running)."""
    python = ensure_venv("prefect", PEERS["prefect"])
    port = 4200 + os.getpid() % 500
    env = {**os.environ, "PREFECT_HOME": str(scratch / "prefect-home")}
    server = subprocess.Popen(
        [str(python), "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
         str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            return {**env, "PREFECT_API_URL": url}, server
        except OSError:
            time.sleep(1)
    server.kill()
    return {**env, "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true"}, None


def run_tool(tool: str, scratch: Path) -> dict[str, Any]:
    """Cold then cached run of the workload with one tool, each in a fresh process.

    ``scratch`` is a new folder per call: each call's cold run meets an empty cache.
    """
    folder = scratch / tool
    folder.mkdir(parents=True, exist_ok=True)
    # The snippets run from the tool's folder: ZenML wants its code under its source root.
    for snippet in SNIPPETS.glob("pipelines_*.py"):
        shutil.copy(snippet, folder / snippet.name)
    env = {"PYTHONPATH": str(folder)}
    server = None
    if tool in ("plain", "steward"):
        # Keep ours (a worktree's src/ first), so the snippet measures this checkout.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), os.getenv("PYTHONPATH")]))
        python: Path | str = sys.executable
        version = "-" if tool == "plain" else _steward_version()
    else:
        python = ensure_venv(tool, PEERS[tool])
        version = installed_version(Path(python), DISTRIBUTION[tool])
    if tool == "zenml":
        env |= {
            "ZENML_ANALYTICS_OPT_IN": "false",
            "ZENML_CONFIG_PATH": str(folder / ".zenconfig"),
            "AUTO_OPEN_DASHBOARD": "false",
        }
        zenml = Path(python).parent / "zenml"
        subprocess.run([str(zenml), "init"], cwd=folder, check=False,
                       env={**os.environ, **env}, capture_output=True)  # fmt: skip
    if tool == "steward":
        _compile_steward()
        setup = {"phase": "setup", "home": str(folder / ".steward")}
        run_snippet(python, folder / "pipelines_steward.py", setup, env=env, cwd=folder)
    if tool == "prefect":
        prefect_env, server = _prefect_server(scratch)
        env |= prefect_env
    results: dict[str, Any] = {"tool": tool, "version": version}
    try:
        for phase in ("cold", "cached"):
            config = {"phase": phase, "home": str(folder / ".steward")}
            started = time.perf_counter()
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            result = run_snippet(python, folder / f"pipelines_{tool}.py", config, env=env,
                                 cwd=folder, timeout=900)  # fmt: skip
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            results[phase] = {
                "run_s": result["run_s"],
                "run_cpu_s": result.get("cpu_s"),
                "process_s": time.perf_counter() - started,
                # The snippet's process and what it waited for (Metaflow runs its steps
                # in subprocesses, so its run call's own CPU time misses most of it).
                "process_cpu_s": (after.ru_utime + after.ru_stime)
                - (children.ru_utime + children.ru_stime),
            }
            if tool == "steward":
                results[phase]["counts"] = result["counts"]
    except Exception as exc:  # a peer that breaks is reported, not fatal
        results["error"] = str(exc)
    finally:
        if server is not None:
            server.kill()
    return results


def median_of(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """One tool's attempts as one result: per phase, the median of each figure, and the
    run call's times of every attempt (``runs``)."""
    done = [attempt for attempt in attempts if "error" not in attempt]
    if not done:
        return attempts[0]
    result = dict(done[0])
    for phase in ("cold", "cached"):
        phases = [attempt[phase] for attempt in done]
        result[phase] = {
            key: statistics.median(item[key] for item in phases)
            for key in ("run_s", "process_s", "process_cpu_s")
        } | {"runs": sorted(item["run_s"] for item in phases)}
        cpu = [item["run_cpu_s"] for item in phases if item["run_cpu_s"] is not None]
        result[phase]["run_cpu_s"] = statistics.median(cpu) if cpu else None
    return result


def _compile_steward() -> None:
    """Compile Steward's modules once, as pip does when it installs a package.

    The peers' venvs (and our own dependencies) hold compiled bytecode; a source
    checkout is compiled on import unless Python may write ``__pycache__``, and
    with ``PYTHONDONTWRITEBYTECODE`` set every process compiled Steward anew
    (about 0.1 s of each process, and each module first imported inside the run
    call). The ``__pycache__`` folders this writes are git-ignored.
    """
    import steward

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(steward.__file__).parent)],
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""},
        check=True,
    )


def _steward_version() -> str:
    import steward

    return steward.__version__


def step_overhead(scratch: Path, repeats: int) -> dict[str, float]:
    """Per-step overhead of inline steps: a 20-step chain of no-ops against plain calls."""
    sys.path.insert(0, str(SNIPPETS))
    os.environ["STEWARD_HOME"] = str(scratch / "overhead" / ".steward")
    import pipelines_cpu

    pipelines_cpu.chain.run({"salt": 10_000}, progress=False)  # open the stores, warm imports
    cold, cached = [], []
    for salt in range(repeats):
        started = time.perf_counter()
        pipelines_cpu.chain.run({"salt": salt}, progress=False)
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        pipelines_cpu.chain.run({"salt": salt}, progress=False)
        cached.append(time.perf_counter() - started)
    cpu = []
    for salt in range(repeats):
        started = time.process_time()
        pipelines_cpu.chain.run({"salt": 500 + salt}, progress=False)
        cpu.append(time.process_time() - started)
    started = time.perf_counter()
    previous = None
    for index in range(20):
        previous = pipelines_cpu.nothing.fn(index, previous)
    plain = time.perf_counter() - started
    return {
        "per_step_ms": (statistics.median(cold) - plain) / 20 * 1000,
        "per_step_cpu_ms": statistics.median(cpu) / 20 * 1000,
        "cached_run_s": statistics.median(cached),
    }


def ray_speedup(loops: int) -> dict[str, float]:
    """CPU-bound steps inline against a local 2-CPU Ray cluster (started beforehand)."""
    import pipelines_cpu

    from steward.pipelines.ray import connect

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    connect(num_cpus=2)
    pipelines_cpu.cpu_bound.run({"salt": 99, "loops": 1000}, executor="ray", progress=False)
    started = time.perf_counter()
    pipelines_cpu.cpu_bound.run({"salt": 1, "loops": loops}, progress=False)
    inline = time.perf_counter() - started
    started = time.perf_counter()
    pipelines_cpu.cpu_bound.run({"salt": 2, "loops": loops}, executor="ray", progress=False)
    on_ray = time.perf_counter() - started
    return {"inline_s": inline, "ray_s": on_ray, "speedup": inline / on_ray}


def _write_input(folder: Path, rows: int, features: int, group: int) -> list[str]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(3)
    names = [f"f{i}" for i in range(features)]
    path = folder / "input.parquet"
    with pq.ParquetWriter(path, pa.schema([(n, pa.float64()) for n in names])) as writer:
        for start in range(0, rows, group):
            block = rng.normal(size=(min(group, rows - start), features))
            writer.write_table(pa.table(dict(zip(names, block.T, strict=True))))
    return names


def _ray_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of the Ray processes this process started (its local cluster;
    Linux ``/proc``): pid -> (kind, seconds). Kinds: ``worker`` (the scoring actors) and
    ``ray`` (raylet, GCS, Ray's own actors and idle workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    stats: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        kind = "worker" if "RayScorer" in command else "ray"
        stats[int(entry.name)] = (kind, (int(fields[11]) + int(fields[12])) / tick)

    def ours(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return {pid: value for pid, value in stats.items() if ours(pid)}


class RayCpuDuring:
    """CPU seconds per kind (see ``_ray_cpu``) used while the block runs, sampled from a
    thread every 0.2 s so that actors Ray Data ends at the job's end are counted."""

    def __init__(self) -> None:
        self.used: dict[str, float] = {}
        self._before = _ray_cpu()
        self._seen: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self._seen.update(_ray_cpu())
            if self._stop.wait(0.2):
                self._seen.update(_ray_cpu())
                return

    def __enter__(self) -> RayCpuDuring:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.used = {"worker": 0.0, "ray": 0.0}
        for pid, (kind, seconds) in self._seen.items():
            self.used[kind] += seconds - self._before.get(pid, (kind, 0.0))[1]


def _running_cluster() -> None:
    """A local 2-CPU Ray cluster as users meet one at RAY_ADDRESS: started, and past its
    first Ray Data job.

    Users point RAY_ADDRESS at a running cluster, so `ray start` is not timed. Ray Data
    starts three detached service actors per cluster (stats, autoscaling coordinator,
    actor locations; 3-4 CPU s of process starts here) on a cluster's first Ray Data job
    and keeps them; a no-op job on an actor pool starts them here. The scoring workers'
    own start (the process, importing Steward, loading the model) stays inside the timed
    call.
    """
    import ray

    from steward.pipelines.ray import connect

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    connect(num_cpus=2)

    class Identity:
        def __call__(self, batch: Any) -> Any:
            return batch

    ray.data.range(2, override_num_blocks=2).map_batches(Identity, concurrency=1).take_all()
    # As on a cluster left running: wait until the raylet has started its idle workers
    # again and the warm-up's actor has gone (Ray's processes idle for 1 s, at most 30 s).
    deadline = time.time() + 30
    while time.time() < deadline:
        before = sum(seconds for _, seconds in _ray_cpu().values())
        time.sleep(1)
        if sum(seconds for _, seconds in _ray_cpu().values()) - before < 0.1:
            break


def scoring(scratch: Path, rows: int, chunk: int) -> dict[str, Any]:
    """Throughput of raw onnxruntime and of steward score (inline, 2 Ray workers)."""
    import numpy as np
    import onnxruntime
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.ensemble import RandomForestClassifier

    import steward

    folder = scratch / "scoring"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["STEWARD_HOME"] = str(folder / ".steward")
    from steward.workspace import use_workspace

    use_workspace(None)
    names = _write_input(folder, rows, 30, chunk)
    rng = np.random.default_rng(4)
    train = pd.DataFrame(rng.normal(size=(20_000, 30)), columns=names)
    labels = (train["f0"] + train["f1"] * train["f2"] > 0).astype(int)
    model = RandomForestClassifier(n_estimators=30, max_depth=8, random_state=0).fit(train, labels)
    with steward.start_run():
        info = steward.models.log(model, "model", input_example=train.head(20), onnx=True,
                                  register="bench-scorer")  # fmt: skip
    assert info.metadata.onnx is not None
    onnx_bytes = (
        steward.models.load("models:/bench-scorer/1", backend="onnx").folder
        / info.metadata.onnx["file"]
    ).read_bytes()
    # Run as Steward's ONNX flavor runs it (one thread, no spin-waiting), so the ratio
    # compares the work around the same model call; onnxruntime's defaults (a thread per
    # core, spinning) cost it twice the CPU on a loaded 2-core machine.
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    started, started_cpu = time.perf_counter(), time.process_time()
    out_folder = folder / "raw"
    out_folder.mkdir(exist_ok=True)
    for number, batch in enumerate(
        pq.ParquetFile(folder / "input.parquet").iter_batches(batch_size=chunk)
    ):
        array = np.column_stack([batch.column(i).to_numpy() for i in range(batch.num_columns)])
        predictions = session.run(None, {input_name: array.astype(np.float64)})[0]
        pq.write_table(pa.table({"prediction": predictions}), out_folder / f"{number}.parquet")
    raw = rows / (time.perf_counter() - started)
    measures: dict[str, Any] = {
        "rows": rows,
        "raw_rows_s": raw,
        "raw_cpu_s": time.process_time() - started_cpu,
    }
    for label, options in (
        ("steward_onnx", {"log_predictions": False}),
        ("steward_onnx_logged", {"log_predictions": True}),
        ("steward_onnx_ray2", {"log_predictions": False, "executor": "ray", "workers": 2}),
    ):
        on_ray = options.get("executor") == "ray"
        if on_ray:
            _running_cluster()
        started_cpu = time.process_time()
        with RayCpuDuring() as ray_cpu:
            result = steward.pipelines.score(
                "models:/bench-scorer/1", str(folder / "input.parquet"), str(folder / label),
                backend="onnx", chunk_rows=chunk, keep_inputs=False, progress=False, **options,
            )  # fmt: skip
        measures[f"{label}_rows_s"] = result.rows_per_second
        # This process's CPU (on Ray the scoring's CPU is in the workers').
        measures[f"{label}_cpu_s"] = time.process_time() - started_cpu
        if on_ray:
            measures[f"{label}_ray_cpu_s"] = ray_cpu.used
    return measures


def _ratio(value: float | None, base: float | None) -> str:
    if not value or not base:
        return "-"
    return f"{base / value:.1f}x"


def _cpu(phase: dict[str, Any]) -> str:
    run = phase.get("run_cpu_s")
    return f"{'-' if run is None else f'{run:.3f}'} / {phase['process_cpu_s']:.2f}"


def report(tools: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    """Print the tables and the targets."""
    table = Table(
        title="20-step fan-out/fan-in: wall s of the run call (whole process in brackets), "
        "then CPU s (run call / whole process)"
    )
    for column in (
        "tool", "version", "cold s", "cached s", "cold CPU s", "cached CPU s",
        "Steward faster (cold)", "issue",
    ):  # fmt: skip
        table.add_column(column)
    ours = next((t for t in tools if t["tool"] == "steward" and "cold" in t), None)
    ours_cold = ours["cold"]["run_s"] if ours else None
    for item in tools:
        if "error" in item:
            table.add_row(item["tool"], item["version"], "failed", item["error"][:60], "", "")
            continue
        issue = ISSUE_FIGURES.get(item["tool"])
        table.add_row(
            item["tool"],
            item["version"],
            f"{item['cold']['run_s']:.3f} ({item['cold']['process_s']:.2f})",
            f"{item['cached']['run_s']:.3f} ({item['cached']['process_s']:.2f})",
            _cpu(item["cold"]),
            _cpu(item["cached"]),
            _ratio(ours_cold, item["cold"]["run_s"]) if item["tool"] != "steward" else "",
            f"{issue[0]} / {issue[1]}" if issue else "",
        )
    console.print(table)
    for item in tools:
        if "error" not in item and len(item["cold"].get("runs", ())) > 1:
            runs = ", ".join(f"{value:.3f}" for value in item["cold"]["runs"])
            console.print(f"{item['tool']}: cold run calls {runs} s (the table: their median)")
    targets = Table(title="Targets")
    for column in ("measure", "value", "target", "met"):
        targets.add_column(column)

    def target(name: str, value: float | None, goal: str, met: bool | None) -> None:
        shown = "-" if value is None else f"{value:.3g}"
        verdict = "-" if met is None else ("met" if met else "NOT met")
        targets.add_row(name, shown, goal, verdict)

    by_tool = {t["tool"]: t for t in tools if "cold" in t}
    for peer, factor in (("kedro", 2), ("zenml", 10), ("metaflow", 10)):
        if peer in by_tool and ours_cold:
            speed = by_tool[peer]["cold"]["run_s"] / ours_cold
            target(f"cold vs {peer}", speed, f">= {factor}x", speed >= factor)
            assert ours is not None
            cpu = by_tool[peer]["cold"]["process_cpu_s"] / ours["cold"]["process_cpu_s"]
            target(f"cold vs {peer}, whole-process CPU (less load-sensitive)", cpu, "", None)
    if ours:
        cached = ours["cached"]["run_s"]
        target("fully cached rerun, s (20 steps)", cached, "<= 0.3", cached <= 0.3)
    if "overhead" in extra:
        per_step = extra["overhead"]["per_step_ms"]
        target(
            "per-step overhead inline, ms", per_step, "<= 5 (Kedro 22, ZenML 390)", per_step <= 5
        )
        cpu = extra["overhead"]["per_step_cpu_ms"]
        target("per-step CPU time inline, ms (less load-sensitive)", cpu, "", None)
        chain = extra["overhead"]["cached_run_s"]
        target("cached rerun of a 20-step chain in-process, s", chain, "<= 0.3", chain <= 0.3)
    if "ray" in extra:
        speed = extra["ray"]["speedup"]
        target("CPU-bound on 2-CPU Ray vs inline", speed, ">= 1.7x", speed >= 1.7)
    if "scoring" in extra:
        measured = extra["scoring"]
        raw = measured["raw_rows_s"]
        for label in ("steward_onnx", "steward_onnx_logged"):
            share = measured[f"{label}_rows_s"] / raw
            target(f"{label} / raw onnxruntime", share, ">= 0.8", share >= 0.8)
        gain = measured["steward_onnx_ray2_rows_s"] / measured["steward_onnx_rows_s"]
        target("2 Ray workers / one process", gain, ">= 1.7x", gain >= 1.7)
        ray_cpu = measured["steward_onnx_ray2_ray_cpu_s"]
        console.print(
            "2 Ray workers on a running local cluster (started, and past its first Ray Data "
            "job, before the timed call; the workers' start is inside): CPU s of the scoring "
            f"workers {ray_cpu['worker']:.1f}, of Ray's own processes {ray_cpu['ray']:.1f}, "
            f"of the driver {measured['steward_onnx_ray2_cpu_s']:.1f}; one process "
            f"{measured['steward_onnx_cpu_s']:.1f}"
        )
        console.print(
            f"scoring {measured['rows']:,} rows x 30: raw onnxruntime {raw:,.0f} rows/s "
            f"(CPU {measured['raw_cpu_s']:.1f} s), "
            + ", ".join(
                f"{label} {measured[f'{label}_rows_s']:,.0f} (CPU here "
                f"{measured[f'{label}_cpu_s']:.1f} s)"
                for label in ("steward_onnx", "steward_onnx_logged", "steward_onnx_ray2")
            )
        )
    console.print(targets)


def _at_least_one(text: str) -> int:
    """``--repeat``'s value: a whole number of at least 1 (argparse names the option)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def main() -> None:
    """Run the measures and print the tables."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller scoring and Ray runs")
    parser.add_argument("--only", default="plain,steward,kedro,prefect,zenml,metaflow")
    parser.add_argument(
        "--repeat",
        type=_at_least_one,
        help="fresh workspaces per tool, the tools taking turns; medians shown (default 5, "
        "1 --quick)",
    )
    parser.add_argument("--skip-scoring", action="store_true")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument(
        "--scoring-only", action="store_true", help="only (d): no tools, overhead or Ray steps"
    )
    parser.add_argument("--rows", type=int, help="rows to score (default 10M, 400k --quick)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="steward-bench-pipelines-") as temp:
        scratch = Path(temp)
        tools = []
        extra: dict[str, Any] = {}
        if not args.scoring_only:
            names = [tool.strip() for tool in args.only.split(",")]
            attempts: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
            for attempt in range(args.repeat or (1 if args.quick else 5)):
                for name in names:  # taking turns: each tool meets the same moments' load
                    console.print(f"[dim]running {name} ({attempt + 1})…[/dim]")
                    attempts[name].append(run_tool(name, scratch / str(attempt)))
            tools = [median_of(attempts[name]) for name in names]
            extra["overhead"] = step_overhead(scratch, 3 if args.quick else 7)
            if not args.skip_ray:
                extra["ray"] = ray_speedup(1_000_000 if args.quick else 6_000_000)
        if not args.skip_scoring:
            rows = args.rows or (400_000 if args.quick else 10_000_000)
            extra["scoring"] = scoring(scratch, rows, 100_000 if args.quick else 250_000)
    report(tools, extra)
    load = os.getloadavg()
    console.print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.node()} · {os.cpu_count()} CPUs · "
        f"load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"tools": tools, **extra}, indent=1))


if __name__ == "__main__":
    main()
