"""``steward serve --workers 2``: each worker accepts on a socket of its own, and gets connections.

Read from the kernel's own tables (``/proc/net/tcp`` and each process's file
descriptors): which listening socket each worker holds, and which worker holds
the server side of each client connection.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from steward.serving.workers import reuse_port_sockets
from tests.services import wait_until
from tests.serving.conftest import rows, serve_process, stop_process

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _tcp_sockets(port: int) -> dict[int, tuple[str, int]]:
    """Inode -> (state, remote port) of the IPv4 sockets whose local port is ``port``."""
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port:
            found[int(fields[9])] = (fields[3], int(fields[2].split(":")[1], 16))
    return found


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_each_worker_listens_on_its_own_socket_and_takes_connections(
    champion: Any, workspace: Any
) -> None:
    process, url = serve_process(
        ["models:/clf@champion", "--workers", "2"], Path(workspace.settings.home)
    )
    try:
        port = int(url.rsplit(":", 1)[1])
        listening = {i for i, (state, _) in _tcp_sockets(port).items() if state == "0A"}
        held = {pid: _socket_inodes(pid) & listening for pid in _children(process.pid)}
        workers = {pid: inodes for pid, inodes in held.items() if inodes}
        assert len(listening) == 2
        assert len(workers) == 2 and all(len(inodes) == 1 for inodes in workers.values())
        assert set.union(*workers.values()) == listening

        # Keep-alive connections opened together: the kernel spreads them over both sockets.
        clients = [httpx.Client(base_url=url) for _ in range(16)]
        try:
            for client in clients:
                # /ready answered 200 from one worker; the other may still be loading its
                # model (503 NotReady) on a busy machine: each connection waits for its own.
                assert wait_until(lambda c=client: c.get("/ready").status_code == 200, 120)
                assert client.post("/predict", json={"inputs": rows(1)}).status_code == 200
            time.sleep(0.2)
            connected = {i for i, (state, _) in _tcp_sockets(port).items() if state == "01"}
            per_worker = {pid: len(_socket_inodes(pid) & connected) for pid in workers}
        finally:
            for client in clients:
                client.close()
        assert sum(per_worker.values()) == 16
        assert min(per_worker.values()) >= 1, per_worker
    finally:
        stop_process(process)


def test_a_port_in_use_is_refused_with_its_reason() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            reuse_port_sockets("127.0.0.1", taken.getsockname()[1], 2)


def test_the_group_shares_one_port() -> None:
    sockets = reuse_port_sockets("127.0.0.1", 0, 3)
    try:
        ports = {sock.getsockname()[1] for sock in sockets}
        assert len(ports) == 1 and 0 not in ports
    finally:
        for sock in sockets:
            sock.close()
