"""The tracking tests run three ways: on SQLite, on PostgreSQL, and through the team
server's app on real uvicorn on loopback (``STEWARD_URI`` + ``STEWARD_TOKEN``), unchanged.

The server runs in a thread of the test process (a fresh store per test costs
milliseconds, not a process start); ``tests/server`` starts ``steward server``
itself as a process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fresh_store_url, pinned
from tests.services import served_workspace


@pytest.fixture(params=["sqlite", "postgres", "server"])
def any_workspace(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A fresh workspace: local on SQLite and PostgreSQL, and remote through a server."""
    from steward.workspace import open_workspace

    if request.param != "server":
        url = fresh_store_url(request.param, request, tmp_path)
        ws = open_workspace(home=tmp_path / "home", store_url=url, actor="tester")
        yield from pinned(ws, monkeypatch, tmp_path)
        return
    with served_workspace(tmp_path / "server") as server:
        monkeypatch.setenv("STEWARD_URI", server.url)
        monkeypatch.setenv("STEWARD_TOKEN", server.make_user("tester", "editor"))
        ws = open_workspace(home=tmp_path / "home", actor="tester")
        yield from pinned(ws, monkeypatch, tmp_path)
