from __future__ import annotations

import builtins
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import steward
from steward.errors import Conflict, IntegrityError, InvalidInput, NotFound
from tests.data.conftest import corrupt_blob, stored_bytes, write_csv


def _folder(root: Path) -> Path:
    write_csv(root / "tables" / "train.csv", 200)
    (root / "notes.txt").write_text("hello")
    (root / "blob.bin").write_bytes(np.random.default_rng(0).bytes(300_000))  # chunked
    return root


def _version_count(name: str) -> int:
    try:
        return len(steward.data.log(name))
    except NotFound:
        return 0


def test_add_folder_get_and_checkout(any_workspace: Any, tmp_path: Path) -> None:
    source = _folder(tmp_path / "src")
    version = steward.data.add("patients", source, description="first", tags={"site": "a"})
    assert (version.name, version.version) == ("patients", 1)
    assert version.file_count == 3
    assert version.size == sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    assert (version.rows, version.columns) == (200, 3)
    assert version.created_by == "tester" and version.tags == {"site": "a"}
    assert version.files == ["blob.bin", "notes.txt", "tables/train.csv"]
    assert steward.data.add("patients", source).version == 1  # identical content

    target = version.checkout(tmp_path / "out")
    for relpath in version.files:
        assert (target / relpath).read_bytes() == (source / relpath).read_bytes()
    assert version.open("notes.txt").read() == b"hello"
    assert version.open("blob.bin").read() == (source / "blob.bin").read_bytes()
    frame = version.to_pandas()
    assert list(frame.columns) == ["id", "value", "group"] and len(frame) == 200


def test_add_reports_the_bytes_to_hash_before_hashing(workspace: Any, tmp_path: Path) -> None:
    source = _folder(tmp_path / "src")
    calls: list[tuple[str, int]] = []
    steward.data.add(
        "d",
        source,
        progress=lambda size: calls.append(("progress", size)),
        total=lambda size: calls.append(("total", size)),
    )
    size = sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    assert calls[0] == ("total", size)
    assert sum(n for kind, n in calls if kind == "progress") == size


def test_get_by_number_latest_and_alias(any_workspace: Any, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", 10)
    steward.data.add("d", path)
    write_csv(path, 12)
    steward.data.add("d", path)
    assert steward.data.get("d").version == 2
    assert steward.data.get("d", "latest").version == 2
    assert steward.data.get("d", 1).rows == 10
    steward.data.set_alias("d", "training", 1)
    assert steward.data.get("d", "training").version == 1
    assert steward.data.get("d:training").version == steward.data.get("d@training").version == 1
    write_csv(path, 10)
    with pytest.warns(UserWarning, match="latest version is still 2"):
        assert steward.data.add("d", path).version == 1
    write_csv(path, 14)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # new content: no warning
        assert steward.data.add("d", path).version == 3
    assert steward.data.get("d:training").version == 1
    with pytest.raises(NotFound, match="no version 7"):
        steward.data.get("d", 7)
    with pytest.raises(NotFound, match="no dataset named"):
        steward.data.get("nope")


def test_tables_from_pandas_polars_and_arrow(any_workspace: Any) -> None:
    frame = pd.DataFrame({"x": [1.5, 2.5, None], "y": ["a", "b", "a"]})
    version = steward.data.add("frame", frame)
    assert (version.rows, version.columns) == (3, 2)
    pd.testing.assert_frame_equal(version.to_pandas(), frame)
    assert steward.data.add("frame", frame.copy()).version == 1
    assert steward.data.add("frame", pa.Table.from_pandas(frame, preserve_index=False)).version == 1
    profile = version.profile()
    assert profile is not None and profile.column("x").nulls == 1
    polars = pytest.importorskip("polars")
    version = steward.data.add("polars", polars.DataFrame({"z": [1, 2, 3]}))
    assert version.to_arrow().column("z").to_pylist() == [1, 2, 3]


def test_a_dataframe_index_is_stored_only_when_named(any_workspace: Any) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "b", "c"]})
    shuffled = frame.sample(frac=1.0, random_state=0)  # unnamed index 2, 0, 1
    version = steward.data.add("split", shuffled)
    assert version.columns == 2
    assert list(version.to_pandas().columns) == ["x", "y"]
    assert steward.data.add("split", shuffled.reset_index(drop=True)).version == 1

    keyed = frame.set_index(pd.Index([10, 11, 12], name="patient_id"))
    stored = steward.data.add("keyed", keyed)
    assert stored.columns == 3
    pd.testing.assert_frame_equal(stored.to_pandas(), keyed)


def test_a_csv_with_newlines_in_quoted_values_is_profiled_and_read(
    workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steward.data import profile

    monkeypatch.setattr(profile, "CSV_BLOCK_SIZE", 4096)  # values span blocks
    path = tmp_path / "notes.csv"
    path.write_text(
        "id,note\n" + "".join(f'{i},"seen at {i}:00\nsent home"\n' for i in range(40_000))
    )
    version = steward.data.add("notes", path)
    assert (version.rows, version.columns) == (40_000, 2)
    frame = version.to_pandas()
    assert frame["note"].iloc[7] == "seen at 7:00\nsent home"


def test_glob_source(blob_workspace: Any, tmp_path: Path) -> None:
    write_csv(tmp_path / "g" / "a.csv", 3)
    write_csv(tmp_path / "g" / "sub" / "b.csv", 4)
    (tmp_path / "g" / "c.txt").write_text("x")
    version = steward.data.add("globbed", str(tmp_path / "g" / "**" / "*.csv"))
    assert version.files == ["a.csv", "sub/b.csv"]
    assert version.rows == 7
    assert len(version.to_pandas()) == 7


def test_a_glob_refuses_a_folder_it_reaches_into_but_cannot_read(
    workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "exports"
    write_csv(root / "a.csv", 3)
    write_csv(root / "private" / "b.csv", 3)
    real_access = os.access

    def locked(path: Any, mode: int) -> bool:  # root may read anything: simulate a locked folder
        return os.fspath(path) != str(root / "private") and real_access(path, mode)

    monkeypatch.setattr(os, "access", locked)
    with pytest.raises(InvalidInput, match=r"cannot read folder .*private: permission denied"):
        steward.data.add("g", str(root / "**" / "*.csv"))
    with pytest.raises(InvalidInput, match="private"):
        steward.data.add("g", str(root / "*" / "b.csv"))
    assert steward.data.add("g", str(root / "*.csv")).files == ["a.csv"]  # does not reach in


def test_a_glob_may_start_at_home(
    workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write_csv(tmp_path / "exports" / "a.csv", 3)
    assert steward.data.add("home", "~/exports/*.csv").files == ["a.csv"]


def test_large_file_change_stores_only_new_chunks(blob_workspace: Any, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = np.random.default_rng(3).bytes(2_000_000)
    path.write_bytes(data)
    first = steward.data.add("big", path)
    before = stored_bytes(blob_workspace)
    assert before > len(data)
    path.write_bytes(data + np.random.default_rng(4).bytes(20_000))  # append 1%
    second = steward.data.add("big", path)
    after = stored_bytes(blob_workspace)
    assert second.version == 2
    assert after - before < 0.1 * len(data)
    shared = set(first.manifest().blob_digests()) & set(second.manifest().blob_digests())
    assert len(shared) >= len(first.manifest().blob_digests()) - 2


def test_readd_uses_the_change_index(
    blob_workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steward.data.chunking import ChunkWriter

    source = tmp_path / "many"
    for i in range(20):
        (source / f"{i}.txt").parent.mkdir(exist_ok=True)
        (source / f"{i}.txt").write_text(f"file {i}")
    steward.data.add("many", source)
    hashed: list[str] = []
    original = ChunkWriter.store_file

    def counting(self: ChunkWriter, relpath: str, *args: Any) -> Any:
        hashed.append(relpath)
        return original(self, relpath, *args)

    monkeypatch.setattr(ChunkWriter, "store_file", counting)
    assert steward.data.add("many", source).version == 1
    assert hashed == []
    (source / "3.txt").write_text("changed")
    assert steward.data.add("many", source).version == 2
    assert hashed == ["3.txt"]


def test_readd_of_an_unchanged_source_skips_the_change_index(
    blob_workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steward.data import versions

    source = tmp_path / "many"
    source.mkdir()
    for i in range(5):
        (source / f"{i}.txt").write_text(f"file {i}")
    first = steward.data.add("many", source)
    opened: list[int] = []
    original = versions.ChangeIndex.__init__

    def counting(self: Any, *args: Any) -> None:
        opened.append(1)
        original(self, *args)

    monkeypatch.setattr(versions.ChangeIndex, "__init__", counting)
    assert steward.data.add("many", source).id == first.id
    assert opened == []  # known from the listing alone
    assert steward.data.add("other", source).name == "other"  # another dataset: stored afresh
    assert len(opened) == 1

    os.utime(source / "2.txt", ns=(1, 1))  # touched, same bytes: looked at, same version
    assert steward.data.add("many", source).id == first.id
    assert len(opened) == 2
    assert steward.data.add("many", source).id == first.id
    assert len(opened) == 2  # remembered again

    (source / "4.txt").rename(source / "5.txt")  # same bytes under another name
    renamed = steward.data.add("many", source)
    assert renamed.version == 2 and "5.txt" in renamed.files
    (source / "1.txt").write_text("file 1")  # rewritten with the same bytes
    assert steward.data.add("many", source).id == renamed.id


def test_bad_inputs_leave_the_store_unchanged(
    any_workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(NotFound, match="no such file or folder"):
        steward.data.add("x", tmp_path / "missing")
    with pytest.raises(NotFound, match="matches no files"):
        steward.data.add("x", str(tmp_path / "*.nothing"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.csv").write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(InvalidInput, match=r"broken\.csv line 3"):
        steward.data.add("x", bad)
    assert _version_count("x") == 0

    locked = write_csv(tmp_path / "locked.csv", 3)
    real_open = os.open

    def refuse(path: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    real_builtin_open = builtins.open

    def refuse_builtin(path: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fspath(path) == str(locked) if isinstance(path, str | os.PathLike) else False:
            raise PermissionError(13, "Permission denied")
        return real_builtin_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    monkeypatch.setattr(builtins, "open", refuse_builtin)  # the HTTP blob store reads so
    with pytest.raises(InvalidInput, match=r"locked\.csv"):
        steward.data.add("x", locked)
    monkeypatch.undo()
    assert _version_count("x") == 0

    hidden = tmp_path / "with-hidden" / "private"
    hidden.mkdir(parents=True)
    (hidden / "a.txt").write_text("a")
    (hidden.parent / "b.txt").write_text("b")
    real_scandir = os.scandir

    def unlistable(path: Any) -> Any:
        if os.fspath(path) == str(hidden):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", unlistable)  # root may list any folder: simulate it
    with pytest.raises(InvalidInput, match=r"cannot read folder .*private: permission denied"):
        steward.data.add("x", hidden.parent)
    monkeypatch.undo()
    assert _version_count("x") == 0

    steward.data.add("table", pd.DataFrame({"a": [1]}))
    with pytest.raises(Conflict, match="holds table, not files"):
        steward.data.add("table", locked)
    assert _version_count("table") == 1


def test_add_failing_to_store_its_blobs_leaves_nothing_that_vouches_for_them(
    workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import steward.blobs.local as local_blobs

    source = _folder(tmp_path / "src")

    def disk_full(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(local_blobs, "make_durable", disk_full)
    with pytest.raises(OSError, match="No space left"):
        steward.data.add("d", source)
    monkeypatch.undo()
    assert _version_count("d") == 0
    version = steward.data.add("d", source)  # the blobs are stored this time, not skipped
    target = version.checkout(tmp_path / "out")
    for relpath in version.files:
        assert (target / relpath).read_bytes() == (source / relpath).read_bytes()


def test_interrupted_add_leaves_no_version(
    blob_workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steward.data.chunking import ChunkWriter

    source = _folder(tmp_path / "src")

    def interrupted(self: ChunkWriter, data: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(ChunkWriter, "_put_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        steward.data.add("half", source)
    monkeypatch.undo()
    assert _version_count("half") == 0
    assert steward.data.add("half", source).version == 1


def test_checkout_refuses_non_empty_target_unless_forced(
    blob_workspace: Any, tmp_path: Path
) -> None:
    version = steward.data.add("d", write_csv(tmp_path / "a.csv", 3))
    target = tmp_path / "out"
    target.mkdir()
    (target / "other").write_text("keep")
    with pytest.raises(Conflict, match="not empty"):
        version.checkout(target)
    assert sorted(os.listdir(target)) == ["other"]
    version.checkout(target, force=True)
    assert (target / "a.csv").read_text().startswith("id,value,group")

    nested = steward.data.add("nested", _folder(tmp_path / "src"))
    clash = tmp_path / "clash"
    clash.mkdir()
    (clash / "tables").write_text("a file where the version has a folder")
    nested.checkout(clash, force=True)
    assert (clash / "tables" / "train.csv").read_text().startswith("id,value,group")


def test_corrupted_blob_is_refused_and_named(blob_workspace: Any, tmp_path: Path) -> None:
    source = _folder(tmp_path / "src")
    version = steward.data.add("d", source)
    entry = version.manifest().by_path()["notes.txt"]
    corrupt_blob(blob_workspace, entry.digest)
    with pytest.raises(IntegrityError, match=entry.digest):
        version.checkout(tmp_path / "out")
    chunk = version.manifest().by_path()["blob.bin"].blob_digests[1]
    corrupt_blob(blob_workspace, chunk)
    with pytest.raises(IntegrityError, match=chunk):
        version.open("blob.bin").read()


def test_adding_the_data_again_restores_a_blob_set_aside_as_damaged(
    workspace: Any, tmp_path: Path
) -> None:
    source = _folder(tmp_path / "src")
    version = steward.data.add("d", source)
    digest = version.manifest().by_path()["notes.txt"].digest
    corrupt_blob(workspace, digest)
    with pytest.raises(IntegrityError, match="moved to"):
        version.checkout(tmp_path / "refused")
    assert not workspace.blobs.exists(digest)
    assert steward.data.add("d", source).id == version.id  # unchanged: the same version...
    assert workspace.blobs.exists(digest)  # ...with its blob stored again
    (source / "blob.bin").write_bytes(b"changed")
    second = steward.data.add("d", source)
    out = second.checkout(tmp_path / "out")
    assert (out / "notes.txt").read_text() == "hello"


def test_s3_blob_store(s3_workspace: Any, tmp_path: Path) -> None:
    source = _folder(tmp_path / "src")
    version = steward.data.add("remote", source)
    assert steward.data.add("remote", source).version == 1
    target = version.checkout(tmp_path / "out")
    assert (target / "blob.bin").read_bytes() == (source / "blob.bin").read_bytes()
    frame = pd.DataFrame({"a": range(5)})
    pd.testing.assert_frame_equal(steward.data.add("t", frame).to_pandas(), frame)


def test_hardlink_checkout_shares_blobs_read_only(workspace: Any, tmp_path: Path) -> None:
    source = _folder(tmp_path / "src")
    version = steward.data.add("d", source)
    target = version.checkout(tmp_path / "out", link="hardlink")
    for relpath in version.files:
        assert (target / relpath).read_bytes() == (source / relpath).read_bytes()
    notes = version.manifest().by_path()["notes.txt"]
    blob = workspace.blobs.path_of(notes.digest)
    assert (target / "notes.txt").stat().st_ino == blob.stat().st_ino
    assert (target / "notes.txt").stat().st_mode & 0o222 == 0  # read-only
    assert (target / "blob.bin").stat().st_nlink == 1  # chunked: assembled, a copy
    # replacing a checked-out file (as editors do) leaves the store intact
    (target / "notes.txt").unlink()
    (target / "notes.txt").write_text("edited")
    assert blob.read_bytes() == b"hello"
    copied = version.checkout(tmp_path / "copied")
    assert (copied / "notes.txt").stat().st_nlink == 1
    assert (copied / "notes.txt").stat().st_mode & 0o200  # a plain, writable copy
    with pytest.raises(InvalidInput, match="symlink"):
        version.checkout(tmp_path / "other", link="symlink")


def test_hardlink_checkout_refuses_a_corrupted_blob(workspace: Any, tmp_path: Path) -> None:
    version = steward.data.add("d", _folder(tmp_path / "src"))
    digest = version.manifest().by_path()["notes.txt"].digest
    stored = workspace.blobs.path_of(digest)
    stored.chmod(0o644)
    stored.write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match=digest):
        version.checkout(tmp_path / "out", link="hardlink")
    assert not (tmp_path / "out" / "notes.txt").exists()


def test_a_rewritten_large_file_is_checked_against_its_chunks(
    workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steward.data import chunking

    path = tmp_path / "big.bin"
    data = np.random.default_rng(5).bytes(1_000_000)
    path.write_bytes(data)
    first = steward.data.add("big", path)
    cut: list[str] = []
    original = chunking._chunker

    def counting() -> Any:
        cut.append("cut")
        return original()

    monkeypatch.setattr(chunking, "_chunker", counting)
    path.unlink()
    path.write_bytes(data)  # same bytes, new inode and time
    assert steward.data.add("big", path).version == 1
    assert cut == []
    changed = bytearray(data)
    changed[500_000:500_010] = b"0123456789"
    path.write_bytes(bytes(changed))  # same size, new content
    second = steward.data.add("big", path)
    assert cut == ["cut"]
    assert second.version == 2 and second.open("big.bin").read() == bytes(changed)
    assert first.open("big.bin").read() == data
