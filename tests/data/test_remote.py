from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import steward
from steward.blobs import open_blob_store
from steward.errors import IntegrityError
from tests.data.conftest import write_csv


def _source(root: Path) -> Path:
    write_csv(root / "t.csv", 50)
    (root / "big.bin").write_bytes(np.random.default_rng(0).bytes(400_000))
    return root


def _roundtrip(workspace: Any, tmp_path: Path, remote: str, options: Any) -> None:
    version = steward.data.add("d", _source(tmp_path / "src"))
    pushed = steward.data.push(version, remote, options)
    assert pushed.blobs_sent > 2 and pushed.blobs_present == 0
    again = steward.data.push("d:1", remote, options)
    assert again.blobs_sent == 0
    # lose the local blobs, then pull them back
    shutil.rmtree(Path(workspace.blobs.url))
    del workspace.__dict__["blobs"]
    pulled = steward.data.pull("d:1", remote, options)
    assert pulled.blobs_sent == pushed.blobs_sent
    out = steward.data.get("d").checkout(tmp_path / "out")
    assert (out / "big.bin").read_bytes() == (tmp_path / "src" / "big.bin").read_bytes()


def test_push_pull_local_folder(any_workspace: Any, tmp_path: Path) -> None:
    _roundtrip(any_workspace, tmp_path, str(tmp_path / "remote"), None)


def test_push_pull_s3(workspace: Any, tmp_path: Path, s3_blob_url: str, s3_options: Any) -> None:
    _roundtrip(workspace, tmp_path, s3_blob_url, s3_options)


def test_pull_restores_a_blob_found_damaged(workspace: Any, tmp_path: Path) -> None:
    version = steward.data.add("d", _source(tmp_path / "src"))
    remote = str(tmp_path / "remote")
    steward.data.push(version, remote)
    digest = version.manifest().by_path()["t.csv"].digest
    stored = workspace.blobs.path_of(digest)
    stored.chmod(0o644)
    stored.write_bytes(b"bit rot")
    with pytest.raises(IntegrityError, match=digest):
        version.checkout(tmp_path / "refused")
    assert steward.data.pull("d:1", remote).blobs_sent == 1
    out = version.checkout(tmp_path / "out")
    assert (out / "t.csv").read_bytes() == (tmp_path / "src" / "t.csv").read_bytes()


def test_interrupted_push_resumes(
    workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steward.blobs.local import LocalBlobBatch

    version = steward.data.add("d", _source(tmp_path / "src"))
    remote_url = str(tmp_path / "remote")
    sent: list[int] = []
    original = LocalBlobBatch.put_copy

    def flaky(self: LocalBlobBatch, source: Any, digest: str) -> Any:
        if self.store.url == remote_url and len(sent) >= 3:
            raise ConnectionError("network dropped")
        if self.store.url == remote_url:
            sent.append(1)
        return original(self, source, digest)

    monkeypatch.setattr(LocalBlobBatch, "put_copy", flaky)
    with pytest.raises(ConnectionError):
        steward.data.push(version, remote_url)
    monkeypatch.undo()
    remote = open_blob_store(remote_url)
    assert not remote.exists(version.digest)  # the manifest goes last
    resumed = steward.data.push(version, remote_url)
    assert resumed.blobs_present >= 3
    assert remote.missing(version.manifest().blob_digests()) == []
    assert remote.exists(version.digest)


def test_pull_refuses_a_corrupted_remote_blob_naming_it(workspace: Any, tmp_path: Path) -> None:
    version = steward.data.add("d", _source(tmp_path / "src"))
    remote_url = str(tmp_path / "remote")
    steward.data.push(version, remote_url)
    chunk = version.manifest().by_path()["big.bin"].blob_digests[0]
    stored = open_blob_store(remote_url).path_of(chunk)  # type: ignore[attr-defined]
    stored.chmod(0o644)
    stored.write_bytes(b"tampered")
    shutil.rmtree(Path(workspace.blobs.url))
    del workspace.__dict__["blobs"]
    with pytest.raises(IntegrityError, match=chunk):
        steward.data.pull(version, remote_url)
    assert not workspace.blobs.exists(chunk)
