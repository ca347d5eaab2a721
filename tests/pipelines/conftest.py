"""The pipeline tests that keep state run three ways: on SQLite, on PostgreSQL, and through
the team server on loopback (pipeline runs, steps and the step cache in its store)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def any_workspace(three_way_workspace: Any) -> Any:
    """A fresh workspace: local on SQLite and PostgreSQL, and remote through a server."""
    return three_way_workspace


@pytest.fixture(autouse=True)
def forget_flow_files(tmp_path: Path) -> Iterator[None]:
    """Unload the pipeline files a test loaded from its folder, so the next variant of
    the test (SQLite, PostgreSQL, server) can load its own file of the same name."""
    from steward.pipelines.definition import FILE_MODULES

    yield
    for name in list(FILE_MODULES):
        path = getattr(sys.modules.get(name), "__file__", None) or ""
        if Path(path).resolve().is_relative_to(tmp_path.resolve()):
            sys.modules.pop(name, None)
            FILE_MODULES.discard(name)
