"""Endpoint declarations refuse what the server could not honour."""

from __future__ import annotations

import pytest

from steward.api.endpoint import Endpoint
from steward.api.repositories import REPOSITORIES
from steward.auth import Role


class _Store:
    def write(self, name: str, actor: str) -> None:
        """Write as ``actor`` (filled in by the server)."""

    def read(self, actor: str | None = None) -> list[str]:
        """Events made by ``actor``: a filter that the server would overwrite."""
        return []


def test_an_optional_actor_is_refused_as_a_filter_the_server_would_overwrite() -> None:
    Endpoint("store", _Store.write, "POST", "/write", Role.EDITOR)
    with pytest.raises(TypeError, match=r"store\.read: parameter 'actor' is filled by the server"):
        Endpoint("store", _Store.read, "GET", "/read", Role.VIEWER)


def test_every_declared_actor_names_the_writer() -> None:
    for repository in REPOSITORIES:
        for endpoint in repository.endpoints:
            actor = endpoint.signature.parameters.get("actor")
            assert actor is None or actor.default is actor.empty, endpoint.operation_id
