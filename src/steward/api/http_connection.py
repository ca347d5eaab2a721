"""A lean keep-alive connection per thread for the API's JSON calls.

Every SDK call through a server is one small JSON request and answer. httpx
spends about a millisecond of CPU on each (its models, h11, the pool), more
than the server takes to answer a search; the standard library's
``http.client`` on a kept-alive connection spends a fraction of that. So the
JSON calls of a plain ``http://`` server go through one ``http.client``
connection per thread; blob streams, ``https://`` servers and set-ups with a
proxy in the environment stay on httpx (certificates and proxies as users set
them up for it).

A kept-alive connection that the server closed while it sat idle (a restart,
an idle timeout) is noticed before it is reused and opened anew, so a request
is never sent down a dead connection and never sent twice. A thread's
connection goes with the thread; a forked child opens its own.
"""

from __future__ import annotations

import http.client
import os
import select
import threading
import weakref
from urllib.parse import urlsplit

_PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")


def lean_transport_applies(base_url: str) -> bool:
    """Whether JSON calls to ``base_url`` can use ``JsonConnections`` (plain HTTP, no proxy)."""
    return urlsplit(base_url).scheme == "http" and not any(
        os.environ.get(name) for name in _PROXY_VARIABLES
    )


class JsonConnections:
    """One keep-alive ``http.client`` connection per thread to one server."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout_s: float) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.headers = headers
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._forget_inherited()

    def _forget_inherited(self) -> None:
        """Start with no connections (in a new process too: a forked child must never
        write on its parent's sockets). A finished thread's connection is closed when
        it is collected: only weak references are kept for ``close``."""
        self._pid = os.getpid()
        self._local = threading.local()
        self._all: weakref.WeakSet[http.client.HTTPConnection] = weakref.WeakSet()

    def request(
        self, verb: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """Send one request; (status, body). Raises OSError or ``http.client.HTTPException``
        when the server cannot be reached or the connection breaks."""
        connection = self._connection()
        try:
            connection.request(verb, self.prefix + path, body, {**self.headers, **headers})
            response = connection.getresponse()
            content = response.read()
        except BaseException:
            connection.close()  # a half-used connection is never reused
            raise
        if response.will_close:
            connection.close()
        return response.status, content

    def _connection(self) -> http.client.HTTPConnection:
        if os.getpid() != self._pid:
            with self._lock:
                self._forget_inherited()
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self._local.connection = connection
            with self._lock:
                self._all.add(connection)
        elif connection.sock is not None and _closed_by_peer(connection):
            connection.close()  # the next request opens it anew
        return connection

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            for connection in list(self._all):
                connection.close()
            self._all.clear()


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle kept-alive connection has something to read: the server's close
    (or stray bytes, which make it unusable all the same)."""
    assert connection.sock is not None
    readable, _, _ = select.select([connection.sock], [], [], 0)
    return bool(readable)
