"""The registry tests run three ways: on SQLite, on PostgreSQL, and through the team
server on loopback as an approver (approving and moving ``production`` need that role)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import workspace_three_ways


@pytest.fixture(params=["sqlite", "postgres", "server"])
def any_workspace(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A fresh workspace: local on SQLite and PostgreSQL, and remote through a server."""
    yield from workspace_three_ways(request, tmp_path, monkeypatch, role="approver")
