"""Benchmark: serving 100-tree forests with Steward and with ``mlflow models serve``.

Both serve the same random forest (10,000 x 20 training rows, seeded), one
after the other; the same load generator (a separate process on loopback:
``wrk`` when installed, which costs the 2-core machine little CPU, else an
asyncio + httpx script) sends single-row ``/invocations`` requests at
concurrency 1 and 32. Steward is also measured with prediction logging off,
to show what logging costs. Reported: p50, p99, requests/s, time to healthy, RSS idle (after
start-up) and after the load (prediction log written), and the size of the reply to a bad
50 MB body; the floor is the in-process one-row ``predict``.

Then, Steward alone: ``--workers 2`` against one worker at concurrency 32; a
1,000-row batch through v2 as JSON and as binary tensors (rows/s); overload at
4x the saturating concurrency (32 -> 128) with a raw-socket client that times
answered and refused requests apart, so the p99 of the requests the server
took can be compared with the one at saturation. And memory for many models:
``N`` forests (each registered as its own model) served by one Steward process,
loaded one by one, against ``N`` ``mlflow models serve`` processes.

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

from models import TRAIN

LOAD = """
import asyncio, json, sys, time, httpx
url, concurrency, seconds, body = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
latencies = []
async def worker(client, stop):
    while time.perf_counter() < stop:
        start = time.perf_counter()
        reply = await client.post(url, content=body, headers={"content-type": "application/json"})
        reply.raise_for_status()
        latencies.append(time.perf_counter() - start)
async def main():
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        for _ in range(20):
            await client.post(url, content=body, headers={"content-type": "application/json"})
        start = time.perf_counter(); stop = start + seconds
        await asyncio.gather(*(worker(client, stop) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    print(json.dumps({"p50_ms": latencies[len(latencies)//2]*1000,
                      "p99_ms": latencies[int(len(latencies)*0.99)]*1000,
                      "rps": len(latencies)/elapsed}))
asyncio.run(main())
"""

WRK_SCRIPT = """
wrk.method = "POST"
{headers}
local f = io.open("{body}", "rb"); wrk.body = f:read("*a"); f:close()
"""

# A client on raw sockets that keeps answered (2xx) and refused (503) requests apart,
# which wrk cannot: under overload the p99 that matters is that of requests taken. A
# refused client waits what Retry-After says before its next request.
STATUS_LOAD = """
import asyncio, json, re, sys, time
host, port, path, concurrency, seconds, body_file = sys.argv[1:7]
body = open(body_file, "rb").read()
request = (f"POST {path} HTTP/1.1\\r\\nHost: {host}\\r\\nContent-Type: application/json\\r\\n"
           f"Content-Length: {len(body)}\\r\\n\\r\\n").encode() + body
length_re = re.compile(rb"content-length: *(\\d+)", re.I)
retry_re = re.compile(rb"retry-after: *(\\d+)", re.I)
times = {}
async def worker(stop):
    reader, writer = await asyncio.open_connection(host, int(port))
    while time.perf_counter() < stop:
        start = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\\r\\n\\r\\n")
        await reader.readexactly(int(length_re.search(head).group(1)))
        status = int(head[9:12])
        times.setdefault(status, []).append(time.perf_counter() - start)
        retry = retry_re.search(head)
        if status == 503 and retry:  # a well-behaved client waits as it is told
            await asyncio.sleep(float(retry.group(1)))
        if b"connection: close" in head.lower():
            writer.close()
            reader, writer = await asyncio.open_connection(host, int(port))
    writer.close()
async def main():
    stop = time.perf_counter() + float(seconds)
    await asyncio.gather(*(worker(stop) for _ in range(int(concurrency))))
try:
    import uvloop; uvloop.install()
except ImportError:
    pass
started = time.perf_counter(); asyncio.run(main()); elapsed = time.perf_counter() - started
out = {}
for status, values in times.items():
    values.sort()
    out[str(status)] = {"count": len(values), "rps": len(values) / elapsed,
                        "p50_ms": values[len(values) // 2] * 1000,
                        "p99_ms": values[int(len(values) * 0.99)] * 1000}
print(json.dumps(out))
"""


def _wrk_units(text: str) -> float:
    """A wrk duration ('850.00us', '1.20ms', '2.01s') in milliseconds."""
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    raise ValueError(text)


def load_with_wrk(
    url: str,
    concurrency: int,
    seconds: float,
    body: str | bytes,
    headers: dict[str, str] | None = None,
) -> dict[str, float]:
    """Drive ``url`` with wrk; p50/p99 in ms and requests per second."""
    folder = Path(tempfile.mkdtemp(prefix="steward-wrk-"))
    (folder / "body").write_bytes(body.encode() if isinstance(body, str) else body)
    lines = "\n".join(
        f'wrk.headers["{name}"] = "{value}"'
        for name, value in (headers or {"Content-Type": "application/json"}).items()
    )
    (folder / "post.lua").write_text(WRK_SCRIPT.format(body=folder / "body", headers=lines))
    threads = "1" if concurrency == 1 else "2"
    out = subprocess.run(
        ["wrk", "-t", threads, "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s",
         "--latency", "-s", str(folder / "post.lua"), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    result: dict[str, float] = {}
    for line in out.splitlines():
        parts = line.split()
        if parts[:1] == ["50%"]:
            result["p50_ms"] = _wrk_units(parts[1])
        elif parts[:1] == ["99%"]:
            result["p99_ms"] = _wrk_units(parts[1])
        elif parts[:1] == ["Requests/sec:"]:
            result["rps"] = float(parts[1])
        elif "Non-2xx" in line:
            raise RuntimeError(f"the server refused requests under load: {line.strip()}")
    return result


def load(url: str, concurrency: int, seconds: float, body: str) -> dict[str, float]:
    """The same load generator for both servers: wrk if installed, else the httpx script."""
    if shutil.which("wrk"):
        return load_with_wrk(url, concurrency, seconds, body)
    out = subprocess.run(
        [sys.executable, "-c", LOAD, url, str(concurrency), str(seconds), body],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(json.loads(out))


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
times = []
for i in range(200):
    start = time.perf_counter(); model.predict(X[i:i+1]); times.append(time.perf_counter() - start)
times.sort()
json.dump({"row": X[:1].tolist(), "batch": X[:1000].tolist(), "floor_ms": times[100] * 1000},
          open(sys.argv[1], "w"))
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


def _rss_mb(pid: int) -> float:
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        found = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return found + [grand for child in found for grand in _children(child)]


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
        result["idle_rss_mb"] = _rss_mb(process.pid)
        body = json.dumps({"instances": row})
        for concurrency in (1, 32):
            figures = load(base + "/invocations", concurrency, args.seconds, body)
            for key, value in figures.items():
                result[f"c{concurrency}_{key}"] = value
        time.sleep(2)  # the prediction log's last flush
        result["loaded_rss_mb"] = _rss_mb(process.pid)
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


def status_load(
    base: str, path: str, concurrency: int, seconds: float, body: str
) -> dict[str, dict[str, float]]:
    """Drive ``base + path`` with the raw-socket client; figures per HTTP status."""
    folder = Path(tempfile.mkdtemp(prefix="steward-load-"))
    (folder / "body").write_text(body)
    host, port = base.removeprefix("http://").split(":")
    out = subprocess.run(
        [sys.executable, "-c", STATUS_LOAD, host, port, path, str(concurrency), str(seconds),
         str(folder / "body")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(json.loads(out))


def v2_bodies(batch: list[list[float]]) -> tuple[bytes, bytes, dict[str, str]]:
    """A v2 request for ``batch`` as JSON, and as binary tensors (with its headers)."""
    import numpy as np

    array = np.asarray(batch, dtype="float64")
    shape = list(array.shape)
    outputs = [{"name": name} for name in ("predict", "predict_proba")]
    as_json = json.dumps({
        "inputs": [{"name": "input-0", "shape": shape, "datatype": "FP64",
                    "data": array.ravel().tolist()}],
        "outputs": outputs,
    }).encode()  # fmt: skip
    header = json.dumps({
        "inputs": [{"name": "input-0", "shape": shape, "datatype": "FP64",
                    "parameters": {"binary_data_size": array.nbytes}}],
        "parameters": {"binary_data_output": True},
    }).encode()  # fmt: skip
    headers = {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(header)),
    }
    return as_json, header + array.astype("<f8").tobytes(), headers


def steward_only(
    env: dict[str, str], args: argparse.Namespace, prep: dict[str, Any], port: int
) -> dict[str, float]:
    """Workers, binary v2 and overload: figures of Steward alone."""
    result: dict[str, float] = {}
    row_body = json.dumps({"instances": prep["row"]})
    base = f"http://127.0.0.1:{port}"
    two = _start(_ours(port, "models:/forest@champion", "--backend", args.backend,
                       "--workers", "2"), env)  # fmt: skip
    try:
        _wait_healthy(base + "/ready", time.perf_counter())
        time.sleep(1)
        result["workers2_c32_rps"] = load(base + "/invocations", 32, args.seconds, row_body)["rps"]
    finally:
        _stop(two)
    one = _start(_ours(port, "models:/forest@champion", "--backend", args.backend), env)
    try:
        _wait_healthy(base + "/ready", time.perf_counter())
        time.sleep(1)
        as_json, as_binary, binary_headers = v2_bodies(prep["batch"])
        url = base + "/v2/models/forest/infer"
        json_headers = {"Content-Type": "application/json"}
        for name, body, headers in (("json", as_json, json_headers),
                                    ("binary", as_binary, binary_headers)):  # fmt: skip
            if shutil.which("wrk"):
                figures = load_with_wrk(url, 4, args.seconds, body, headers)
            else:
                raise RuntimeError("the v2 batch measurement needs wrk (apt-get install wrk)")
            result[f"v2_1000rows_{name}_rows_per_s"] = figures["rps"] * 1000
            result[f"v2_1000rows_{name}_p50_ms"] = figures["p50_ms"]
        for concurrency, label in ((32, "saturation_c32"), (128, "overload_c128")):
            figures = status_load(base, "/invocations", concurrency, args.seconds, row_body)
            taken, refused = figures.get("200", {}), figures.get("503", {})
            result[f"{label}_taken_rps"] = taken.get("rps", 0.0)
            result[f"{label}_taken_p50_ms"] = taken.get("p50_ms", 0.0)
            result[f"{label}_taken_p99_ms"] = taken.get("p99_ms", 0.0)
            result[f"{label}_refused_503_rps"] = refused.get("rps", 0.0)
    finally:
        _stop(one)
    return result


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
            time.sleep(1)
            sizes.append(_rss_mb(process.pid))
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
        return sum(_rss_mb(process.pid) for process in processes)
    finally:
        for process in processes:
            _stop(process)


def _row(table: Any, key: str, ours: float, theirs: float | None, target: str, floor: str) -> None:
    ratio = f"{ours / theirs:.2f}" if theirs else "-"
    peer_text = f"{theirs:,.1f}" if theirs is not None else "-"
    table.add_row(key, f"{ours:,.1f}", peer_text, ratio, target, floor)


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 s per load level instead of 15")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--backend", default="onnx", choices=["native", "onnx"])
    parser.add_argument("--models", type=int, default=10, help="forests in the many-model rows")
    args = parser.parse_args()
    args.seconds = 3.0 if args.quick else 15.0
    work = Path(tempfile.mkdtemp(prefix="steward-bench-serving-"))
    env = {**os.environ, "STEWARD_HOME": str(work / "home")}
    subprocess.run(
        [sys.executable, "-c", PREPARE, str(work / "prep.json"), str(args.models)],
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
    alone = steward_only(env, args, prep, port + 4)
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
    targets = {
        "c1_p50_ms": f"<= {floor + 1.5:.1f}", "c32_rps": ">= 20x mlflow", "startup_s": "<= 2",
        "idle_rss_mb": "<= 1/3 mlflow", "bad_body_reply_bytes": "< 4096",
        "logging_cost_pct": "<= 10", "c32_p99_ms": "<= 3x c32 p50",
        "extra_forest_rss_mb": "<= 25", f"{args.models}_models_rss_mb": "<= 400",
    }  # fmt: skip
    for key, value in ours.items():
        floor_text = f"{floor:.2f} ms" if key == "c1_p50_ms" else ""
        _row(table, key, value, peer.get(key), targets.get(key, "-"), floor_text)
    alone["workers2_vs_1"] = alone["workers2_c32_rps"] / ours["c32_rps"]
    alone["v2_binary_vs_json"] = (
        alone["v2_1000rows_binary_rows_per_s"] / alone["v2_1000rows_json_rows_per_s"]
    )
    alone["overload_p99_vs_saturation"] = alone["overload_c128_taken_p99_ms"] / max(
        alone["saturation_c32_taken_p99_ms"], 1e-9
    )
    more = {"workers2_vs_1": ">= 1.7", "v2_binary_vs_json": ">= 1.5",
            "overload_p99_vs_saturation": "stable (~1)"}  # fmt: skip
    for key, value in alone.items():
        _row(table, key, value, None, more.get(key, "-"), "")
    for index, size in enumerate(sizes, start=1):
        _row(table, f"rss_with_{index}_models_mb", size, None, "-", "")
    Console().print(table)
    print(json.dumps({"steward": ours, "steward_only": alone, "mlflow": peer}))


if __name__ == "__main__":
    main()
