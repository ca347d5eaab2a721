"""Blob stores, local and S3: content addressing, atomic writes, verified reads."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from steward.blobs import BlobStore, digest_bytes, open_blob_store
from steward.blobs.local import LocalBlobStore
from steward.errors import Conflict, IntegrityError, InvalidInput, MissingDependency, NotFound


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return open_blob_store(str(tmp_path / "blobs"))
    url = request.getfixturevalue("s3_blob_url")
    return open_blob_store(url, storage_options=request.getfixturevalue("s3_options"))


def _corrupt(blobs: BlobStore, digest: str, request: pytest.FixtureRequest) -> None:
    if isinstance(blobs, LocalBlobStore):
        path = blobs.path_of(digest)
        os.chmod(path, 0o644)
        path.write_bytes(b"tampered")
    else:
        blobs.fs.pipe_file(blobs.key_of(digest), b"tampered")  # type: ignore[attr-defined]


def test_bytes_round_trip_and_deduplicate(blobs: BlobStore) -> None:
    first = blobs.put_bytes(b"hello steward")
    second = blobs.put_bytes(b"hello steward")
    assert first == second
    assert first.digest == digest_bytes(b"hello steward")
    assert first.digest.startswith("blake3:")
    assert first.size == 13
    assert blobs.get_bytes(first.digest) == b"hello steward"
    assert blobs.exists(first.digest)
    assert blobs.size(first.digest) == 13


def test_files_round_trip(blobs: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    payload = os.urandom(3 * 1024 * 1024 + 17)
    source.write_bytes(payload)
    ref = blobs.put_file(source)
    assert ref.digest == digest_bytes(payload)
    target = blobs.get_file(ref.digest, tmp_path / "out" / "copy.bin")
    assert target.read_bytes() == payload


def test_missing_lists_only_absent_blobs(blobs: BlobStore) -> None:
    present = [blobs.put_bytes(bytes([i])).digest for i in range(5)]
    absent = [digest_bytes(b"absent-%d" % i) for i in range(3)]
    assert blobs.missing(present + absent) == absent


def test_reading_a_corrupted_blob_is_refused_naming_it(
    blobs: BlobStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ref = blobs.put_bytes(b"original content")
    _corrupt(blobs, ref.digest, request)
    with pytest.raises(IntegrityError, match=ref.digest):
        blobs.get_bytes(ref.digest)
    blobs.put_bytes(b"original content")  # a local store set the damaged blob aside
    _corrupt(blobs, ref.digest, request)
    target = tmp_path / "restored.bin"
    with pytest.raises(IntegrityError, match=ref.digest):
        blobs.get_file(ref.digest, target)
    assert not target.exists()
    assert list(tmp_path.glob(".restored.bin*")) == []


def test_a_damaged_local_blob_is_set_aside_so_that_storing_it_again_restores_it(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    blobs = LocalBlobStore(tmp_path / "store")
    ref = blobs.put_bytes(b"original content")
    _corrupt(blobs, ref.digest, request)
    with pytest.raises(IntegrityError, match=r"moved to .*damaged"):
        blobs.get_bytes(ref.digest)
    assert not blobs.exists(ref.digest)
    [aside] = (tmp_path / "store" / "damaged").iterdir()
    assert aside.read_bytes() == b"tampered"  # kept for inspection
    with pytest.raises(NotFound):
        blobs.get_bytes(ref.digest)
    assert blobs.put_bytes(b"original content") == ref
    assert blobs.get_bytes(ref.digest) == b"original content"


def test_unknown_blob_is_not_found(blobs: BlobStore, tmp_path: Path) -> None:
    digest = digest_bytes(b"never stored")
    with pytest.raises(NotFound, match=digest):
        blobs.get_bytes(digest)
    with pytest.raises(NotFound):
        blobs.get_file(digest, tmp_path / "x")


@pytest.mark.parametrize("digest", ["", "md5:abc", "blake3:XYZ", "blake3:" + "a" * 63, "../../etc"])
def test_malformed_digests_are_refused(blobs: BlobStore, digest: str) -> None:
    with pytest.raises(InvalidInput, match="not a blob digest"):
        blobs.get_bytes(digest)


def test_sha256_stores_record_the_algorithm(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path / "sha"), algorithm="sha256")
    ref = store.put_bytes(b"abc")
    assert ref.digest == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert store.get_bytes(ref.digest) == b"abc"
    with pytest.raises(InvalidInput, match="unknown digest algorithm"):
        open_blob_store(str(tmp_path / "x"), algorithm="md5")


def test_local_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    source = tmp_path / "f.bin"
    source.write_bytes(b"x" * 100_000)
    store.put_file(source)
    store.put_bytes(b"y")
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


def test_local_put_of_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such file"):
        LocalBlobStore(tmp_path / "blobs").put_file(tmp_path / "missing.csv")


def test_unknown_protocol_names_the_missing_package() -> None:
    with pytest.raises((MissingDependency, ValueError)) as caught:
        open_blob_store("nosuchproto://bucket/prefix")
    assert "nosuchproto" in str(caught.value)


def test_s3_store_works_through_workspace_settings(
    s3_blob_url: str, s3_options: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from steward.workspace import open_workspace

    monkeypatch.setenv("STEWARD_BLOB_OPTIONS", json.dumps(s3_options))
    workspace = open_workspace(home=tmp_path / "home", blob_url=s3_blob_url)
    ref = workspace.blobs.put_bytes(b"through the workspace")
    assert workspace.blobs.get_bytes(ref.digest) == b"through the workspace"


def test_a_batch_publishes_its_blobs_only_when_it_ends(blobs: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "f.bin"
    source.write_bytes(b"from a file")
    with blobs.batch() as batch:
        in_memory = batch.put_bytes(memoryview(b"from memory"))
        from_file = batch.put_file(source)
        again = batch.put_bytes(b"from memory")
        if isinstance(blobs, LocalBlobStore):
            assert not blobs.exists(in_memory.digest)  # not visible until the batch ends
    assert again == in_memory
    assert blobs.get_bytes(in_memory.digest) == b"from memory"
    assert blobs.get_bytes(from_file.digest) == b"from a file"


def test_an_interrupted_batch_keeps_what_it_finished(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(RuntimeError), store.batch() as batch:
        ref = batch.put_bytes(b"finished before the interruption")
        raise RuntimeError("interrupted")
    assert store.get_bytes(ref.digest) == b"finished before the interruption"
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


def test_copy_between_stores_is_verified_in_one_pass(
    blobs: BlobStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    source = LocalBlobStore(tmp_path / "source")
    good = source.put_bytes(b"good content")
    bad = source.put_bytes(b"will be corrupted")
    _corrupt(source, bad.digest, request)
    assert blobs.put_copy(source, good.digest) == good
    assert blobs.get_bytes(good.digest) == b"good content"
    with pytest.raises(IntegrityError, match=bad.digest) as caught, blobs.batch() as batch:
        batch.put_copy(source, bad.digest)
    assert source.url in str(caught.value)
    assert not blobs.exists(bad.digest)
    if isinstance(blobs, LocalBlobStore):
        assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


def test_missing_many_digests_by_folder_listing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    present = [store.put_bytes(b"kept %d" % i).digest for i in range(150)]
    absent = [digest_bytes(b"absent %d" % i) for i in range(150)]
    mixed = [d for pair in zip(present, absent, strict=True) for d in pair]
    assert store.missing(mixed) == absent


def test_local_blobs_are_read_only(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    source = tmp_path / "f.bin"
    source.write_bytes(b"z" * 10)
    for ref in (store.put_bytes(b"bytes"), store.put_file(source)):
        assert store.path_of(ref.digest).stat().st_mode & 0o777 == 0o444


@pytest.mark.parametrize("durability", ["syncfs", "others' data dirty", "no syncfs"])
def test_a_large_batch_is_published_whole_however_made_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durability: str
) -> None:
    from steward.blobs import files

    monkeypatch.setattr(files, "FLUSH_AHEAD_BYTES", 1000)  # flush ahead many times
    monkeypatch.setattr(files, "_others_dirty", lambda _size: durability != "syncfs")
    if durability == "no syncfs":
        monkeypatch.setattr(files, "_libc", lambda: None)
    store = LocalBlobStore(tmp_path / "blobs")
    with store.batch() as batch:
        refs = [batch.put_bytes(os.urandom(100 + i)) for i in range(files.SYNCFS_MIN_FILES)]
        big = batch.put_bytes(os.urandom(files.WRITEBACK_MIN_BYTES))
    assert store.missing([ref.digest for ref in [*refs, big]]) == []
    assert store.size(big.digest) == files.WRITEBACK_MIN_BYTES
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


def test_an_early_synced_batch_fsyncs_as_it_writes_and_publishes_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steward.blobs import files

    entered: list[str] = []
    synced: list[str] = []
    disk = threading.Event()
    real_fsync = files._fsync

    def slow_disk_fsync(path: str) -> None:
        entered.append(path)
        disk.wait(10)
        real_fsync(path)
        synced.append(path)

    monkeypatch.setattr(files, "_fsync", slow_disk_fsync)
    store = LocalBlobStore(tmp_path / "blobs")
    block = store.batch(sync_early=True)
    batch = block.__enter__()
    ref = batch.put_bytes(b"an output")
    deadline = time.monotonic() + 5
    while not entered and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(entered) == 1  # started as it was written, before the batch ends
    ending = threading.Thread(target=block.__exit__, args=(None, None, None))
    ending.start()
    ending.join(0.2)
    assert ending.is_alive()  # the end waits for the disk...
    assert not store.exists(ref.digest)  # ...and the blob is not visible before it is durable
    disk.set()
    ending.join(10)
    assert store.get_bytes(ref.digest) == b"an output"
    assert synced == entered  # one fsync, the early one
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_syncs_in_the_background_with_threads_of_its_own(tmp_path: Path) -> None:
    from steward.blobs import files

    (tmp_path / "parent").write_bytes(b"parent")
    files.sync_in_background(str(tmp_path / "parent")).result(10)  # the pool has a thread
    child = os.fork()
    if child == 0:  # the parent's pool thread does not exist here
        code = 1
        try:
            (tmp_path / "child").write_bytes(b"child")
            files.sync_in_background(str(tmp_path / "child")).result(10)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_syncfs_is_chosen_only_while_little_else_is_dirty() -> None:
    from steward.blobs import files

    if not Path("/proc/meminfo").exists():
        assert files._others_dirty(0)
        return
    assert not files._others_dirty(1 << 50)  # our own writes dwarf whatever else is dirty


def test_refs_are_named_documents_replaced_whole(blobs: BlobStore, tmp_path: Path) -> None:
    blobs.put_ref("datasets/d/1.json", b"first")
    blobs.put_ref("datasets/d/1.json", b"second, longer than the first")
    blobs.put_ref("datasets/d/2.json", b"two")
    blobs.put_ref("datasets/d%2Fsub/1.json", b"nested name")
    blobs.put_ref("top.json", b"top")
    assert blobs.get_ref("datasets/d/1.json") == b"second, longer than the first"
    assert blobs.list_refs("datasets/d/") == ["datasets/d/1.json", "datasets/d/2.json"]
    assert blobs.list_refs("datasets/d") == [
        "datasets/d%2Fsub/1.json",
        "datasets/d/1.json",
        "datasets/d/2.json",
    ]
    assert blobs.list_refs() == [*blobs.list_refs("datasets/"), "top.json"]
    assert blobs.list_refs("nothing/here/") == []
    with pytest.raises(NotFound, match=r"no ref 'datasets/d/3.json' in the blob store"):
        blobs.get_ref("datasets/d/3.json")
    # refs are not blobs: they are not counted as stored content
    assert blobs.missing([digest_bytes(b"top")]) == [digest_bytes(b"top")]
    if isinstance(blobs, LocalBlobStore):
        assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


def test_an_exclusive_ref_is_created_once(blobs: BlobStore) -> None:
    blobs.put_ref("datasets/d/1.json", b"first", exclusive=True)
    with pytest.raises(Conflict, match=r"ref 'datasets/d/1.json' already exists"):
        blobs.put_ref("datasets/d/1.json", b"second", exclusive=True)
    assert blobs.get_ref("datasets/d/1.json") == b"first"
    blobs.put_ref("datasets/d/1.json", b"replaced")  # not exclusive: replaces
    assert blobs.get_ref("datasets/d/1.json") == b"replaced"


@pytest.mark.parametrize("key", ["", "../escape.json", "/abs.json", "a//b", "a/./b", "a/..", "a b"])
def test_malformed_ref_keys_are_refused(blobs: BlobStore, key: str) -> None:
    with pytest.raises(InvalidInput, match="ref key"):
        blobs.put_ref(key, b"x")
    with pytest.raises(InvalidInput, match="ref key"):
        blobs.get_ref(key)


def test_listing_refs_refuses_an_escaping_prefix(blobs: BlobStore) -> None:
    with pytest.raises(InvalidInput, match="ref key"):
        blobs.list_refs("../")


# -- collecting: listing, marking reuse, deleting what was not reused ----------------


def _age(blobs: BlobStore, digests: list[str], seconds: float) -> None:
    """Make blobs look last used ``seconds`` ago (local: their time; S3: by waiting)."""
    import time

    if not isinstance(blobs, LocalBlobStore):
        time.sleep(seconds)
        return
    then = time.time() - seconds
    for digest in digests:
        os.utime(blobs.path_of(digest), (then, then))


def test_list_blobs_finds_every_blob_with_its_size_and_time(blobs: BlobStore) -> None:
    import time

    before = time.time() - 2  # an object store's clock counts whole seconds
    refs = [blobs.put_bytes(b"x" * size) for size in (0, 1, 5000)]
    blobs.put_ref("datasets/d/1.json", b"{}")  # a ref is not a blob
    listed = {blob.digest: blob for blob in blobs.list_blobs()}
    assert set(listed) == {ref.digest for ref in refs}
    for ref in refs:
        assert listed[ref.digest].size == ref.size
        assert before <= listed[ref.digest].used_at <= time.time() + 2


def test_a_write_that_finds_its_blob_marks_it_used(
    blobs: BlobStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from steward.blobs import local, remote

    monkeypatch.setattr(local, "FRESHEN_AFTER", 0.5)
    monkeypatch.setattr(remote, "FRESHEN_AFTER", 0.5)
    source = tmp_path / "file.bin"
    source.write_bytes(b"from a file")
    ways = {
        "put_bytes": lambda: blobs.put_bytes(b"bytes"),
        "put_file": lambda: blobs.put_file(source),
        "missing(touch=True)": lambda: blobs.missing([digest_bytes(b"pulled")], touch=True),
    }
    digests = {
        "put_bytes": blobs.put_bytes(b"bytes").digest,
        "put_file": blobs.put_file(source).digest,
        "missing(touch=True)": blobs.put_bytes(b"pulled").digest,
    }
    _age(blobs, list(digests.values()), 2.5)
    import time

    unused_since = time.time() - 1.5
    assert blobs.missing(list(digests.values())) == []  # plain: marks nothing
    for way, reuse in ways.items():
        reuse()
        used_at = {blob.digest: blob.used_at for blob in blobs.list_blobs()}
        assert used_at[digests[way]] >= unused_since, way
        assert blobs.delete_unused(digests[way], unused_since) is None, way
        assert blobs.exists(digests[way])


def test_delete_unused_deletes_only_what_was_not_used_since(blobs: BlobStore) -> None:
    import time

    old = blobs.put_bytes(b"old")
    _age(blobs, [old.digest], 2.5)
    now = time.time()
    young = blobs.put_bytes(b"young")
    assert blobs.delete_unused(young.digest, now - 1.5) is None
    assert blobs.delete_unused(old.digest, now - 1.5) == 3
    assert not blobs.exists(old.digest) and blobs.exists(young.digest)
    assert blobs.delete_unused(old.digest, now) is None  # gone already
    assert blobs.put_bytes(b"old") == old  # stored again when needed
    assert blobs.get_bytes(old.digest) == b"old"


def test_a_local_blob_reused_while_it_is_being_deleted_is_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    store = LocalBlobStore(tmp_path / "blobs")
    ref = store.put_bytes(b"reused")
    _age(store, [ref.digest], 100)
    original = os.rename

    def reuse_then_rename(src: Any, dst: Any) -> None:
        # The writer marks the blob used (just before gc moves it aside).
        assert store.missing([ref.digest], touch=True) == []
        original(src, dst)

    monkeypatch.setattr(os, "rename", reuse_then_rename)
    assert store.delete_unused(ref.digest, time.time() - 50) is None
    monkeypatch.undo()
    assert store.get_bytes(ref.digest) == b"reused"


def test_remove_temporary_removes_only_old_leftovers(tmp_path: Path) -> None:
    import time

    store = LocalBlobStore(tmp_path / "blobs")
    old, young = tmp_path / "blobs" / "tmp" / "old", tmp_path / "blobs" / "tmp" / "young"
    old.write_bytes(b"12345")
    young.write_bytes(b"1")
    os.utime(old, (time.time() - 100, time.time() - 100))
    assert store.remove_temporary(time.time() - 50) == (1, 5)
    assert not old.exists() and young.exists()


def test_opening_a_store_that_must_exist(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such folder"):
        open_blob_store(str(tmp_path / "nope"), create=False)
    assert not (tmp_path / "nope").exists()
    (tmp_path / "there").mkdir()
    store = open_blob_store(str(tmp_path / "there"), create=False)
    assert list((tmp_path / "there").iterdir()) == []  # opening writes nothing
    assert store.get_bytes(store.put_bytes(b"a").digest) == b"a"  # writing makes tmp/
