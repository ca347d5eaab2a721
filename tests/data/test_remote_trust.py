"""A remote is not trusted: pull checks every path and record before it stores anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import steward
from steward.blobs import BlobStore, open_blob_store
from steward.errors import IntegrityError, NotFound
from tests.data.conftest import write_csv

GOOD_RECORD = {
    "format": 1,
    "name": "evil",
    "version": 1,
    "kind": "files",
    "profile_digest": None,
    "row_count": None,
    "column_count": None,
    "created_by": "mallory",
    "created_at": "2026-01-01T00:00:00+00:00",
    "description": None,
    "tags": {},
}

HOSTILE_PATHS = [
    (["../escaped.txt"], "'..'"),
    (["a/../../escaped.txt"], "'..'"),
    (["/tmp/escaped.txt"], "absolute"),
    (["C:/escaped.txt"], "absolute"),
    (["a\\..\\escaped.txt"], "backslash"),
    (["a\x00b"], "NUL"),
    (["."], "'.' segment"),
    ([""], "non-empty string"),
    (["a//b"], "empty or '.' segment"),
    (["a/./b"], "empty or '.' segment"),
    (["same.txt", "same.txt"], "listed twice"),
    (["a", "a/b.txt"], "both a file and a folder"),
]


def _plant(remote: BlobStore, paths: list[str], **record: Any) -> str:
    """A version ``evil:1`` on ``remote`` whose manifest lists ``paths``; the data blob."""
    data = remote.put_bytes(b"evil").digest
    files = [{"path": path, "size": 4, "digest": data} for path in paths]
    manifest = json.dumps({"format": 1, "kind": "files", "files": files}).encode()
    fields = {
        **GOOD_RECORD,
        "digest": remote.put_bytes(manifest).digest,
        "size": 4 * len(paths),
        "file_count": len(paths),
        **record,
    }
    remote.put_ref("datasets/evil/1.json", json.dumps(fields).encode())
    return data


@pytest.fixture(params=["folder", "s3"])
def remote(request: pytest.FixtureRequest, workspace: Any, tmp_path: Path) -> tuple[str, Any]:
    """A remote URL and its storage options: a folder, then a moto S3 bucket."""
    if request.param == "folder":
        return str(tmp_path / "remote"), None
    return request.getfixturevalue("s3_blob_url"), request.getfixturevalue("s3_options")


def _nothing_stored(workspace: Any, data: str, tmp_path: Path) -> None:
    assert steward.data.list_datasets() == []
    assert not workspace.blobs.exists(data)
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/escaped.txt").exists()


def test_pull_refuses_every_hostile_manifest_path_before_storing_anything(
    workspace: Any, tmp_path: Path, remote: tuple[str, Any]
) -> None:
    url, options = remote
    store = open_blob_store(url, storage_options=options)
    for paths, reason in HOSTILE_PATHS:
        data = _plant(store, paths)
        with pytest.raises(IntegrityError, match="not a readable manifest") as caught:
            steward.data.pull("evil:1", url, options)
        assert reason in str(caught.value), (paths, caught.value)
        _nothing_stored(workspace, data, tmp_path)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"size": 5}, "its record says"),
        ({"file_count": 2}, "its record says"),
        ({"kind": "table"}, "its record says"),
        ({"name": "../evil"}, "'..' segments"),
        ({"version": "1"}, "version must be a whole number"),
        ({"size": -4}, "size must be a whole number"),
        ({"created_at": "2026-01-01T00:00:00"}, "no time zone"),
        ({"tags": {"bad\nkey": "v"}}, "tag name"),
        ({"tags": {"k": 3}}, "k must be a string"),
        ({"description": "a\x00b"}, "without NUL"),
        ({"digest": "blake3:" + "0" * 64 + "\n"}, "not a blob digest"),
    ],
)
def test_pull_refuses_a_record_that_is_malformed_or_disagrees_with_its_data(
    workspace: Any, tmp_path: Path, record: dict[str, Any], reason: str
) -> None:
    url = str(tmp_path / "remote")
    data = _plant(open_blob_store(url), ["fine.txt"], **record)
    with pytest.raises((IntegrityError, NotFound), match=reason):
        steward.data.pull("evil:1", url)
    _nothing_stored(workspace, data, tmp_path)


def test_pull_refuses_a_profile_that_disagrees_with_the_record(
    workspace: Any, tmp_path: Path
) -> None:
    version = steward.data.add("d", write_csv(tmp_path / "t.csv", 20))
    url = str(tmp_path / "remote")
    steward.data.push(version, url)
    store = open_blob_store(url)
    record = json.loads(store.get_ref("datasets/d/1.json"))
    other = steward.data.add("other", write_csv(tmp_path / "u.csv", 30)).profile_digest
    assert other is not None
    store.put_ref("datasets/d/1.json", json.dumps({**record, "row_count": 21}).encode())
    from steward.workspace import open_workspace, workspace_scope

    site = open_workspace(home=tmp_path / "site", actor="site")
    try:
        with workspace_scope(site):
            with pytest.raises(IntegrityError, match="counts 20 rows"):
                steward.data.pull("d:1", url)
            store.put_ref(
                "datasets/d/1.json", json.dumps({**record, "profile_digest": other}).encode()
            )
            store.put_copy(workspace.blobs, other)
            with pytest.raises(IntegrityError, match="not the tabular files of the manifest"):
                steward.data.pull("d:1", url)
            assert steward.data.list_datasets() == []
            store.put_ref("datasets/d/1.json", json.dumps(record).encode())
            assert steward.data.pull("d:1", url).registered
    finally:
        site.close()


def test_pull_from_a_remote_that_does_not_exist_is_an_error_and_creates_nothing(
    workspace: Any, tmp_path: Path, s3_options: Any, s3_blob_url: str
) -> None:
    missing = tmp_path / "no-such-remote"
    with pytest.raises(NotFound, match="no such folder"):
        steward.data.pull("d", str(missing))
    assert not missing.exists()
    with pytest.raises(NotFound, match="nothing is stored there"):
        steward.data.pull("d", s3_blob_url + "-empty", s3_options)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NotFound, match="has no dataset 'd'"):
        steward.data.pull("d", str(empty))
    assert list(empty.iterdir()) == []  # a pull writes nothing into the remote
