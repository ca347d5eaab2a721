"""Benchmark: serving one 100-tree forest with Steward and with ``mlflow models serve``.

Both serve the same random forest (10,000 x 20 training rows, seeded), one
after the other; the same load generator (a separate process on loopback:
``wrk`` when installed, which costs the 2-core machine little CPU, else an
asyncio + httpx script) sends single-row ``/invocations`` requests at
concurrency 1 and 32. Steward is also measured with prediction logging off,
to show what logging costs. Reported: p50, p99, requests/s, time to healthy, RSS idle (after
start-up) and after the load (prediction log written), and the size of the reply to a bad
50 MB body; the floor is the in-process one-row
``predict``. MLflow runs from its own venv (``.bench/venvs/mlflow``).

Run: ``.venv/bin/python benchmarks/serving.py [--quick] [--skip-mlflow]``
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
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "r"); wrk.body = f:read("*a"); f:close()
"""


def _wrk_units(text: str) -> float:
    """A wrk duration ('850.00us', '1.20ms', '2.01s') in milliseconds."""
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    raise ValueError(text)


def load_with_wrk(url: str, concurrency: int, seconds: float, body: str) -> dict[str, float]:
    """Drive ``url`` with wrk; p50/p99 in ms and requests per second."""
    folder = Path(tempfile.mkdtemp(prefix="steward-wrk-"))
    (folder / "body.json").write_text(body)
    (folder / "post.lua").write_text(WRK_SCRIPT.format(body=folder / "body.json"))
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
with steward.start_run():
    steward.models.log(model, input_example=X[:5], register="forest", onnx=True,
                       onnx_check_data=X[:500])
steward.models.set_alias("forest", "champion", 1)
times = []
for i in range(200):
    start = time.perf_counter(); model.predict(X[i:i+1]); times.append(time.perf_counter() - start)
times.sort()
json.dump({"row": X[:1].tolist(), "floor_ms": times[100] * 1000}, open(sys.argv[1], "w"))
"""
)

MLFLOW_SAVE = (
    TRAIN
    + """
import sys, mlflow.sklearn
mlflow.sklearn.save_model(model, sys.argv[1], skops_trusted_types=["sklearn.tree._tree.Tree"])
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


def _wait_healthy(url: str, started: float, timeout: float = 120) -> float:
    while time.perf_counter() - started < timeout:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} never became healthy")


def measure(
    command: list[str],
    health: str,
    base: str,
    env: dict[str, str],
    args: argparse.Namespace,
    row: list[list[float]],
) -> dict[str, float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
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
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 s per load level instead of 15")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--backend", default="onnx", choices=["native", "onnx"])
    args = parser.parse_args()
    args.seconds = 3.0 if args.quick else 15.0
    work = Path(tempfile.mkdtemp(prefix="steward-bench-serving-"))
    env = {**os.environ, "STEWARD_HOME": str(work / "home")}
    subprocess.run([sys.executable, "-c", PREPARE, str(work / "prep.json")], env=env, check=True)
    prep = json.loads((work / "prep.json").read_text())
    port = 18_080
    ours = measure(
        [
            sys.executable,
            "-m",
            "steward.cli",
            "serve",
            "models:/forest@champion",
            "--port",
            str(port),
            "--backend",
            args.backend,
        ],
        "/ready",
        f"http://127.0.0.1:{port}",
        env,
        args,
        prep["row"],
    )
    unlogged = measure(
        [
            sys.executable, "-m", "steward.cli", "serve", "models:/forest@champion",
            "--port", str(port + 2), "--backend", args.backend, "--no-log-predictions",
        ],
        "/ready", f"http://127.0.0.1:{port + 2}", env, args, prep["row"],
    )  # fmt: skip
    ours["logging_cost_pct"] = 100 * (1 - ours["c32_rps"] / unlogged["c32_rps"])
    peer: dict[str, float] = {}
    if not args.skip_mlflow:
        python = mlflow_python()
        subprocess.run([str(python), "-c", MLFLOW_SAVE, str(work / "mlflow-model")], check=True)
        mlflow_bin = str(Path(python).parent / "mlflow")
        # MLflow starts ``uvicorn`` by name: its venv's bin folder must be on PATH.
        peer_env = {**env, "PATH": f"{Path(python).parent}{os.pathsep}{env.get('PATH', '')}"}
        peer = measure(
            [
                mlflow_bin,
                "models",
                "serve",
                "-m",
                str(work / "mlflow-model"),
                "--env-manager",
                "local",
                "-p",
                str(port + 1),
            ],
            "/health",
            f"http://127.0.0.1:{port + 1}",
            peer_env,
            args,
            prep["row"],
        )
    table = Table(title=f"Serving a 100-tree forest (backend {args.backend})", header_style="bold")
    for column in ("measure", "steward", "mlflow", "ratio", "target", "floor"):
        table.add_column(column, justify="right")
    floor = prep["floor_ms"]
    targets = {
        "c1_p50_ms": f"<= {floor + 1.5:.1f}", "c32_rps": ">= 10x mlflow", "startup_s": "<= 2",
        "idle_rss_mb": "<= 1/3 mlflow", "bad_body_reply_bytes": "< 4096",
        "logging_cost_pct": "<= 10", "c32_p99_ms": "<= 3x c32 p50",
    }  # fmt: skip
    for key in ours:
        theirs = peer.get(key)
        ratio = f"{ours[key] / theirs:.2f}" if theirs else "-"
        peer_text = f"{theirs:.1f}" if theirs is not None else "-"
        floor_text = f"{floor:.2f} ms" if key == "c1_p50_ms" else ""
        table.add_row(key, f"{ours[key]:.1f}", peer_text, ratio, targets.get(key, "-"), floor_text)
    Console().print(table)


if __name__ == "__main__":
    main()
