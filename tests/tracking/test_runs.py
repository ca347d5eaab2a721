"""The tracking SDK on SQLite and PostgreSQL: what is logged is what comes back."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import steward
from steward.errors import Conflict, InvalidInput, NotFound


def test_a_run_records_params_metrics_tags_and_status(any_workspace: Any) -> None:
    steward.set_experiment("exp")
    with steward.start_run(name="first", tags={"team": "health"}) as run:
        steward.log_param("model", "rf")
        steward.log_params({"depth": 5, "lr": 0.1})
        steward.log_metric("acc", 0.5)
        steward.log_metric("acc", 0.75)
        steward.log_metrics({"loss": 0.3, "f1": 0.7}, step=10)
        steward.set_tag("stage", "dev")
    stored = steward.get_run(run.id)
    assert stored.name == "first"
    assert stored.experiment == "exp"
    assert stored.status == steward.RunStatus.FINISHED
    assert stored.params == {"model": "rf", "depth": "5", "lr": "0.1"}
    assert stored.metrics == {"acc": 0.75, "loss": 0.3, "f1": 0.7}
    assert stored.tags == {"team": "health", "stage": "dev"}
    assert stored.created_by == "tester"
    assert stored.start_time.tzinfo is UTC
    assert stored.end_time is not None and stored.end_time >= stored.start_time
    history = steward.get_metric_history(run.id, "acc")
    assert [(point.step, point.value) for point in history] == [(0, 0.5), (1, 0.75)]
    assert history[0].timestamp.tzinfo is UTC


def test_latest_metric_is_the_highest_step(any_workspace: Any) -> None:
    with steward.start_run() as run:
        steward.log_metric("loss", 0.1, step=5)
        steward.log_metric("loss", 0.9, step=2)
        steward.flush()
        steward.log_metric("loss", 0.8, step=3)
    assert steward.get_run(run.id).metrics["loss"] == 0.1
    assert [p.step for p in steward.get_metric_history(run.id, "loss")] == [2, 3, 5]


def test_nan_and_infinities_are_stored_faithfully(any_workspace: Any) -> None:
    with steward.start_run() as run:
        steward.log_metric("nan", float("nan"))
        steward.log_metric("pos", float("inf"))
        steward.log_metric("neg", float("-inf"))
    metrics = steward.get_run(run.id).metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pos"] == math.inf
    assert metrics["neg"] == -math.inf
    assert math.isnan(steward.get_metric_history(run.id, "nan")[0].value)


def test_timestamps_can_be_given(any_workspace: Any) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with steward.start_run() as run:
        steward.log_metric("m", 1.0, timestamp=at)
        steward.log_metric("m", 2.0, timestamp=1_700_000_000_000)
    points = steward.get_metric_history(run.id, "m")
    assert points[0].timestamp == at
    assert points[1].timestamp_ms == 1_700_000_000_000


def test_nested_runs_record_their_parent(any_workspace: Any) -> None:
    with steward.start_run(name="parent") as parent:
        with pytest.raises(InvalidInput, match="already active"):
            steward.start_run(name="refused")
        with steward.start_run(name="child", nested=True) as child:
            steward.log_metric("inner", 1.0)
            assert steward.active_run() is child
        assert steward.active_run() is parent
    assert steward.get_run(child.id).parent_id == parent.id
    assert steward.get_run(parent.id).metrics == {}


def test_an_exception_marks_the_run_failed(any_workspace: Any) -> None:
    with pytest.raises(RuntimeError), steward.start_run() as run:
        steward.log_metric("before", 1.0)
        raise RuntimeError("training diverged")
    stored = steward.get_run(run.id)
    assert stored.status == steward.RunStatus.FAILED
    assert stored.metrics == {"before": 1.0}


def test_run_usable_without_with(any_workspace: Any) -> None:
    run = steward.start_run(name="manual")
    steward.log_metric("m", 3.0)
    steward.end_run(status="KILLED")
    assert steward.active_run() is None
    assert steward.get_run(run.id).status == steward.RunStatus.KILLED


@pytest.mark.parametrize("name", ["", " lead", "a" * 251, "bad\nname", "../up", "/abs", "x;y"])
def test_invalid_names_are_refused_and_nothing_is_written(any_workspace: Any, name: str) -> None:
    with steward.start_run() as run:
        for call in (
            lambda: steward.log_metric(name, 1.0),
            lambda: steward.log_param(name, "v"),
            lambda: steward.set_tag(name, "v"),
        ):
            with pytest.raises(InvalidInput, match="name"):
                call()
    stored = steward.get_run(run.id)
    assert (stored.metrics, stored.params, stored.tags) == ({}, {}, {})
    with pytest.raises(InvalidInput):
        steward.set_experiment(name)


@pytest.mark.parametrize("value", ["0.5", None, [1.0], True, object()])
def test_non_numeric_metric_values_are_refused(any_workspace: Any, value: Any) -> None:
    with steward.start_run() as run:
        with pytest.raises(InvalidInput, match="must be a number"):
            steward.log_metric("m", value)
        with pytest.raises(InvalidInput, match="must be a number"):
            steward.log_metrics({"ok": 1.0, "bad": value})
    assert steward.get_run(run.id).metrics == {}


def test_relogging_a_param_with_another_value_is_a_conflict(any_workspace: Any) -> None:
    with steward.start_run() as run:
        steward.log_param("lr", 0.1)
        steward.log_param("lr", 0.1)  # the same value is fine
        with pytest.raises(Conflict, match="'lr'"):
            steward.log_params({"lr": 0.2, "other": 1})
    assert steward.get_run(run.id).params == {"lr": "0.1"}


def test_logging_to_a_finished_run_is_refused(any_workspace: Any) -> None:
    run = steward.start_run()
    run.end()
    for call in (
        lambda: run.log_metric("m", 1.0),
        lambda: run.log_param("p", 1),
        lambda: run.set_tag("t", 1),
    ):
        with pytest.raises(InvalidInput, match="has ended"):
            call()
    backend = any_workspace.tracking
    with pytest.raises(InvalidInput, match="has ended"):
        backend.log_batch(run.id, params={"p": "1"})


def test_unknown_run_ids_are_not_found(any_workspace: Any) -> None:
    with pytest.raises(NotFound, match="no run with id"):
        steward.get_run("0" * 32)
    with pytest.raises(NotFound):
        steward.get_metric_history("nope", "m")


def test_logging_without_an_active_run_says_how_to_start_one(any_workspace: Any) -> None:
    with pytest.raises(InvalidInput, match="start_run"):
        steward.log_metric("m", 1.0)


def _populate(count: int = 12) -> list[str]:
    steward.set_experiment("search")
    ids = []
    for index in range(count):
        with steward.start_run(name=f"run-{index:02d}") as run:
            steward.log_param("model", "rf" if index % 2 else "lr")
            steward.log_metric("acc", index / 10)
            if index % 3 == 0:
                steward.set_tag("reviewed", "yes")
            ids.append(run.id)
    return ids


def test_search_filters_orders_and_pages(any_workspace: Any) -> None:
    ids = _populate()
    page = steward.search_runs(
        experiment="search",
        filter="metrics.acc > 0.45 and params.model = 'rf'",
        order_by=["metrics.acc DESC"],
    )
    assert [run.metrics["acc"] for run in page] == [1.1, 0.9, 0.7, 0.5]
    either = steward.search_runs(filter="metrics.acc < 0.15 or tags.reviewed = 'yes'")
    assert {run.id for run in either} == {ids[0], ids[1], ids[3], ids[6], ids[9]}
    none_reviewed = steward.search_runs(filter="tags.reviewed is null")
    assert len(none_reviewed) == 8
    by_name = steward.search_runs(filter="attributes.run_name like 'run-1%'")
    assert sorted(run.name for run in by_name) == ["run-10", "run-11"]

    seen: list[str] = []
    token = None
    while True:
        page = steward.search_runs(order_by=["metrics.acc ASC"], max_results=5, page_token=token)
        seen += [run.id for run in page]
        token = page.next_page_token
        if token is None:
            break
    assert seen == ids


def test_search_results_as_a_dataframe(any_workspace: Any) -> None:
    _populate(4)
    frame = steward.search_runs(order_by=["metrics.acc"]).to_pandas()
    assert list(frame["metrics.acc"]) == [0.0, 0.1, 0.2, 0.3]
    assert set(frame["params.model"]) == {"rf", "lr"}
    assert {"run_id", "run_name", "status", "start_time"} <= set(frame.columns)


def test_malformed_filters_and_tokens_change_nothing(any_workspace: Any) -> None:
    _populate(2)
    with pytest.raises(InvalidInput, match="position"):
        steward.search_runs(filter="metrics.acc >> 1")
    with pytest.raises(InvalidInput, match="page_token"):
        steward.search_runs(page_token="garbage")
    with pytest.raises(NotFound, match="no experiment"):
        steward.search_runs(experiment="missing")
    assert len(steward.search_runs()) == 2


def test_filter_values_are_never_pasted_into_sql(any_workspace: Any) -> None:
    _populate(2)
    hostile = "params.model = 'x'' OR 1=1; DROP TABLE runs; --'"
    assert len(steward.search_runs(filter=hostile)) == 0
    assert len(steward.search_runs()) == 2


def test_deleted_runs_are_hidden_and_restorable(any_workspace: Any) -> None:
    ids = _populate(3)
    backend = any_workspace.tracking
    assert backend.delete_runs([ids[0]]) == 1
    assert {run.id for run in steward.search_runs()} == set(ids[1:])
    assert steward.get_run(ids[0]).lifecycle == "deleted"
    backend.restore_runs([ids[0]])
    assert len(steward.search_runs()) == 3


def test_artifacts_are_stored_and_verified(any_workspace: Any, tmp_path: Path) -> None:
    source = tmp_path / "report.txt"
    source.write_text("all good")
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    with steward.start_run() as run:
        steward.log_artifact(source)
        steward.log_artifact(source, name="reports/copy.txt")
        steward.log_artifacts(folder, prefix="plots")
    paths = [artifact.path for artifact in steward.list_artifacts(run.id)]
    assert paths == ["plots/a.txt", "plots/sub/b.txt", "report.txt", "reports/copy.txt"]
    out = steward.download_artifact(run.id, "plots/sub/b.txt", tmp_path / "out.txt")
    assert out.read_text() == "b"


@pytest.mark.parametrize(
    "name", ["../escape.txt", "a/../../b", "/etc/passwd", "bad\x00name", "C:/x", "a\\b", "."]
)
def test_artifact_names_outside_the_run_are_refused(
    any_workspace: Any, tmp_path: Path, name: str
) -> None:
    source = tmp_path / "f.txt"
    source.write_text("x")
    with steward.start_run() as run, pytest.raises(InvalidInput, match="artifact path"):
        steward.log_artifact(source, name=name)
    assert steward.list_artifacts(run.id) == []


def test_system_info_is_recorded_once_per_environment(any_workspace: Any) -> None:
    with steward.start_run() as first:
        pass
    with steward.start_run() as second:
        pass
    backend = any_workspace.tracking
    info = backend.system_info(first.id)
    assert info["python"]["version"].count(".") == 2
    assert "sqlalchemy" in info["packages"]
    assert info["cpu"]["count"] >= 1
    assert "commit" in info["git"]
    assert (
        steward.get_run(first.id).system_info_digest
        == steward.get_run(second.id).system_info_digest
    )


@pytest.fixture
def local_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh workspace on SQLite, made the current one."""
    from steward.workspace import open_workspace
    from tests.conftest import pinned

    yield from pinned(open_workspace(home=tmp_path / "home"), monkeypatch, tmp_path)


def test_a_run_is_stored_only_once_its_system_info_is_durable(
    local_workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steward.blobs import files

    backend = local_workspace.tracking
    entered: list[str] = []
    disk = threading.Event()
    real_fsync = files._fsync
    written_before_experiment: list[int] = []
    look_up = backend.get_or_create_experiment

    def slow_disk_fsync(path: str) -> None:
        entered.append(path)
        disk.wait(10)
        real_fsync(path)

    def get_or_create_experiment(name: str) -> Any:
        written_before_experiment.append(len(os.listdir(local_workspace.blobs.root / "tmp")))
        return look_up(name)

    monkeypatch.setattr(files, "_fsync", slow_disk_fsync)
    monkeypatch.setattr(backend, "get_or_create_experiment", get_or_create_experiment)
    started: dict[str, Any] = {}
    starting = threading.Thread(target=lambda: started.update(run=steward.start_run("r", "held")))
    starting.start()
    deadline = time.monotonic() + 10
    experiment = None
    while experiment is None and time.monotonic() < deadline:
        try:  # created while the system info is on its way to disk
            experiment = backend.get_experiment("held")
        except NotFound:
            time.sleep(0.005)
    assert experiment is not None and starting.is_alive()
    assert written_before_experiment == [1]  # the blob was written (its fsync started) first
    assert len(steward.search_runs(experiment="held")) == 0  # no run names the blob yet
    disk.set()
    starting.join(10)
    assert len(entered) == 1
    digest = steward.get_run(started["run"].id).system_info_digest
    assert digest is not None and local_workspace.blobs.exists(digest)
    assert backend.system_info(started["run"].id)["python"]["version"]
    started["run"].end()


def test_params_given_at_the_start_are_stored_with_the_run(any_workspace: Any) -> None:
    with steward.start_run(params={"lr": 0.1, "model": "rf"}) as run:
        steward.log_param("lr", 0.1)  # the same value again is fine
        with pytest.raises(Conflict):
            steward.log_param("lr", 0.2)
    assert steward.get_run(run.id).params == {"lr": "0.1", "model": "rf"}
    with pytest.raises(InvalidInput, match="param"):
        steward.start_run(params={"bad\nname": 1})
    assert steward.active_run() is None
    with steward.start_run(run_id=run.id, params={"epochs": 3}):
        pass
    assert steward.get_run(run.id).params == {"lr": "0.1", "model": "rf", "epochs": "3"}


def test_experiments_are_created_listed_and_unique(any_workspace: Any) -> None:
    backend = any_workspace.tracking
    backend.create_experiment("alpha", description="first")
    with pytest.raises(Conflict, match="already exists"):
        backend.create_experiment("alpha")
    with steward.start_run(experiment="alpha"):
        pass
    listed = {experiment.name: experiment for experiment in backend.list_experiments()}
    assert listed["alpha"].run_count == 1
    assert listed["alpha"].description == "first"


def test_artifacts_on_s3_are_verified_on_download(
    tmp_path: Path, s3_blob_url: str, s3_options: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from steward.errors import IntegrityError
    from steward.workspace import open_workspace, use_workspace

    ws = open_workspace(
        home=tmp_path / "home", blob_url=s3_blob_url, actor="tester", blob_options=s3_options
    )
    use_workspace(ws)
    try:
        source = tmp_path / "weights.bin"
        source.write_bytes(b"\x00\x01" * 50_000)
        with steward.start_run() as run:
            artifact = steward.log_artifact(source, name="model/weights.bin")
        out = steward.download_artifact(run.id, "model/weights.bin", tmp_path / "back.bin")
        assert out.read_bytes() == source.read_bytes()
        ws.blobs.fs.pipe_file(ws.blobs.key_of(artifact.digest), b"tampered")  # type: ignore[attr-defined]
        with pytest.raises(IntegrityError, match=artifact.digest):
            steward.download_artifact(run.id, "model/weights.bin", tmp_path / "again.bin")
        assert not (tmp_path / "again.bin").exists()
    finally:
        use_workspace(None)
        ws.close()


def test_a_failed_background_write_is_reported_after_the_run_ends(workspace: Any) -> None:
    from steward.tracking.active_run import ActiveRun
    from steward.tracking.local import LocalTrackingBackend
    from steward.tracking.metric_buffer import MetricBuffer
    from tests.services import wait_until

    failed = []

    class UnreachableMetrics(LocalTrackingBackend):
        def log_batch(self, run_id: str, metrics: Any = (), **kwargs: Any) -> None:
            if metrics:
                failed.append(run_id)
                raise steward.StewardError("the metric store is unreachable")
            super().log_batch(run_id, metrics, **kwargs)

    backend = UnreachableMetrics(workspace.store, workspace.blobs, "tester")
    buffer = MetricBuffer(interval=0.01)
    experiment = backend.get_or_create_experiment("flaky")
    first = ActiveRun(backend, backend.create_run(experiment.id, "first"), buffer)
    second = ActiveRun(backend, backend.create_run(experiment.id, "second"), buffer)
    first.log_metric("m", 1.0)
    assert wait_until(lambda: failed == [first.id])
    second.log_metric("kept", 2.0)
    with pytest.raises(steward.StewardError, match="unreachable"):
        second.end()
    stored = backend.get_run(second.id)
    assert stored.status == steward.RunStatus.FINISHED
    assert stored.metrics == {"kept": 2.0}
    assert buffer.take(first.id) == []
