"""Blob and ref routes: streamed and resumable both ways, verified, size-limited, and
closed to path traversal however the path is encoded."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from steward.api.blobs import UPLOAD_CHUNK_BYTES, HttpBlobStore
from steward.api.client import Transport
from steward.blobs.digest import digest_bytes
from steward.errors import InvalidInput, NotFound
from tests.server.conftest import Team
from tests.services import served_workspace


def _store(team: Team, role: str = "editor") -> HttpBlobStore:
    return HttpBlobStore(Transport(team.url, team.tokens[role]))


def test_a_large_file_goes_up_in_chunks_and_comes_back_verified(team: Team, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(2 * UPLOAD_CHUNK_BYTES + 12345))
    store = _store(team)
    ref = store.put_file(source)
    assert ref.size == source.stat().st_size
    assert team.server.workspace.blobs.exists(ref.digest)
    assert store.missing([ref.digest, "blake3:" + "1" * 64]) == ["blake3:" + "1" * 64]
    back = store.get_file(ref.digest, tmp_path / "out" / "big.bin")
    assert back.read_bytes() == source.read_bytes()
    with store.open_unverified(ref.digest) as reader:
        assert reader.read(10) == source.read_bytes()[:10]
    assert store.put_bytes(b"small").digest == digest_bytes(b"small", store.algorithm)
    assert store.get_bytes(digest_bytes(b"small", store.algorithm)) == b"small"


def test_an_interrupted_chunk_is_dropped_and_the_upload_resumes(team: Team) -> None:
    data = os.urandom(3000)
    digest = digest_bytes(data, "blake3")
    with team.client("editor") as client:
        upload = client.post("/blob-uploads").json()["upload_id"]
        first = client.patch(
            f"/blob-uploads/{upload}", content=data[:1000], headers={"upload-offset": "0"}
        )
        assert first.json()["offset"] == 1000

        def cut_off() -> Any:
            yield data[1000:1500]
            raise ConnectionError("cable pulled")

        with pytest.raises(ConnectionError):
            client.patch(
                f"/blob-uploads/{upload}", content=cut_off(), headers={"upload-offset": "1000"}
            )
        assert client.get(f"/blob-uploads/{upload}").json()["offset"] == 1000
        stale = client.patch(
            f"/blob-uploads/{upload}", content=data[:10], headers={"upload-offset": "0"}
        )
        assert stale.status_code == 409 and "offset 1000" in stale.json()["message"]
        client.patch(
            f"/blob-uploads/{upload}", content=data[1000:], headers={"upload-offset": "1000"}
        )
        with team.client("viewer") as viewer:
            assert viewer.get(f"/blob-uploads/{upload}").status_code == 403
        with team.client("approver") as other:
            assert other.get(f"/blob-uploads/{upload}").status_code == 404  # not theirs
        done = client.put(f"/blob-uploads/{upload}", params={"digest": digest})
        assert done.status_code == 201
    assert team.server.workspace.blobs.get_bytes(digest) == data


def test_bytes_that_do_not_match_their_digest_are_refused_and_not_stored(team: Team) -> None:
    claimed = digest_bytes(b"what I say", "blake3")
    with team.client("editor") as client:
        answer = client.put(f"/blobs/{claimed}", content=b"what I send")
    assert answer.status_code == 400
    assert "nothing was stored" in answer.json()["message"]
    assert not team.server.workspace.blobs.exists(claimed)
    assert list((team.server.workspace.settings.home / "server" / "uploads").iterdir()) == []


def test_a_download_resumes_from_a_range(team: Team) -> None:
    data = os.urandom(5000)
    ref = team.server.workspace.blobs.put_bytes(data)
    with team.client("viewer") as client:
        part = client.get(f"/blobs/{ref.digest}", headers={"range": "bytes=4000-"})
        assert part.status_code == 206
        assert part.content == data[4000:]
        assert part.headers["content-range"] == "bytes 4000-4999/5000"
        assert (
            client.get(f"/blobs/{ref.digest}", headers={"range": "bytes=9999-"}).status_code == 400
        )


def test_refs_round_trip_and_exclusive_writes_conflict(team: Team) -> None:
    store = _store(team)
    store.put_ref("datasets/a%2Fb/1.json", b"{}")
    assert store.get_ref("datasets/a%2Fb/1.json") == b"{}"
    assert store.list_refs("datasets/") == ["datasets/a%2Fb/1.json"]
    with pytest.raises(Exception, match="already exists"):
        store.put_ref("datasets/a%2Fb/1.json", b"{}", exclusive=True)
    with pytest.raises(NotFound):
        store.get_ref("datasets/none.json")
    with pytest.raises(NotFound):
        _store(team, "viewer").get_bytes("blake3:" + "2" * 64)


TRAVERSALS = [
    "../../secret.txt",
    "..%2f..%2fsecret.txt",
    "%2e%2e/%2e%2e/secret.txt",
    "%2E%2E%2F%2E%2E%2Fsecret.txt",
    "%252e%252e/%252e%252e/secret.txt",
    "%252e%252e%252f%252e%252e%252fsecret.txt",
    "..\\..\\secret.txt",
    "..%5c..%5csecret.txt",
    "a/%00/../../secret.txt",
    "ok%00.json",
    "/secret.txt",
    "%2fsecret.txt",
    "a/./../../secret.txt",
    "a//b",
    ".",
]


def _raw(team: Team, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """Send ``path`` exactly as written (httpx would normalise dot segments)."""
    parts = urlsplit(team.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"authorization": f"Bearer {team.tokens['editor']}"}
    connection.request(method, path, body=body, headers=headers)
    answer = connection.getresponse()
    return answer.status, answer.read()


@pytest.mark.parametrize("attack", TRAVERSALS)
def test_path_traversal_is_refused_on_every_blob_and_ref_route(team: Team, attack: str) -> None:
    home = team.server.workspace.settings.home
    secret = home.parent / "secret.txt"
    secret.write_text("the server's secret")
    blobs_root = Path(team.server.workspace.settings.blob_url)
    before = {path for path in home.parent.rglob("*")}
    for method, prefix, body in [
        ("GET", "/api/v1/refs/", None),
        ("PUT", "/api/v1/refs/", b"planted"),
        ("GET", "/api/v1/refs/datasets/", None),
        ("GET", "/api/v1/blobs/", None),
        ("HEAD", "/api/v1/blobs/", None),
        ("PUT", "/api/v1/blobs/", b"planted"),
        ("GET", "/api/v1/blob-uploads/", None),
        ("PATCH", "/api/v1/blob-uploads/", b"planted"),
        ("PUT", "/api/v1/blob-uploads/", None),
    ]:
        status, answer = _raw(team, method, prefix + attack, body)
        assert status in (400, 404, 405), f"{method} {prefix}{attack}: {status} {answer!r}"
        assert b"secret" not in answer.replace(b"secret.txt", b"")
    status, _ = _raw(team, "GET", "/api/v1/refs?prefix=" + attack)
    assert status in (400, 404) or attack in ("a//b",), attack
    created = {path for path in home.parent.rglob("*")} - before
    planted = [path for path in created if path.is_file() and path.read_bytes() == b"planted"]
    assert planted == [], planted
    assert secret.read_text() == "the server's secret"
    assert blobs_root.exists()


def test_ref_keys_are_checked_on_the_client_too(team: Team) -> None:
    with pytest.raises(InvalidInput):
        _store(team).get_ref("../etc/passwd")


def test_who_asks_for_missing_blobs_is_checked_before_what_they_sent(team: Team) -> None:
    odd = b'{"digests": ["\\u0000"]}'
    with team.client(None) as anonymous:
        reply = anonymous.post("/blobs/missing", content=odd)
        assert reply.status_code == 401, reply.text
    with team.client("viewer") as viewer:
        assert viewer.post("/blobs/missing", content=odd).status_code == 400
        touching = viewer.post("/blobs/missing", json={"digests": [], "touch": True})
        assert touching.status_code == 403, touching.text


def test_request_bodies_over_the_limit_are_refused(tmp_path: Path) -> None:
    with served_workspace(tmp_path / "s", max_body_bytes=2048, max_blob_bytes=8192) as server:
        headers = {"authorization": f"Bearer {server.admin_token}"}
        with httpx.Client(base_url=server.url + "/api/v1", headers=headers) as client:
            big = client.post("/experiments", content=b"{" + b" " * 4096 + b"}")
            assert big.status_code == 413
            assert big.json()["error"] == "PayloadTooLarge"

            def chunks() -> Any:
                for _ in range(10):
                    yield b"x" * 1024

            streamed = client.put("/blobs/blake3:" + "3" * 64, content=chunks())
            assert streamed.status_code == 413
            fits = client.put(f"/blobs/{digest_bytes(b'x' * 4096, 'blake3')}", content=b"x" * 4096)
            assert fits.status_code == 201
            assert client.put("/refs/a", content=b"y" * 4096).status_code == 413
            assert client.post("/experiments", json={"name": "fits"}).status_code == 201
        assert list((server.workspace.settings.home / "server" / "uploads").iterdir()) == []


class CuttingProxy:
    """A loopback TCP proxy that drops its first connection after ``cut_after`` bytes have
    gone one way (``upstream``: client to server; else server to client)."""

    def __init__(self, target: str, cut_after: int, upstream: bool) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname, parts.port)
        self.cut_after = cut_after
        self.upstream = upstream
        self.cuts = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            cut = self.cuts == 0
            self.cuts += int(cut)  # only the first connection is cut
            for source, sink, counted in ((client, server, True), (server, client, False)):
                limit = self.cut_after if cut and counted == self.upstream else None
                threading.Thread(
                    target=self._pump, args=(source, sink, limit, (client, server)), daemon=True
                ).start()

    @staticmethod
    def _pump(source: Any, sink: Any, limit: int | None, both: tuple[Any, Any]) -> None:
        sent = 0
        try:
            while data := source.recv(65536):
                if limit is not None and sent + len(data) > limit:
                    sink.sendall(data[: limit - sent])
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for end in both:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("upstream", [False, True], ids=["download", "upload"])
def test_a_dropped_connection_resumes_where_it_stopped(
    team: Team, tmp_path: Path, upstream: bool
) -> None:
    data = os.urandom(UPLOAD_CHUNK_BYTES + 3_000_000)
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    digest = digest_bytes(data, "blake3")
    if not upstream:
        team.server.workspace.blobs.put_file(source)
    proxy = CuttingProxy(
        team.url, cut_after=2_000_000 if upstream else 1_000_000, upstream=upstream
    )
    try:
        store = HttpBlobStore(Transport(proxy.url, team.tokens["editor"]))
        store.algorithm = "blake3"
        if upstream:
            assert store.put_file(source).digest == digest
            assert team.server.workspace.blobs.get_bytes(digest) == data
        else:
            assert store.get_file(digest, tmp_path / "back.bin").read_bytes() == data
    finally:
        proxy.close()
    assert proxy.cuts == 1


def test_abandoned_upload_sessions_are_dropped(team: Team) -> None:
    from steward.server.blob_routes import BlobService

    with team.client("editor") as client:
        old = client.post("/blob-uploads").json()["upload_id"]
        fresh = client.post("/blob-uploads").json()["upload_id"]
    staging = team.server.workspace.settings.home / "server" / "uploads"
    os.utime(staging / old, (0, 0))
    service = BlobService(team.server.workspace, staging)  # as on a restart
    assert not (staging / old).exists() and not (staging / f"{old}.owner").exists()
    assert (staging / fresh).exists()
    assert service.drop_stale_sessions() == 0


def test_a_write_through_the_server_marks_what_it_reuses_and_gc_runs_on_the_server(
    team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import steward.data
    from steward.blobs.local import LocalBlobStore
    from steward.errors import PermissionDenied
    from steward.workspace import open_workspace, workspace_scope

    served = team.server.workspace.blobs
    assert isinstance(served, LocalBlobStore)
    source = tmp_path / "reused.bin"
    source.write_bytes(b"an orphan the next add reuses")
    ref = served.put_file(source)  # on the server, referred to by nothing
    then = time.time() - 7200
    os.utime(served.path_of(ref.digest), (then, then))
    assert _store(team).put_file(source) == ref  # found there: marked used, not uploaded
    assert served.path_of(ref.digest).stat().st_mtime > then + 3600
    with pytest.raises(PermissionDenied):  # marking is an editor's write
        _store(team, "viewer").missing([ref.digest], touch=True)
    assert _store(team, "viewer").missing([ref.digest]) == []
    monkeypatch.setenv("STEWARD_TOKEN", team.tokens["admin"])
    client = open_workspace(home=tmp_path / "client", store_url=team.url, blob_url=team.url)
    with workspace_scope(client), pytest.raises(InvalidInput, match="on its host"):
        steward.data.gc()
