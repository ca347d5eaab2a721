"""Real services for tests: a throwaway PostgreSQL cluster and a moto S3 server.

PostgreSQL: ``STEWARD_TEST_POSTGRES_URL`` names an existing server; otherwise,
when Debian's binaries are installed, a temporary cluster is started on a
free loopback port (as the ``postgres`` user when running as root, since the
server refuses root). Without either, PostgreSQL tests skip on a developer
machine and fail under CI (``CI`` set).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


@contextmanager
def ray_head(temp_dir: str, num_cpus: int = 1) -> Iterator[tuple[str, Any]]:
    """A separate Ray cluster (``ray start --head``) on a free loopback port; yields its
    address and a function that kills it (every process of that cluster, no other)."""
    import signal
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
        roots = set()
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as handle:
                        if temp_dir.encode() in handle.read():
                            roots.add(int(entry))
                except OSError:
                    continue
        for pid in _descendants(roots):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    try:
        yield f"127.0.0.1:{port}", kill
    finally:
        kill()
        shutil.rmtree(temp_dir, ignore_errors=True)
