"""Shared fixtures: a temporary workspace on SQLite or PostgreSQL, local or S3 blobs, an
HTTP receiver on loopback, and child processes in their own namespaces."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.services import (
    ISOLATION,
    Receiver,
    create_bucket,
    create_database,
    postgres_server,
    s3_server,
)

IN_CI = bool(os.environ.get("CI"))

# Property tests judge results, not speed: a per-example deadline only measures how busy
# the machine is (a 2-core CI runner with the suite on both cores misses 200 ms).
settings.register_profile("steward", deadline=None)
settings.load_profile("steward")


@pytest.fixture(scope="session")
def postgres_url_base() -> Iterator[str]:
    """URL of a running PostgreSQL server (no database); skips locally, fails in CI."""
    with postgres_server() as url:
        if url is None:
            message = (
                "PostgreSQL is not available: install Debian's 'postgresql' package or set "
                "STEWARD_TEST_POSTGRES_URL"
            )
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        yield url


@pytest.fixture(scope="session")
def s3_options() -> Iterator[dict[str, str]]:
    """fsspec storage options of a moto S3 server on loopback."""
    with s3_server() as options:
        yield options


def fresh_store_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty metadata store URL of ``kind`` (``sqlite`` or ``postgres``)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'steward.db'}"
    base = request.getfixturevalue("postgres_url_base")
    return create_database(base)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty metadata store URL: SQLite and PostgreSQL."""
    return fresh_store_url(request.param, request, tmp_path)


@pytest.fixture
def s3_blob_url(s3_options: dict[str, str]) -> str:
    """URL of a fresh prefix in a fresh bucket on the moto server."""
    return f"s3://{create_bucket(s3_options)}/blobs"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh SQLite workspace pinned as the process's workspace."""
    from steward.workspace import open_workspace

    yield from pinned(open_workspace(home=tmp_path / "home", actor="tester"), monkeypatch, tmp_path)


@pytest.fixture
def any_workspace(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh workspace on SQLite and on PostgreSQL."""
    from steward.workspace import open_workspace

    ws = open_workspace(home=tmp_path / "home", store_url=store_url, actor="tester")
    yield from pinned(ws, monkeypatch, tmp_path)


def pinned(ws: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    from steward.tracking import fluent
    from steward.workspace import use_workspace

    monkeypatch.setenv("STEWARD_HOME", str(ws.settings.home))
    monkeypatch.chdir(tmp_path)
    use_workspace(ws)
    try:
        yield ws
    finally:
        while fluent.active_run() is not None:
            fluent.end_run()
        use_workspace(None)
        ws.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP server on loopback recording the JSON it is sent."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def isolation() -> list[str]:
    """The ``unshare`` prefix for a child in its own mount and network namespaces (a
    planted /etc/hosts, a DNS server, a full disk); skips locally, fails in CI."""
    if ISOLATION is None:
        message = (
            "this test needs 'unshare' to give a child process its own mount and network "
            "namespaces (root, or unprivileged user namespaces)"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return ISOLATION


CliResult = tuple[int, str, str]
"""Exit code, stdout and stderr of one ``steward`` command."""


@pytest.fixture
def steward_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``steward ARGS`` in this process through its real entry point (``main``: the
    one-line errors and exit codes users see), on the current workspace."""
    from steward.cli import main

    def invoke(*args: str) -> CliResult:
        capsys.readouterr()
        saved = sys.argv
        sys.argv = ["steward", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        finally:
            sys.argv = saved
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def workspace_three_ways(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    role: str = "editor",
) -> Iterator[Any]:
    """A fresh workspace of kind ``request.param``: local on ``sqlite`` or ``postgres``, or
    ``server``: through the team server's app on real uvicorn on loopback, with
    ``STEWARD_URI`` and the token of a user ``tester`` who has ``role``.

    The server runs in a thread of the test process (a fresh store per test costs
    milliseconds, not a process start); ``tests/server`` starts ``steward server``
    itself as a process.
    """
    from steward.workspace import open_workspace
    from tests.services import served_workspace

    if request.param != "server":
        url = fresh_store_url(request.param, request, tmp_path)
        ws = open_workspace(home=tmp_path / "home", store_url=url, actor="tester")
        request.node.stash[STORED_BLOBS] = ws.blobs
        request.node.stash[STORED_METADATA] = ws.store
        yield from pinned(ws, monkeypatch, tmp_path)
        return
    with served_workspace(tmp_path / "server") as server:
        monkeypatch.setenv("STEWARD_URI", server.url)
        monkeypatch.setenv("STEWARD_TOKEN", server.make_user("tester", role))
        request.node.stash[STORED_BLOBS] = server.workspace.blobs
        request.node.stash[STORED_METADATA] = server.workspace.store
        ws = open_workspace(home=tmp_path / "home", actor="tester")
        yield from pinned(ws, monkeypatch, tmp_path)


@pytest.fixture(params=["sqlite", "postgres", "server"])
def three_way_workspace(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A fresh workspace of an editor: local on SQLite and PostgreSQL, and remote through
    a server (a package's conftest makes it its ``any_workspace``)."""
    yield from workspace_three_ways(request, tmp_path, monkeypatch, role="editor")


STORED_BLOBS = pytest.StashKey[Any]()
"""The blob store that really holds a three-way workspace's blobs (the server's, remotely)."""
STORED_METADATA = pytest.StashKey[Any]()
"""The metadata store that really holds a three-way workspace's records (likewise)."""


@pytest.fixture
def stored_blobs(request: pytest.FixtureRequest, any_workspace: Any) -> Any:
    """The blob store holding ``any_workspace``'s blobs: its own, or its server's (a test
    that damages stored content must damage the copy that the server reads)."""
    return request.node.stash[STORED_BLOBS]


@pytest.fixture
def stored_metadata(request: pytest.FixtureRequest, any_workspace: Any) -> Any:
    """The metadata store holding ``any_workspace``'s records: its own, or its server's."""
    return request.node.stash[STORED_METADATA]
