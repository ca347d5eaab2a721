from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import steward
from steward.blobs import open_blob_store
from steward.errors import Conflict, IntegrityError, NotFound, TransferFailed
from steward.workspace import workspace_scope
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
    # lose the workspace's blobs (a running server's: its stored blobs, not its folder;
    # see workspace_three_ways), then pull them back
    if workspace.settings.remote:
        shutil.rmtree(tmp_path / "server" / "blobs" / workspace.blobs.algorithm)
    else:
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
    with pytest.raises(TransferFailed, match=r"network dropped.*run the command again"):
        steward.data.push(version, remote_url)
    monkeypatch.undo()
    remote = open_blob_store(remote_url)
    assert not remote.exists(version.digest)  # the manifest goes last
    resumed = steward.data.push(version, remote_url)
    assert resumed.blobs_present >= 3
    assert remote.missing(version.manifest().blob_digests()) == []
    assert remote.exists(version.digest)


def test_an_unreachable_or_missing_remote_is_a_clear_error(
    workspace: Any, tmp_path: Path, s3_options: Any
) -> None:
    version = steward.data.add("d", _source(tmp_path / "src"))
    with pytest.raises(TransferFailed, match="s3://no-such-bucket"):
        steward.data.push(version, "s3://no-such-bucket/steward", s3_options)
    closed = {**s3_options, "endpoint_url": "http://127.0.0.1:9"}  # nothing listens there
    options = {**closed, "config_kwargs": {"retries": {"max_attempts": 1}}}
    with pytest.raises(TransferFailed, match="address, credentials and network"):
        steward.data.pull("d:1", "s3://bucket/steward", options)
    assert steward.data.get("d").version == 1


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


# -- a remote that describes itself: pull into a workspace that never saw the data ---


@pytest.fixture
def site_b(tmp_path: Path) -> Iterator[Any]:
    """A second workspace: its own home, SQLite metadata store and blob store."""
    from steward.workspace import open_workspace

    other = open_workspace(home=tmp_path / "site-b", actor="site-b-user")
    yield other
    other.close()


def _two_versions(root: Path) -> tuple[steward.data.DatasetVersion, steward.data.DatasetVersion]:
    first = steward.data.add("d", _source(root), "intake", {"site": "a", "round": 1})
    write_csv(root / "t.csv", 60)
    second = steward.data.add("d", root, "intake, more rows", {"site": "a", "round": 2})
    return first, second


Pushed = tuple[steward.data.DatasetVersion, str]


@pytest.fixture
def pushed(workspace: Any, tmp_path: Path) -> Pushed:
    """d:1 of two versions made in ``workspace``, pushed to a folder remote; that remote."""
    first, _ = _two_versions(tmp_path / "src")
    remote_url = str(tmp_path / "remote")
    steward.data.push(first, remote_url)
    return first, remote_url


def _remote_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, Any]:
    if kind == "folder":
        return str(tmp_path / "remote"), None
    return request.getfixturevalue("s3_blob_url"), request.getfixturevalue("s3_options")


@pytest.mark.parametrize("remote_kind", ["folder", "s3"])
def test_pull_registers_versions_in_a_workspace_that_never_saw_them(
    workspace: Any, site_b: Any, tmp_path: Path, request: pytest.FixtureRequest, remote_kind: str
) -> None:
    remote, options = _remote_url(remote_kind, tmp_path, request)
    first, second = _two_versions(tmp_path / "src")
    steward.data.push(first, remote, options)
    steward.data.push(second, remote, options)
    with workspace_scope(site_b):
        with pytest.raises(NotFound, match="no dataset named 'd'"):
            steward.data.get("d")
        latest = steward.data.pull("d", remote, options)  # no local "d": the remote's latest
        older = steward.data.pull(first, remote, options)  # a DatasetVersion: its name and number
        assert (latest.version, latest.registered) == ("d:2", True)
        assert (older.version, older.registered) == ("d:1", True)
        assert older.blobs_present > 0  # the chunks both versions share came with d:2
        assert [v.version for v in steward.data.log("d")] == [2, 1]
        for theirs in (first, second):
            ours = steward.data.get("d", theirs.version)
            assert ours.id != theirs.id  # ids are local; everything else is the same
            assert replace(ours, id=theirs.id) == theirs
            assert ours.created_by == "tester" and ours.tags["site"] == "a"
            assert_frame_equal(ours.to_pandas(), theirs.to_pandas())
            assert ours.profile() == theirs.profile()
        out = steward.data.get("d:2").checkout(tmp_path / "out")
        assert (out / "big.bin").read_bytes() == (tmp_path / "src" / "big.bin").read_bytes()
        assert steward.data.list_datasets()[0].kind == "files"
        again = steward.data.pull("d:2", remote, options)
        assert (again.blobs_sent, again.bytes_sent, again.registered) == (0, 0, False)
        # a local version after pulled ones takes the next number
        assert steward.data.add("d", tmp_path / "src" / "t.csv").version == 3


def test_pulling_a_name_brings_the_remotes_newest_version(
    workspace: Any, site_b: Any, tmp_path: Path
) -> None:
    remote = str(tmp_path / "remote")
    source = _source(tmp_path / "src")
    steward.data.push(steward.data.add("d", source), remote)
    with workspace_scope(site_b):
        assert steward.data.pull("d", remote).version == "d:1"
    write_csv(source / "t.csv", 80)
    steward.data.push(steward.data.add("d", source), remote)  # the head office's d:2
    with workspace_scope(site_b):
        daily = steward.data.pull("d", remote)  # the field site's daily sync
        assert (daily.version, daily.registered) == ("d:2", True)
        assert steward.data.get("d").rows == 80
        assert steward.data.pull("d:latest", remote).registered is False


def test_push_writes_a_record_after_the_data_the_same_each_time(pushed: Pushed) -> None:
    first, remote_url = pushed
    remote = open_blob_store(remote_url)
    written = remote.get_ref("datasets/d/1.json")
    record = json.loads(written)
    assert record["format"] == 1
    assert (record["name"], record["version"], record["kind"]) == ("d", 1, "files")
    assert (record["digest"], record["row_count"], record["column_count"]) == (
        first.digest,
        50,
        3,
    )
    assert record["tags"] == {"site": "a", "round": "1"} and record["description"] == "intake"
    assert datetime.fromisoformat(record["created_at"]) == first.created_at
    steward.data.push("d:1", remote_url)
    assert remote.get_ref("datasets/d/1.json") == written
    assert remote.list_refs("datasets/") == ["datasets/d/1.json"]


def test_pull_refuses_a_different_version_under_the_same_number(
    pushed: Pushed, site_b: Any, tmp_path: Path
) -> None:
    first, remote_url = pushed
    with workspace_scope(site_b):
        own = steward.data.add("d", write_csv(tmp_path / "b" / "t.csv", 5))
        for ref in ("d", "d:1", first):
            with pytest.raises(Conflict) as caught:
                steward.data.pull(ref, remote_url)
            message = str(caught.value)
            assert own.digest in message and first.digest in message
            assert remote_url in message and "STEWARD_HOME" in message
        assert steward.data.log("d") == [own]
        assert not site_b.blobs.exists(first.digest)
        # pushing its own d:1 to that remote would overwrite the record: refused too
        with pytest.raises(Conflict, match="holds another d:1"):
            steward.data.push(own, remote_url)
    record = json.loads(open_blob_store(remote_url).get_ref("datasets/d/1.json"))
    assert record["digest"] == first.digest


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_of_two_simultaneous_pushes_of_different_data_as_one_version_one_wins(
    workspace: Any,
    site_b: Any,
    tmp_path: Path,
    kind: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from steward.data import remote as remote_module

    remote_url, options = _remote_url(kind, tmp_path, request)
    ours = steward.data.add("d", write_csv(tmp_path / "a" / "t.csv", 5))
    with workspace_scope(site_b):
        theirs = steward.data.add("d", write_csv(tmp_path / "b" / "t.csv", 7))
    transfer = remote_module._transfer

    def other_site_pushes_meanwhile(*args: Any) -> Any:
        result = transfer(*args)
        monkeypatch.setattr(remote_module, "_transfer", transfer)
        with workspace_scope(site_b):
            steward.data.push(theirs, remote_url, options)  # passed our check, wrote first
        return result

    monkeypatch.setattr(remote_module, "_transfer", other_site_pushes_meanwhile)
    with pytest.raises(Conflict, match=f"holds another d:1 \\(digest {theirs.digest}"):
        steward.data.push(ours, remote_url, options)
    record = json.loads(
        open_blob_store(remote_url, storage_options=options).get_ref("datasets/d/1.json")
    )
    assert record["digest"] == theirs.digest


def test_pull_refuses_a_dataset_of_another_kind(pushed: Pushed, site_b: Any) -> None:
    _, remote_url = pushed
    with workspace_scope(site_b):
        steward.data.add("d", pd.DataFrame({"x": [1, 2]}))
        with pytest.raises(Conflict, match="holds table, not files"):
            steward.data.pull("d:1", remote_url)
        assert [v.version for v in steward.data.log("d")] == [1]


def test_pull_of_what_the_remote_lacks_is_not_found_naming_the_remote(
    pushed: Pushed, site_b: Any
) -> None:
    _, remote_url = pushed
    with workspace_scope(site_b):
        with pytest.raises(
            NotFound, match=r"has no version 7 of dataset 'd' \(it holds versions 1\)"
        ):
            steward.data.pull("d:7", remote_url)
        with pytest.raises(
            NotFound, match=re.escape(f"remote {remote_url} has no dataset 'other'")
        ):
            steward.data.pull("other", remote_url)
        with pytest.raises(NotFound, match="remotes keep no aliases"):
            steward.data.pull("d:training", remote_url)
        assert steward.data.list_datasets() == []


def test_pull_refuses_a_record_with_impossible_fields(pushed: Pushed, site_b: Any) -> None:
    import json

    _, remote_url = pushed
    remote = open_blob_store(remote_url)
    good = json.loads(remote.get_ref("datasets/d/1.json"))
    for field, value, reason in [
        ("created_by", "x" * 300, "author must be"),
        ("version", 0, "not positive"),
    ]:
        key = "datasets/d/0.json" if field == "version" else "datasets/d/1.json"
        remote.put_ref(key, json.dumps({**good, field: value}).encode())
        ref = "d:0" if field == "version" else "d:1"
        with workspace_scope(site_b), pytest.raises(IntegrityError, match=reason):
            steward.data.pull(ref, remote_url)
        remote.put_ref("datasets/d/1.json", json.dumps(good).encode())
    with workspace_scope(site_b):
        assert steward.data.list_datasets() == []


def test_pull_refuses_a_damaged_record_naming_it(pushed: Pushed, site_b: Any) -> None:
    _, remote_url = pushed
    open_blob_store(remote_url).put_ref("datasets/d/1.json", b'{"format": 1, "name": "d"}')
    with workspace_scope(site_b), pytest.raises(IntegrityError, match=r"datasets/d/1\.json"):
        steward.data.pull("d:1", remote_url)


def test_transfers_report_their_total_before_they_start(
    workspace: Any, site_b: Any, tmp_path: Path
) -> None:
    first, _ = _two_versions(tmp_path / "src")
    remote_url = str(tmp_path / "remote")
    totals: list[int] = []
    done: list[int] = []
    sent = steward.data.push(first, remote_url, progress=done.append, total=totals.append)
    assert totals == [sent.bytes_sent] == [sum(done)]
    assert sent.bytes_sent > first.size  # the data, its profile and its manifest
    steward.data.push(first, remote_url, total=totals.append)
    assert totals[-1] == 0
    with workspace_scope(site_b):
        pulled = steward.data.pull("d:1", remote_url, total=totals.append)
    assert totals[-1] == pulled.bytes_sent == sent.bytes_sent


def test_pull_of_a_known_version_needs_no_record(workspace: Any, tmp_path: Path) -> None:
    version = steward.data.add("d", _source(tmp_path / "src"))
    remote_url = str(tmp_path / "remote")
    steward.data.push(version, remote_url)
    shutil.rmtree(tmp_path / "remote" / "refs")  # as an older Steward left it
    shutil.rmtree(Path(workspace.blobs.url))
    del workspace.__dict__["blobs"]
    pulled = steward.data.pull("d:1", remote_url)
    assert pulled.blobs_present == 0 and not pulled.registered
    assert_frame_equal(steward.data.get("d:1").to_pandas(), version.to_pandas())
