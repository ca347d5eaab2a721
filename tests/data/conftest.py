"""Fixtures for dataset tests: small chunks so chunking is exercised on small files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunk files above 64 KiB into chunks of about 16 KiB."""
    from steward.data import chunking

    monkeypatch.setattr(chunking, "CHUNK_THRESHOLD", 64 << 10)
    monkeypatch.setattr(chunking, "AVERAGE_CHUNK", 16 << 10)
    monkeypatch.setattr(chunking, "MIN_CHUNK", 4 << 10)
    monkeypatch.setattr(chunking, "MAX_CHUNK", 64 << 10)


@pytest.fixture
def s3_workspace(
    tmp_path: Path, s3_blob_url: str, s3_options: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A SQLite workspace whose blobs live in a fresh S3 bucket."""
    from steward.workspace import open_workspace
    from tests.conftest import pinned

    ws = open_workspace(
        home=tmp_path / "home", blob_url=s3_blob_url, actor="tester", blob_options=s3_options
    )
    yield from pinned(ws, monkeypatch, tmp_path)


@pytest.fixture(params=["local", "s3"])
def blob_workspace(request: pytest.FixtureRequest) -> Any:
    """A SQLite workspace whose blobs are in a local folder, then in S3."""
    return request.getfixturevalue("workspace" if request.param == "local" else "s3_workspace")


def corrupt_blob(workspace: Any, digest: str, content: bytes = b"tampered") -> None:
    """Overwrite a stored blob's bytes in place, in a local folder or in S3."""
    from steward.blobs.local import LocalBlobStore

    blobs = workspace.blobs
    if isinstance(blobs, LocalBlobStore):
        path = blobs.path_of(digest)
        path.chmod(0o644)
        path.write_bytes(content)
    else:
        blobs.fs.pipe_file(blobs.key_of(digest), content)


def stored_bytes(workspace: Any) -> int:
    """Bytes of every blob the workspace's blob store holds (local folder or S3)."""
    from steward.blobs.local import LocalBlobStore

    blobs = workspace.blobs
    if isinstance(blobs, LocalBlobStore):
        return sum(p.stat().st_size for p in blobs.root.rglob("*") if p.is_file())
    return int(blobs.fs.du(blobs.root))


def write_csv(path: Path, rows: int, start: int = 0) -> Path:
    """A small CSV with an id, a number and a category."""
    lines = ["id,value,group"]
    lines += [f"{i},{(i * 7) % 13 / 2},{'abc'[i % 3]}" for i in range(start, start + rows)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(params=["sqlite", "postgres", "server"])
def any_workspace(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A fresh workspace: local on SQLite and PostgreSQL, and remote through a server."""
    from tests.conftest import workspace_three_ways

    yield from workspace_three_ways(request, tmp_path, monkeypatch, role="editor")
