"""The lean connection of the API's JSON calls: kept alive, opened anew when the server
closed it while idle, never sending a request twice; httpx where it must stay."""

from __future__ import annotations

import gc
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from steward.api.client import RemoteMetadataStore
from steward.api.http_connection import JsonConnections, lean_transport_applies
from steward.errors import TransferFailed


class _Counting(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, close_after_each: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.close_after_each = close_after_each
        self.connections = 0
        self.requests: list[tuple[str, str, bytes]] = []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Counting

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        self.server.requests.append((self.command, self.path, body))
        answer = b'{"ok": true}'
        self.send_response(200)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        # Closing without saying so is what an idle timeout or a restart looks like.
        self.close_connection = self.server.close_after_each

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def _serving(close_after_each: bool) -> Iterator[_Counting]:
    served = _Counting(close_after_each)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.shutdown()
        served.server_close()


@pytest.fixture(params=[False, True], ids=["kept-alive", "closed-when-idle"])
def server(request: pytest.FixtureRequest) -> Iterator[_Counting]:
    with _serving(close_after_each=request.param) as served:
        yield served


def test_each_request_is_sent_once_on_a_live_connection(server: _Counting) -> None:
    url = f"http://127.0.0.1:{server.server_port}/api/v1"
    connections = JsonConnections(url, {"user-agent": "t"}, 5)
    for number in range(3):
        status, body = connections.request("POST", f"/runs/{number}", b"{}", {})
        assert (status, body) == (200, b'{"ok": true}')
        time.sleep(0.05)  # the server's close, if any, reaches the client meanwhile
    connections.close()
    assert [path for _, path, _ in server.requests] == [f"/api/v1/runs/{n}" for n in range(3)]
    assert server.connections == (3 if server.close_after_each else 1)


def test_each_thread_has_its_own_connection(server: _Counting) -> None:
    connections = JsonConnections(f"http://127.0.0.1:{server.server_port}", {}, 5)
    answers: list[int] = []

    def call() -> None:
        answers.append(connections.request("GET", "/health", None, {})[0])

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connections.close()
    assert answers == [200] * 4 and len(server.requests) == 4


def test_an_unreachable_server_is_named_in_one_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store: Any = RemoteMetadataStore(f"http://127.0.0.1:{port}", "stw_token")
    with pytest.raises(
        TransferFailed, match=f"cannot reach the Steward server at http://127.0.0.1:{port}"
    ):
        store.tracking.search_runs()
    store.close()


def test_https_and_proxies_stay_on_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert lean_transport_applies("http://127.0.0.1:5000")
    assert not lean_transport_applies("https://steward.example.org")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example.org:3128")
    assert not lean_transport_applies("http://steward.example.org")


def test_a_finished_threads_connection_goes_with_it(server: _Counting) -> None:
    connections = JsonConnections(f"http://127.0.0.1:{server.server_port}", {}, 5)
    thread = threading.Thread(target=lambda: connections.request("GET", "/health", None, {}))
    thread.start()
    thread.join()
    gc.collect()
    assert len(server.requests) == 1 and len(connections._all) == 0
    connections.close()


def test_a_forked_child_opens_its_own_connection() -> None:
    with _serving(close_after_each=False) as server:
        connections = JsonConnections(f"http://127.0.0.1:{server.server_port}", {}, 5)
        assert connections.request("GET", "/parent", None, {})[0] == 200

        def child() -> None:
            status, _ = connections.request("GET", "/child", None, {})
            os._exit(0 if status == 200 else 1)

        process = multiprocessing.get_context("fork").Process(target=child)
        process.start()
        process.join(30)
        assert process.exitcode == 0
        assert connections.request("GET", "/parent-again", None, {})[0] == 200
        connections.close()
    assert [path for _, path, _ in server.requests] == ["/parent", "/child", "/parent-again"]
    assert server.connections == 2  # the child's own, and the parent's kept alive
