"""Real services for tests: a throwaway PostgreSQL cluster, a moto S3 server, and
``steward server`` itself on loopback.

PostgreSQL: ``STEWARD_TEST_POSTGRES_URL`` names an existing server; otherwise,
when Debian's binaries are installed, a temporary cluster is started on a
free loopback port (as the ``postgres`` user when running as root, since the
server refuses root). Without either, PostgreSQL tests skip on a developer
machine and fail under CI (``CI`` set).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
