"""``steward data gc``: deletes the blobs nothing refers to, and only those."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import steward
from steward.blobs.local import LocalBlobStore
from steward.errors import IntegrityError, InvalidInput
from tests.data.conftest import corrupt_blob, write_csv


def _folder(root: Path, seed: int = 0) -> Path:
    write_csv(root / "tables" / "train.csv", 200)
    (root / "notes.txt").write_text(f"notes {seed}")
    (root / "blob.bin").write_bytes(np.random.default_rng(seed).bytes(300_000))  # chunked
    return root


def _interrupted_add(
    workspace: Any, name: str, source: Path, monkeypatch: pytest.MonkeyPatch
) -> set[str]:
    """Add ``source``, interrupted after three chunks: the blobs it left."""
    from steward.data.chunking import ChunkWriter

    before = _blobs(workspace)
    chunks: list[str] = []
    original = ChunkWriter._put_chunk

    def put_then_stop(self: ChunkWriter, data: Any) -> Any:
        if len(chunks) >= 3:
            raise KeyboardInterrupt
        chunks.append(original(self, data)[0])
        return chunks[-1], len(data)

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(ChunkWriter, "_put_chunk", put_then_stop)
        steward.data.add(name, source)
    left = _blobs(workspace) - before
    assert set(chunks) <= left
    return left


def _blobs(workspace: Any) -> set[str]:
    return {blob.digest for blob in workspace.blobs.list_blobs()}


def test_gc_deletes_exactly_the_blobs_nothing_refers_to(
    blob_workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = steward.data.add("d", _folder(tmp_path / "src"))
    with steward.start_run() as run:
        steward.log_artifact(write_csv(tmp_path / "metrics.csv", 5))
    garbage = _interrupted_add(
        blob_workspace, "half", _folder(tmp_path / "other", seed=1), monkeypatch
    )
    garbage.add(blob_workspace.blobs.put_bytes(b"stray").digest)
    assert len(garbage) >= 4 and garbage <= _blobs(blob_workspace)
    before = _blobs(blob_workspace)

    young = steward.data.gc()  # the default grace period: everything is young
    assert (young.collected, young.recent) == ((), len(garbage))
    dry = steward.data.gc(grace=0, dry_run=True)
    assert {blob.digest for blob in dry.collected} == garbage
    assert dry.bytes_freed == sum(blob.size for blob in dry.collected) > 0
    assert dry.referenced == len(before) - len(garbage) and _blobs(blob_workspace) == before

    done = steward.data.gc(grace=0)
    assert {blob.digest for blob in done.collected} == garbage
    assert done.bytes_freed == dry.bytes_freed and not done.dry_run
    assert _blobs(blob_workspace) == before - garbage
    out = kept.checkout(tmp_path / "out")  # every file, chunk, profile and manifest is there
    assert (out / "blob.bin").read_bytes() == (tmp_path / "src" / "blob.bin").read_bytes()
    assert kept.profile() is not None
    steward.download_artifact(run.id, "metrics.csv", tmp_path / "metrics-back.csv")
    assert steward.get_run(run.id).system_info_digest in _blobs(blob_workspace)
    assert steward.data.gc(grace=0).collected == ()
    assert steward.data.add("half", tmp_path / "other").version == 1  # stored again as needed


def test_gc_keeps_what_models_monitors_prediction_logs_and_text_refer_to(
    workspace: Any, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    from steward.monitoring import create_monitor, monitor_results, run_monitor
    from steward.serving import read_predictions
    from steward.serving.prediction_log import LogEntry, PredictionLogWriter

    X = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 7})
    y = (X["a"] > 20).astype(int)
    steward.data.add("train", X.assign(target=y))
    with steward.start_run() as run:
        info = steward.models.log(LogisticRegression().fit(X, y), register="clf")
    scores = tmp_path / "scores"
    scores.mkdir()
    X.assign(prediction=y, at=pd.Timestamp("2026-06-01", tz="UTC")).to_parquet(
        scores / "day.parquet"
    )
    create_monitor(
        "nightly", table=str(scores), timestamp_column="at", reference="train:1", window="7d"
    )
    result = run_monitor("nightly", now=pd.Timestamp("2026-06-02", tz="UTC").to_pydatetime())
    writer = PredictionLogWriter(workspace, flush_interval_s=0.01)
    writer.submit(
        LogEntry(
            "clf",
            1,
            "primary",
            "native",
            1_780_000_000_000,
            1.0,
            ["r1-0"],
            np.zeros((1, 2)),
            np.zeros(1),
        )
    )
    writer.close()
    only_in_a_tag = workspace.blobs.put_bytes(b"named only in a tag").digest
    with steward.start_run():
        steward.set_tag("snapshot", f"see {only_in_a_tag}")
    stray = workspace.blobs.put_bytes(b"nothing names this").digest

    collected = steward.data.gc(grace=0).collected
    assert [blob.digest for blob in collected] == [stray]
    loaded = steward.models.load(f"models:/clf/{info.version.version}")
    assert list(loaded.predict(X.head(3))) == list(y.head(3))
    stored = monitor_results("nightly")[-1]
    assert stored.rows == result.rows and stored.drift() is not None
    assert stored.to_dict()["reference"] == result.to_dict()["reference"]
    assert len(read_predictions("clf")) == 1
    assert workspace.blobs.get_bytes(only_in_a_tag) == b"named only in a tag"
    assert steward.get_run(run.id).system_info_digest in _blobs(workspace)


def test_gc_keeps_the_outputs_of_pipeline_steps(workspace: Any) -> None:
    from tests.pipelines import flows

    first = flows.stats(n=30)
    stray = workspace.blobs.put_bytes(b"nothing names this").digest
    assert [blob.digest for blob in steward.data.gc(grace=0).collected] == [stray]
    again = flows.stats(n=30)  # every step from the cache, its outputs read back
    assert {step.status.value for step in again.steps} == {"cached"}
    assert steward.pipelines.load(again) == steward.pipelines.load(first)


def test_every_digest_column_of_the_schema_is_a_reference() -> None:
    from steward.store import schema
    from steward.store.references import DIGEST_COLUMNS, NOT_BLOB_DIGEST_COLUMNS

    declared = {
        (column.table.name, column.name) for column in DIGEST_COLUMNS + NOT_BLOB_DIGEST_COLUMNS
    }
    found = {
        (table.name, column.name)
        for table in schema.metadata.sorted_tables
        for column in table.columns
        if "digest" in column.name
    }
    assert found == declared


def test_an_add_in_progress_loses_nothing_to_a_concurrent_gc(
    blob_workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The add reuses blobs an earlier, interrupted add left (old, unreferenced): it marks
    them used, so a gc running before the add records its version keeps them."""
    from steward.blobs import local, remote
    from steward.store.datasets import DatasetStore

    monkeypatch.setattr(local, "FRESHEN_AFTER", 1.0)
    monkeypatch.setattr(remote, "FRESHEN_AFTER", 1.0)
    source = _folder(tmp_path / "src")
    left = _interrupted_add(blob_workspace, "d", source, monkeypatch)
    (source / "late.txt").write_text("written by the add in progress")
    if isinstance(blob_workspace.blobs, LocalBlobStore):
        then = time.time() - 10
        for digest in left:
            os.utime(blob_workspace.blobs.path_of(digest), (then, then))
    else:
        time.sleep(4)  # an object store's times cannot be set: wait until they are old
    grace = 3.0
    assert {blob.digest for blob in steward.data.gc(grace=grace, dry_run=True).collected} == left

    stored, resume = threading.Event(), threading.Event()
    original = DatasetStore.create_version

    def paused(self: DatasetStore, *args: Any, **kwargs: Any) -> Any:
        stored.set()  # every blob written or reused; the version not yet recorded
        assert resume.wait(30)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DatasetStore, "create_version", paused)
    outcome: list[Any] = []
    adding = threading.Thread(target=lambda: outcome.append(steward.data.add("d", source)))
    adding.start()
    assert stored.wait(30)
    during = steward.data.gc(grace=grace)
    resume.set()
    adding.join(30)
    assert during.collected == () and during.recent > 0
    version = outcome[0]
    out = version.checkout(tmp_path / "out")  # every blob it names is there, verified
    for relpath in version.files:
        assert (out / relpath).read_bytes() == (source / relpath).read_bytes()
    assert left <= _blobs(blob_workspace)


def test_gc_removes_leftovers_of_interrupted_writes_after_the_grace_period(
    workspace: Any,
) -> None:
    tmp = workspace.blobs.root / "tmp"
    old, young = tmp / "123-abc-1", tmp / "123-abc-2"
    old.write_bytes(b"half a blob")
    young.write_bytes(b"being written")
    then = time.time() - 7200
    os.utime(old, (then, then))
    assert steward.data.gc(dry_run=True).temporary_files == 0 and old.exists()
    result = steward.data.gc()
    assert (result.temporary_files, result.temporary_bytes) == (1, 11)
    assert not old.exists() and young.exists()


def test_gc_refuses_to_guess_when_a_manifest_is_missing(workspace: Any, tmp_path: Path) -> None:
    version = steward.data.add("d", _folder(tmp_path / "src"))
    stray = workspace.blobs.put_bytes(b"stray").digest
    corrupt_blob(workspace, version.digest)
    with pytest.raises(IntegrityError, match="nothing was deleted"):
        steward.data.gc(grace=0)
    assert workspace.blobs.exists(stray)


@pytest.mark.parametrize("grace", ["soon", "-5", "1w"])
def test_a_grace_period_that_is_not_a_duration_is_refused(workspace: Any, grace: str) -> None:
    with pytest.raises(InvalidInput, match="grace period"):
        steward.data.gc(grace=grace)


def test_gc_grace_period_from_the_environment(
    workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stray = workspace.blobs.put_bytes(b"stray").digest
    monkeypatch.setenv("STEWARD_GC_GRACE", "0s")
    result = steward.data.gc()
    assert result.grace_seconds == 0 and [b.digest for b in result.collected] == [stray]
    monkeypatch.setenv("STEWARD_GC_GRACE", "2h")
    assert steward.data.gc().grace_seconds == 7200


def test_cli_data_gc(workspace: Any, tmp_path: Path) -> None:
    from steward.cli import app

    runner = CliRunner()
    steward.data.add("d", _folder(tmp_path / "src"))
    stray = workspace.blobs.put_bytes(b"stray")
    dry = runner.invoke(app, ["data", "gc", "--dry-run", "--grace", "0", "--json"])
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.stdout)
    assert report["dry_run"] and report["collected"] == [{"digest": stray.digest, "size": 5}]
    assert report["bytes_freed"] == 5 and workspace.blobs.exists(stray.digest)
    listed = runner.invoke(app, ["data", "gc", "--dry-run", "--grace", "0"])
    assert stray.digest[:20] in listed.stdout and "would delete 1 blobs (5 bytes)" in listed.stdout
    done = runner.invoke(app, ["data", "gc", "--grace", "0"])
    assert done.exit_code == 0 and "deleted 1 blobs (5 bytes)" in done.stdout
    assert not workspace.blobs.exists(stray.digest)
    refused = runner.invoke(app, ["data", "gc", "--grace", "soon"])
    assert refused.exit_code == 1
