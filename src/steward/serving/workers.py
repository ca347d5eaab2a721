"""Several uvicorn workers on one port, each accepting on a listening socket of its own.

uvicorn's supervisor binds one socket and hands it to every worker; whichever
worker wakes first then accepts every connection waiting. Clients that keep a
few connections open (a gateway's pool, tritonclient with concurrency 8) can
so land on one worker for good: in the serving benchmark, 8 keep-alive
connections opened at once put 97% of the work on one of two workers, and two
workers served no more than one. Here each worker gets its own socket bound
with ``SO_REUSEPORT`` to the same address, and the kernel spreads new
connections across them. A worker that dies is replaced by one listening on
every socket, so none is left without a worker; the supervisor keeps them open
(as uvicorn keeps its one). Where ``SO_REUSEPORT`` does not exist, the shared
socket is used as before.
"""

from __future__ import annotations

import socket
from typing import Any

from steward.errors import StewardError


def reuse_port_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets bound to ``host:port`` in one ``SO_REUSEPORT`` group.

    The first binds (``port`` 0 picks a free port), the others join it. They are
    not listening yet: each worker's event loop listens on its own.

    Raises:
        OSError: the address cannot be bound (in use by another program, say).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def run_workers(settings: Any) -> None:
    """Run ``settings.workers`` uvicorn workers under uvicorn's supervisor until stopped."""
    from uvicorn.supervisors import Multiprocess
    from uvicorn.supervisors.multiprocess import Process

    if not hasattr(socket, "SO_REUSEPORT"):
        Multiprocess(settings, sockets=[settings.bind_socket()]).run()
        return
    try:
        own = reuse_port_sockets(settings.host, settings.port, settings.workers)
    except OSError as exc:
        raise StewardError(
            f"the server could not listen on {settings.host}:{settings.port} ({exc.strerror}; "
            "is another process using that port?)."
        ) from None

    class OwnSockets(Multiprocess):
        def init_processes(self) -> None:
            for sock in own:
                process = Process(self.config, [sock])
                process.start()
                self.processes.append(process)

    # Replacements (a worker that died, a restart) get every socket: see the docstring.
    OwnSockets(settings, sockets=own).run()
