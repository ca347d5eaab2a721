"""Benchmark: serving 100-tree forests with Steward and with ``mlflow models serve``.

Both serve the same random forest (10,000 x 20 training rows, seeded), one
after the other; the same load generator (a separate process on loopback:
``wrk`` when installed, which costs the 2-core machine little CPU, else an
asyncio + httpx script; see ``serving_load.py``) sends single-row
``/invocations`` requests at concurrency 1 and 32. Steward is also measured with
prediction logging off, to show what logging costs. Reported: p50, p99,
requests/s, time to healthy, RSS idle (after start-up) and after the load
(prediction log written), and the size of the reply to a bad 50 MB body; the
floor is the in-process one-row ``predict``.

Then, Steward alone: ``--workers 2`` against one worker in the same run, on
single rows (c=32) and on 1,000-row binary batches (c=8), with the cores the
server and the load generator used; a 1,000-row batch through v2 as JSON and as
binary tensors (rows/s), for the forest and for a logistic regression (a model
cheaper than the JSON it reads), beside the in-process floors that bound the
ratio; overload at 4x the saturating concurrency (32 -> 128) with a raw-socket
client that times answered and refused requests apart, so the p99 of the
requests the server took can be compared with the one at saturation. And memory
for many models: ``N`` forests (each registered as its own model) served by one
Steward process, loaded one by one, against ``N`` ``mlflow models serve`` processes.

MLflow runs from its own venv (``.bench/venvs/mlflow``).

Run: ``.venv/bin/python benchmarks/serving.py [--quick] [--skip-mlflow] [--models N]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import mlflow_python
from serving_load import cpu_seconds, load, load_with_wrk, rss_mb, status_load, v2_bodies

from models import TRAIN

PREPARE = (
    TRAIN
    + """
import json, sys, time, steward
steward.set_experiment("bench-serving")
copies = int(sys.argv[2])
for index in range(copies):  # the same forest as N registered models (one export each)
    name = "forest" if index == 0 else f"forest{index}"
    with steward.start_run():
        steward.models.log(model, input_example=X[:5], register=name, onnx=True,
                           onnx_check_data=X[:500])
    steward.models.set_alias(name, "champion", 1)
from sklearn.linear_model import LogisticRegression
with steward.start_run():  # a model that costs less than the JSON it reads
    steward.models.log(LogisticRegression().fit(X, y), input_example=X[:5], register="linear",
                       onnx=True, onnx_check_data=X[:500])
steward.models.set_alias("linear", "champion", 1)

def median_ms(call, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter(); call(); times.append(time.perf_counter() - start)
    return sorted(times)[repeat // 2] * 1000

floors = {"floor_ms": median_ms(lambda: model.predict(X[:1]), 201)}
sys.path.insert(0, sys.argv[3])
from serving_load import v2_bodies
from steward.serving.protocols import parse_json, v2
as_json, as_binary, headers = v2_bodies(X[:1000].tolist())
length = int(headers["Inference-Header-Content-Length"])
floors["json_parse_ms"] = median_ms(lambda: v2.parse(parse_json(as_json), None, None), 21)
tensors = memoryview(as_binary)[length:]
floors["binary_parse_ms"] = median_ms(
    lambda: v2.parse(parse_json(as_binary[:length]), None, None, tensors), 21)
for name in ("forest", "linear"):
    loaded = steward.models.load(f"models:/{name}/1", backend="onnx")
    floors[f"{name}_1000rows_ms"] = median_ms(lambda: loaded.predict_with_proba(X[:1000]), 21)
# The prediction log's write of a 1,000-row request (its own workspace): both bodies pay it.
import os
from steward.serving.ids import new_request_ids
from steward.serving.prediction_log import LogEntry, write_segment
log_home = steward.open_workspace(home=os.path.join(os.path.dirname(sys.argv[1]), "log-floor"))
names = [f"f{i}" for i in range(X.shape[1])]
def entry():
    return LogEntry("linear", 1, "primary", "v2", int(time.time() * 1000), 1.0,
                    new_request_ids(1000), X[:1000], y[:1000], np.c_[y[:1000], 1 - y[:1000]],
                    input_names=names, input_dtypes=["float64"] * len(names))
def log_cpu_ms():  # CPU, not wall: the fsync waits hold no core (5 entries: one flush)
    entries = [entry() for _ in range(5)]
    start = time.process_time()
    write_segment(log_home, "linear", 1, "2026-01-01", entries)
    return (time.process_time() - start) * 1000 / 5
floors["log_1000rows_ms"] = sorted(log_cpu_ms() for _ in range(21))[10]
json.dump({"row": X[:1].tolist(), "batch": X[:1000].tolist(), **floors}, open(sys.argv[1], "w"))
"""
)

MLFLOW_SAVE = (
    TRAIN
    + """
import sys, mlflow.sklearn
for folder in sys.argv[1:]:
    mlflow.sklearn.save_model(model, folder, skops_trusted_types=["sklearn.tree._tree.Tree"])
"""
)


def _wait_healthy(url: str, started: float, timeout: float = 180) -> float:
    while time.perf_counter() - started < timeout:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} never became healthy")


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(60)


def _ours(port: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "steward.cli", "serve", *args, "--port", str(port)]


def measure(
    command: list[str],
    health: str,
    base: str,
    env: dict[str, str],
    args: argparse.Namespace,
    row: list[list[float]],
) -> dict[str, float]:
    started = time.perf_counter()
    process = _start(command, env)
    try:
        result: dict[str, float] = {"startup_s": _wait_healthy(base + health, started)}
        time.sleep(1)
        result["idle_rss_mb"] = rss_mb(process.pid)
        body = json.dumps({"instances": row})
        for concurrency in (1, 32):
            figures = load(base + "/invocations", concurrency, args.seconds, body)
            for key, value in figures.items():
                result[f"c{concurrency}_{key}"] = value
        time.sleep(2)  # the prediction log's last flush
        result["loaded_rss_mb"] = rss_mb(process.pid)
        bad = b'{"instances": [[' + b"1.0," * (50 * 1024 * 1024 // 4) + b"1.0]]}"
        try:
            reply = httpx.post(
                base + "/invocations",
                content=bad,
                headers={"content-type": "application/json"},
                timeout=120,
            )
            result["bad_body_reply_bytes"] = len(reply.content)
        except httpx.HTTPError:
            result["bad_body_reply_bytes"] = -1
        return result
    finally:
        _stop(process)


def _serving(env: dict[str, str], port: int, *args: str) -> subprocess.Popen[bytes]:
    process = _start(_ours(port, *args), env)
    _wait_healthy(f"http://127.0.0.1:{port}/ready", time.perf_counter())
    time.sleep(1)
    return process


def workers(
    env: dict[str, str], args: argparse.Namespace, prep: dict[str, Any], port: int
) -> dict[str, float]:
    """One worker against two in the same run, with the cores server and client used.

    Twice: single rows on ``/invocations`` (c=32), where a request costs the
    server about what it costs wrk, and 1,000-row binary v2 batches (c=8), where
    the model's work dwarfs the client's. The least busy worker's share of the
    server's CPU shows whether both took requests from the shared socket.
    """
    _, as_binary, binary_headers = v2_bodies(prep["batch"])
    loads = (
        ("rows_c32", "/invocations", json.dumps({"instances": prep["row"]}).encode(), None, 32),
        ("batch_c8", "/v2/models/forest/infer", as_binary, binary_headers, 8),
    )
    result: dict[str, float] = {}
    for count in (1, 2):
        process = _serving(env, port, "models:/forest@champion", "--backend", args.backend,
                           "--workers", str(count))  # fmt: skip
        try:
            for label, path, body, headers, concurrency in loads:
                before = cpu_seconds(process.pid)
                figures = load_with_wrk(
                    f"http://127.0.0.1:{port}{path}",
                    concurrency,
                    args.seconds,
                    body,
                    headers,
                    refusals=True,
                )
                after = cpu_seconds(process.pid)
                used = {pid: after[pid] - before.get(pid, 0.0) for pid in after}
                seconds = max(1, round(args.seconds))
                key = f"workers{count}_{label}"
                result[f"{key}_rps"] = figures["rps"]
                result[f"{key}_server_cores"] = sum(used.values()) / seconds
                result[f"{key}_client_cores"] = figures["client_cores"]
                result[f"{key}_non_2xx"] = figures.get("non_2xx", 0.0)
                if count == 2:
                    busy = sorted(used.values())[-2:]  # the two workers (the master idles)
                    result[f"{key}_least_busy_worker_share"] = busy[0] / max(sum(busy), 1e-9)
        finally:
            _stop(process)
    for label, *_ in loads:
        result[f"workers2_vs_1_{label}"] = (
            result[f"workers2_{label}_rps"] / result[f"workers1_{label}_rps"]
        )
    return result


def v2_and_overload(
    env: dict[str, str], args: argparse.Namespace, prep: dict[str, Any], port: int
) -> dict[str, float]:
    """1,000-row v2 batches as JSON and as binary (forest and linear model), then overload."""
    if not shutil.which("wrk"):
        raise RuntimeError("the v2 batch measurement needs wrk (apt-get install wrk)")
    result: dict[str, float] = {}
    base = f"http://127.0.0.1:{port}"
    process = _serving(env, port, "models:/forest@champion", "models:/linear@champion",
                       "--backend", args.backend)  # fmt: skip
    try:
        as_json, as_binary, binary_headers = v2_bodies(prep["batch"])
        json_headers = {"Content-Type": "application/json"}
        for model in ("forest", "linear"):
            url = f"{base}/v2/models/{model}/infer"
            for name, body, headers in (("json", as_json, json_headers),
                                        ("binary", as_binary, binary_headers)):  # fmt: skip
                figures = load_with_wrk(url, 4, args.seconds, body, headers, refusals=True)
                result[f"v2_1000rows_{model}_{name}_non_2xx"] = figures.get("non_2xx", 0.0)
                result[f"v2_1000rows_{model}_{name}_rows_per_s"] = figures["rps"] * 1000
                result[f"v2_1000rows_{model}_{name}_p50_ms"] = figures["p50_ms"]
            result[f"v2_{model}_binary_vs_json"] = (
                result[f"v2_1000rows_{model}_binary_rows_per_s"]
                / result[f"v2_1000rows_{model}_json_rows_per_s"]
            )
        row_body = json.dumps({"instances": prep["row"]})
        for concurrency, label in ((32, "saturation_c32"), (128, "overload_c128")):
            figures = status_load(base, "/models/forest/invocations", concurrency, args.seconds,
                                  row_body)  # fmt: skip
            taken, refused = figures.get("200", {}), figures.get("503", {})
            result[f"{label}_taken_rps"] = taken.get("rps", 0.0)
            result[f"{label}_taken_p50_ms"] = taken.get("p50_ms", 0.0)
            result[f"{label}_taken_p99_ms"] = taken.get("p99_ms", 0.0)
            result[f"{label}_refused_503_rps"] = refused.get("rps", 0.0)
    finally:
        _stop(process)
    result["overload_p99_vs_saturation"] = result["overload_c128_taken_p99_ms"] / max(
        result["saturation_c32_taken_p99_ms"], 1e-9
    )
    return result


def _settled_rss_mb(pid: int, timeout: float = 10.0) -> float:
    """RSS once it stops moving (the prediction log's first write imports pyarrow)."""
    last, deadline = rss_mb(pid), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(1.5)  # longer than the log's flush interval
        now = rss_mb(pid)
        if abs(now - last) < 0.5:
            return now
        last = now
    return last


def many_ours(env: dict[str, str], args: argparse.Namespace, prep: dict[str, Any]) -> list[float]:
    """RSS of one Steward process with 1, 2, ... N forests loaded (each by its first request)."""
    port = 18_090
    names = ["forest" if i == 0 else f"forest{i}" for i in range(args.models)]
    process = _start(_ours(port, *(f"models:/{n}@champion" for n in names),
                           "--backend", args.backend), env)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    sizes = []
    try:
        _wait_healthy(base + "/ready", time.perf_counter())
        for name in names:
            reply = httpx.post(f"{base}/models/{name}/invocations",
                               json={"instances": prep["row"]}, timeout=300)  # fmt: skip
            reply.raise_for_status()
            sizes.append(_settled_rss_mb(process.pid))
        return sizes
    finally:
        _stop(process)


def many_mlflow(
    python: Path, env: dict[str, str], folders: list[Path], row: list[list[float]]
) -> float:
    """Total RSS of one ``mlflow models serve`` per folder, all running and warmed up."""
    mlflow_bin = str(Path(python).parent / "mlflow")
    processes = []
    try:
        for index, folder in enumerate(folders):
            port = 18_200 + index
            processes.append(_start([mlflow_bin, "models", "serve", "-m", str(folder),
                                     "--env-manager", "local", "-p", str(port)], env))  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base + "/health", time.perf_counter())
            httpx.post(base + "/invocations", json={"instances": row}, timeout=120)
        time.sleep(1)
        return sum(rss_mb(process.pid) for process in processes)
    finally:
        for process in processes:
            _stop(process)


def _row(table: Any, key: str, ours: float, theirs: float | None, target: str, floor: str) -> None:
    ratio = f"{ours / theirs:.2f}" if theirs else "-"
    peer_text = f"{theirs:,.1f}" if theirs is not None else "-"
    table.add_row(key, f"{ours:,.1f}", peer_text, ratio, target, floor)


def main() -> None:
    """Run everything in a temporary folder (ten copies of the forest: ~650 MB), then remove it."""
    work = Path(tempfile.mkdtemp(prefix="steward-bench-serving-"))
    try:
        _main(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _main(work: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 s per load level instead of 15")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--backend", default="onnx", choices=["native", "onnx"])
    parser.add_argument("--models", type=int, default=10, help="forests in the many-model rows")
    args = parser.parse_args()
    args.seconds = 3.0 if args.quick else 15.0
    env = {**os.environ, "STEWARD_HOME": str(work / "home")}
    subprocess.run(
        [sys.executable, "-c", PREPARE, str(work / "prep.json"), str(args.models),
         str(Path(__file__).resolve().parent)],
        env=env, check=True,
    )  # fmt: skip
    prep = json.loads((work / "prep.json").read_text())
    port = 18_080
    ours = measure(
        _ours(port, "models:/forest@champion", "--backend", args.backend),
        "/ready", f"http://127.0.0.1:{port}", env, args, prep["row"],
    )  # fmt: skip
    unlogged = measure(
        _ours(port + 2, "models:/forest@champion", "--backend", args.backend,
              "--no-log-predictions"),
        "/ready", f"http://127.0.0.1:{port + 2}", env, args, prep["row"],
    )  # fmt: skip
    ours["logging_cost_pct"] = 100 * (1 - ours["c32_rps"] / unlogged["c32_rps"])
    alone = {**workers(env, args, prep, port + 4), **v2_and_overload(env, args, prep, port + 6)}
    sizes = many_ours(env, args, prep)
    ours["extra_forest_rss_mb"] = (sizes[-1] - sizes[0]) / max(1, len(sizes) - 1)
    ours[f"{args.models}_models_rss_mb"] = sizes[-1]
    peer: dict[str, float] = {}
    if not args.skip_mlflow:
        python = mlflow_python()
        folders = [work / f"mlflow-model-{index}" for index in range(args.models)]
        subprocess.run([str(python), "-c", MLFLOW_SAVE, *map(str, folders)], check=True)
        mlflow_bin = str(Path(python).parent / "mlflow")
        # MLflow starts ``uvicorn`` by name: its venv's bin folder must be on PATH.
        peer_env = {**env, "PATH": f"{Path(python).parent}{os.pathsep}{env.get('PATH', '')}"}
        peer = measure(
            [mlflow_bin, "models", "serve", "-m", str(folders[0]), "--env-manager", "local",
             "-p", str(port + 1)],
            "/health", f"http://127.0.0.1:{port + 1}", peer_env, args, prep["row"],
        )  # fmt: skip
        peer[f"{args.models}_models_rss_mb"] = many_mlflow(python, peer_env, folders, prep["row"])
    table = Table(title=f"Serving 100-tree forests (backend {args.backend})", header_style="bold")
    for column in ("measure", "steward", "mlflow", "ratio", "target", "floor"):
        table.add_column(column, justify="right")
    floor = prep["floor_ms"]
    floors: dict[str, str] = {}
    targets = {
        "c1_p50_ms": f"<= {floor + 1.5:.1f}", "c32_rps": ">= 20x mlflow", "startup_s": "<= 2",
        "idle_rss_mb": "<= 1/3 mlflow", "bad_body_reply_bytes": "< 4096",
        "logging_cost_pct": "<= 10", "c32_p99_ms": "<= 3x c32 p50",
        "extra_forest_rss_mb": "<= 25", f"{args.models}_models_rss_mb": "<= 400",
    }  # fmt: skip
    for key, value in ours.items():
        floor_text = f"{floor:.2f} ms" if key == "c1_p50_ms" else ""
        _row(table, key, value, peer.get(key), targets.get(key, "-"), floor_text)
    # What binary saves by the in-process floors: the JSON parse; both pay the model call and
    # the prediction log's write.
    for model in ("forest", "linear"):
        model_ms = prep[f"{model}_1000rows_ms"]
        both = model_ms + prep["log_1000rows_ms"]  # serial CPU that either body pays
        floors[f"v2_{model}_binary_vs_json"] = (
            f"~{(both + prep['json_parse_ms']) / (both + prep['binary_parse_ms']):.2f} "
            f"(model {model_ms:.1f} ms, log {prep['log_1000rows_ms']:.1f} ms, "
            f"JSON {prep['json_parse_ms']:.1f} ms, binary {prep['binary_parse_ms']:.2f} ms)"
        )
    more = {"workers2_vs_1_rows_c32": ">= 1.7", "workers2_vs_1_batch_c8": ">= 1.7",
            "v2_forest_binary_vs_json": ">= 1.5", "v2_linear_binary_vs_json": ">= 1.5",
            "overload_p99_vs_saturation": "stable (~1)"}  # fmt: skip
    for key, value in alone.items():
        _row(table, key, value, None, more.get(key, "-"), floors.get(key, ""))
    for index, size in enumerate(sizes, start=1):
        _row(table, f"rss_with_{index}_models_mb", size, None, "-", "")
    Console().print(table)
    print(json.dumps({"steward": ours, "steward_only": alone, "mlflow": peer}))


if __name__ == "__main__":
    main()
