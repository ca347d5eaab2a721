"""A served workspace with a user of each role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.services import ServedWorkspace, served_workspace

ROLES = ("viewer", "editor", "approver", "admin")


@dataclass
class Team:
    """A served workspace and one token per role (``admin`` is the bootstrap admin)."""

    server: ServedWorkspace
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self.server.url

    def client(self, role: str | None) -> httpx.Client:
        """An HTTP client on ``/api/v1`` with the token of ``role`` (None: no token)."""
        headers = {"authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30)


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    """A fresh server with users ``viewer``, ``editor``, ``approver`` and the admin."""
    with served_workspace(tmp_path / "server") as server:
        tokens = {role: server.make_user(role, role) for role in ROLES[:3]}
        tokens["admin"] = server.admin_token
        yield Team(server, tokens)
