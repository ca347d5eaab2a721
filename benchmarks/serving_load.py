"""Load generators and process accounting for ``benchmarks/serving.py``.

``wrk`` (when installed; it costs the 2-core machine little CPU) or an asyncio +
httpx script drives one URL; a raw-socket client keeps answered and refused
requests apart. Each reports the CPU its load generator used, and
``cpu_seconds`` reads what a server's processes used, so a result can say
whether the server or the client ran out of cores.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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
    *,
    refusals: bool = False,
) -> dict[str, float]:
    """Drive ``url`` with wrk; p50/p99 in ms, requests per second, and the cores wrk used.

    Args:
        refusals: count answers other than 2xx (``non_2xx``) instead of failing on them.
    """
    folder = Path(tempfile.mkdtemp(prefix="steward-wrk-"))
    (folder / "body").write_bytes(body.encode() if isinstance(body, str) else body)
    lines = "\n".join(
        f'wrk.headers["{name}"] = "{value}"'
        for name, value in (headers or {"Content-Type": "application/json"}).items()
    )
    (folder / "post.lua").write_text(WRK_SCRIPT.format(body=folder / "body", headers=lines))
    threads = "1" if concurrency == 1 else "2"
    duration = max(1, round(seconds))
    before = _children_cpu()
    try:
        out = subprocess.run(
            ["wrk", "-t", threads, "-c", str(concurrency), "-d", f"{duration}s",
             "--latency", "-s", str(folder / "post.lua"), url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result: dict[str, float] = {"client_cores": (_children_cpu() - before) / duration}
    for line in out.splitlines():
        parts = line.split()
        if parts[:1] == ["50%"]:
            result["p50_ms"] = _wrk_units(parts[1])
        elif parts[:1] == ["99%"]:
            result["p99_ms"] = _wrk_units(parts[1])
        elif parts[:1] == ["Requests/sec:"]:
            result["rps"] = float(parts[1])
        elif "Non-2xx" in line:
            if not refusals:
                raise RuntimeError(f"the server refused requests under load: {line.strip()}")
            result["non_2xx"] = float(parts[-1])
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


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds used so far by ``pid`` and each of its descendants, by process id."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for process in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[process] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return used


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, in MB."""
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


def status_load(
    base: str, path: str, concurrency: int, seconds: float, body: str
) -> dict[str, dict[str, float]]:
    """Drive ``base + path`` with the raw-socket client; figures per HTTP status."""
    folder = Path(tempfile.mkdtemp(prefix="steward-load-"))
    (folder / "body").write_text(body)
    host, port = base.removeprefix("http://").split(":")
    try:
        out = subprocess.run(
            [sys.executable, "-c", STATUS_LOAD, host, port, path, str(concurrency),
             str(seconds), str(folder / "body")],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
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
