"""Real services for tests: a throwaway PostgreSQL cluster, a moto S3 server, an HTTP
receiver on loopback, child processes in their own mount and network namespaces, a Ray
cluster, and ``steward server`` itself on loopback.

PostgreSQL: ``STEWARD_TEST_POSTGRES_URL`` names an existing server; otherwise,
when Debian's binaries are installed, a temporary cluster is started on a
free loopback port (as the ``postgres`` user when running as root, since the
server refuses root). Without either, PostgreSQL tests skip on a developer
machine and fail under CI (``CI`` set).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """Yield a server URL without database name (``postgresql+psycopg://…:PORT``), or None."""
    existing = os.environ.get("STEWARD_TEST_POSTGRES_URL")
    if existing:
        yield existing.rstrip("/")
        return
    bin_dir = _postgres_bin()
    if bin_dir is None:
        yield None
        return
    data_dir = tempfile.mkdtemp(prefix="steward-pg-")
    if os.geteuid() == 0:
        shutil.chown(data_dir, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres(
            [
                f"{bin_dir}/initdb",
                "-D",
                data_dir,
                "--auth=trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-h 127.0.0.1 -p {port} -k {data_dir} -c fsync=off -c full_page_writes=off"
    subprocess.run(
        _as_postgres(
            [
                f"{bin_dir}/pg_ctl",
                "-D",
                data_dir,
                "-o",
                options,
                "-w",
                "-l",
                f"{data_dir}/log",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres([f"{bin_dir}/pg_ctl", "-D", data_dir, "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(data_dir, ignore_errors=True)


def create_database(server_url: str) -> str:
    """Create a fresh database on the server and return its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"


@contextmanager
def s3_server() -> Iterator[dict[str, str]]:
    """Start moto's S3 server on loopback and yield fsspec storage options."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield {
            "key": "testing",
            "secret": "testing",
            "endpoint_url": f"http://{host}:{port}",
        }
    finally:
        server.stop()


def create_bucket(options: dict[str, str]) -> str:
    """Create a fresh bucket and return its name."""
    import boto3

    name = f"steward-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        aws_access_key_id=options["key"],
        aws_secret_access_key=options["secret"],
        endpoint_url=options["endpoint_url"],
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    return name


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


class Receiver:
    """An HTTP server on loopback that records JSON bodies and headers of POSTs.

    ``fail_next`` answers that many requests with 503; ``redirect_to`` answers
    every request with a 302 to that URL.
    """

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.requests: list[str] = []
        self.fail_next = 0
        self.redirect_to: str | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                receiver.requests.append(f"GET {self.path}")
                self.send_response(200)
                self.end_headers()

            def do_POST(self) -> None:
                receiver.requests.append(f"POST {self.path}")
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                if receiver.redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", receiver.redirect_to)
                elif receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(503)
                else:
                    receiver.bodies.append(body)
                    receiver.headers.append(dict(self.headers))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def _unshare_prefix() -> list[str] | None:
    if not shutil.which("unshare"):
        return None
    prefixes = [["unshare", "-r", "-m", "-n"]]
    if os.geteuid() == 0:
        prefixes.insert(0, ["unshare", "-m", "-n"])
    for prefix in prefixes:
        probe = subprocess.run([*prefix, "true"], capture_output=True, check=False)
        if probe.returncode == 0:
            return prefix
    return None


ISOLATION = _unshare_prefix()
"""How to start a child in its own mount and network namespaces, or None where the
kernel or sandbox refuses (the tests that need it then skip and say why)."""

LOOPBACK_UP = """
import fcntl, socket, struct
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as _s:  # SIOCSIFFLAGS lo UP|LOOPBACK|RUNNING
    fcntl.ioctl(_s, 0x8914, struct.pack("16sH14x", b"lo", 0x1 | 0x8 | 0x40))
"""
"""Python that brings up the loopback interface of a fresh network namespace."""


def run_isolated(
    script: str,
    folder: Path,
    binds: dict[str, str] | None = None,
    tmpfs: dict[Path, str] | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with this interpreter in new mount and network namespaces.

    Args:
        script: Python source; ``LOOPBACK_UP`` is run first, so loopback works.
        folder: where the script and the bound files are written.
        binds: system files to replace for the child only (``{"/etc/hosts": text}``).
        tmpfs: folders to mount a small tmpfs on (``{path: "2m"}``), for a full disk.
        timeout: seconds before the child is killed.
        env: extra environment variables.
    """
    assert ISOLATION is not None
    steps = []
    for index, (target, text) in enumerate((binds or {}).items()):
        source = folder / f"bind-{index}"
        source.write_text(text)
        steps.append(f"mount --bind {source} {target}")
    for path, size in (tmpfs or {}).items():
        path.mkdir(parents=True, exist_ok=True)
        steps.append(f"mount -t tmpfs -o size={size} tmpfs {path}")
    program = folder / "isolated.py"
    program.write_text(LOOPBACK_UP + script)
    steps.append(f"exec {sys.executable} {program}")
    return subprocess.run(
        [*ISOLATION, "sh", "-c", " && ".join(steps)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def run_steward(
    home: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the ``steward`` command in a child process on the workspace at ``home``."""
    return subprocess.run(
        [sys.executable, "-m", "steward.cli", *args],
        env={**os.environ, "STEWARD_HOME": str(home), "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def spawn_steward_script(
    body: str, home: Path, store_url: str | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start ``import steward, sys, time`` + ``body`` in a child process on a workspace
    (its own SQLite store unless ``store_url`` is given), stdout and stderr piped."""
    import textwrap

    script = "import steward, sys, time\n" + textwrap.dedent(body)
    child_env = {**os.environ, "STEWARD_HOME": str(home), "PYTHONUNBUFFERED": "1", **(env or {})}
    child_env.pop("STEWARD_BLOB_URL", None)
    if store_url is None:
        child_env.pop("STEWARD_STORE_URL", None)
    else:
        child_env["STEWARD_STORE_URL"] = store_url
    return subprocess.Popen(
        [sys.executable, "-c", script],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _descendants(roots: set[int]) -> set[int]:
    """``roots`` and every process below them (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def kill_processes_mentioning(marker: str) -> None:
    """Kill every process whose command line holds ``marker`` (a folder only this test
    made, such as a Ray cluster's temp dir), and every process below them; no other."""
    import signal

    roots = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if marker.encode() in handle.read():
                        roots.add(int(entry))
            except OSError:
                continue
    for pid in _descendants(roots):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextmanager
def ray_head(temp_dir: str, num_cpus: int = 1) -> Iterator[tuple[str, Any]]:
    """A separate Ray cluster (``ray start --head``) on a free loopback port; yields its
    address and a function that kills it (every process of that cluster, no other)."""
    import sys

    port = free_port()
    ray = os.path.join(os.path.dirname(sys.executable), "ray")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    subprocess.run(
        [ray, "start", "--head", f"--port={port}", f"--num-cpus={num_cpus}",
         "--include-dashboard=false", f"--temp-dir={temp_dir}", "--disable-usage-stats",
         "--node-ip-address=127.0.0.1"],
        check=True, capture_output=True, env=env, timeout=180,
    )  # fmt: skip

    def kill() -> None:
        kill_processes_mentioning(temp_dir)

    try:
        yield f"127.0.0.1:{port}", kill
    finally:
        kill()
        shutil.rmtree(temp_dir, ignore_errors=True)


@dataclass
class StewardServer:
    """A ``steward server`` process on loopback, with its bootstrap admin token."""

    url: str
    admin_token: str
    home: Path
    process: subprocess.Popen[bytes]

    def make_user(self, name: str, role: str) -> str:
        """Create a user with ``role`` through the API; return a token for them."""
        import httpx

        headers = {"authorization": f"Bearer {self.admin_token}"}
        with httpx.Client(base_url=self.url + "/api/v1", headers=headers) as client:
            client.post("/users", json={"name": name, "role": role}).raise_for_status()
            answer = client.post("/tokens", json={"user": name, "name": "tests"})
            answer.raise_for_status()
            return str(answer.json()["secret"])


@contextmanager
def steward_server(
    home: Path, *options: str, env: dict[str, str] | None = None
) -> Iterator[StewardServer]:
    """Run ``steward server`` on a free loopback port until the block ends."""
    import httpx

    port = free_port()
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("STEWARD_")
    }
    environment.update(env or {})
    log = home.parent / f"{home.name}-server.log"
    home.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "steward.cli",
                "server",
                "--port",
                str(port),
                "--home",
                str(home),
                *options,
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"steward server exited: {log.read_text()}")
        try:
            return httpx.get(url + "/api/v1/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        if not wait_until(ready, timeout=60):
            raise RuntimeError(f"steward server did not start: {log.read_text()}")
        match = re.search(r"stw_[A-Za-z0-9_-]{43}", log.read_text())
        yield StewardServer(url, match.group(0) if match else "", home, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class ServedWorkspace:
    """A workspace served by the team server's app on real uvicorn, in this process."""

    url: str
    workspace: Any
    admin_token: str

    def make_user(self, name: str, role: str) -> str:
        """Create a user with ``role`` on the server's store; return a token for them."""
        auth = self.workspace.store.auth
        auth.create_user(name, role, "tests")
        return str(auth.create_token(name, "tests", "tests").secret)


@contextmanager
def served_workspace(
    home: Path, store_url: str | None = None, **config: Any
) -> Iterator[ServedWorkspace]:
    """Serve a fresh workspace with uvicorn on a free loopback port (a thread of this process)."""
    import io
    import threading

    import uvicorn

    from steward.server.app import ServerConfig, create_app
    from steward.server.run import bootstrap
    from steward.workspace import open_workspace

    workspace = open_workspace(home=home, store_url=store_url, actor="steward-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    token = bootstrap(workspace, url, io.StringIO()) or ""
    app = create_app(workspace, ServerConfig(**config))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        if not wait_until(lambda: server.started, timeout=30):
            raise RuntimeError("uvicorn did not start")
        yield ServedWorkspace(url, workspace, token)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        workspace.close()
