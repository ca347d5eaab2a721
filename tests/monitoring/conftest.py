"""The alert tests that keep state run three ways: on SQLite, on PostgreSQL, and through
the team server on loopback (rule state, alerts, deliveries and events in its store)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def any_workspace(three_way_workspace: Any) -> Any:
    """A fresh workspace: local on SQLite and PostgreSQL, and remote through a server."""
    return three_way_workspace
