"""A run started through a server is created with its first write: a short run is one
request, and what the user sees does not change (``ActiveRun``, ``record_run``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import steward
from steward.errors import Conflict, InvalidInput, NotFound
from steward.store.records import Metric, RunStatus, now_ms
from steward.tracking.metric_buffer import MetricBuffer
from tests.conftest import pinned
from tests.services import served_workspace, wait_until


@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, list]]:
    """An editor's workspace through a server, the server's own store, and the list of
    requests the client sends (method, path)."""
    with served_workspace(tmp_path / "server") as server:
        monkeypatch.setenv("STEWARD_URI", server.url)
        monkeypatch.setenv("STEWARD_TOKEN", server.make_user("tester", "editor"))
        ws = steward.open_workspace(home=tmp_path / "home", actor="tester")
        sent: list[tuple[str, str]] = []
        transport: Any = ws.store.transport
        hooks = transport.client.event_hooks
        hooks["request"] = [lambda request: sent.append((request.method, request.url.path))]
        if transport.lean is not None:  # the JSON calls' own connection
            send = transport.lean.request

            def recorded(verb: str, path: str, *args: Any) -> Any:
                sent.append((verb, transport.lean.prefix + path.partition("?")[0]))
                return send(verb, path, *args)

            monkeypatch.setattr(transport.lean, "request", recorded)
        for workspace in pinned(ws, monkeypatch, tmp_path):
            with steward.start_run(name="warm-up"):  # sends this process's system facts
                pass
            sent.clear()
            yield workspace, server.workspace.store, sent


@pytest.fixture(autouse=True)
def metric_writer(monkeypatch: pytest.MonkeyPatch) -> Iterator[MetricBuffer]:
    """A metric writer of its own that drains every 30 s (and at once when it starts), so
    that no drain falls inside a test's short run by chance."""
    from steward.tracking import fluent

    buffer = MetricBuffer(interval=30)
    monkeypatch.setattr(fluent, "_buffer", buffer)
    yield buffer
    buffer.close()


def test_a_short_run_is_one_request(remote: tuple[Any, Any, list]) -> None:
    _, stored, sent = remote
    with steward.start_run(name="short", tags={"team": "a"}) as run:
        run.log_params({"alpha": 0.5, "depth": 3})
        run.set_tag("stage", "dev")
        run.log_metrics({"loss": 0.25, "acc": 0.9})
    assert sent == [("PUT", f"/api/v1/runs/{run.id}")]
    record = stored.tracking.get_run(run.id)
    assert record.status is RunStatus.FINISHED
    assert record.params == {"alpha": "0.5", "depth": "3"}
    assert record.tags == {"team": "a", "stage": "dev"}
    assert record.metrics == {"loss": 0.25, "acc": 0.9}
    assert record.created_by == "tester"  # the server names the caller, not the client
    events = sorted(stored.audit.events(subject=f"run:{run.id}"), key=lambda e: e.seq)
    actions = [event.action for event in events]
    assert actions == ["run.start", "run.end"]


def test_an_idle_run_appears_within_the_writer_interval(
    remote: tuple[Any, Any, list], metric_writer: MetricBuffer
) -> None:
    _, stored, _ = remote
    metric_writer.interval = 0.3
    with metric_writer._wake:  # end the writer's 30 s wait: from now on it drains every 0.3 s
        metric_writer._wake.notify()
    run = steward.start_run(name="idle")
    started = time.monotonic()
    assert wait_until(lambda: _exists(stored, run.id), timeout=5)
    assert time.monotonic() - started < 2.0
    assert stored.tracking.get_run(run.id).status is RunStatus.RUNNING
    run.log_params({"late": 1})  # now a write of its own
    run.end()
    assert stored.tracking.get_run(run.id).params == {"late": "1"}


def _exists(stored: Any, run_id: str) -> bool:
    try:
        stored.tracking.get_run(run_id)
    except NotFound:
        return False
    return True


def test_a_param_logged_twice_differently_is_refused_at_once(
    remote: tuple[Any, Any, list],
) -> None:
    _, stored, _ = remote
    with steward.start_run(name="immutable") as run:
        run.log_param("lr", 0.1)
        run.log_param("lr", 0.1)  # the same value again is fine
        with pytest.raises(Conflict, match=r"'lr'.*immutable"):
            run.log_param("lr", 0.2)
    assert stored.tracking.get_run(run.id).params == {"lr": "0.1"}


def test_reads_artifacts_and_children_send_the_run_first(
    remote: tuple[Any, Any, list], tmp_path: Path
) -> None:
    _, stored, _ = remote
    (tmp_path / "notes.txt").write_text("hello")
    with steward.start_run(name="parent") as parent:
        parent.log_param("p", 1)
        with steward.start_run(name="child", nested=True) as child:
            assert stored.tracking.get_run(parent.id).params == {"p": "1"}
            child.log_artifact(tmp_path / "notes.txt")
            assert _exists(stored, child.id)
        assert parent.info.params == {"p": "1"}
    found = steward.search_runs(experiment=parent.experiment)
    assert {run.name for run in found} == {"warm-up", "parent", "child"}
    assert stored.tracking.get_run(child.id).parent_id == parent.id


def test_a_failed_block_is_one_request_ending_failed(remote: tuple[Any, Any, list]) -> None:
    _, stored, sent = remote
    with pytest.raises(ZeroDivisionError), steward.start_run(name="boom") as run:
        run.log_metric("before", 1.0)
        _ = 1 / 0
    assert sent == [("PUT", f"/api/v1/runs/{run.id}")]
    assert stored.tracking.get_run(run.id).status is RunStatus.FAILED


# -- the store's side: record_run -------------------------------------------------


@pytest.fixture
def metadata_store(store_url: str) -> Iterator[Any]:
    """A fresh metadata store on SQLite and on PostgreSQL."""
    from steward.store.metadata import MetadataStore

    store = MetadataStore(store_url)
    yield store
    store.close()


def _record(store: Any, experiment_id: str, run_id: str, actor: str = "ann", **extra: Any) -> Any:
    return store.tracking.record_run(
        run_id, experiment_id, actor, name="r", start_time_ms=1_700_000_000_000, **extra
    )


def test_record_run_writes_a_whole_run_in_one_transaction(metadata_store: Any) -> None:
    store = metadata_store
    experiment = store.tracking.get_or_create_experiment("rec", "ann")
    run_id = uuid.uuid4().hex
    points = [Metric("loss", 0.5, 0, now_ms()), Metric("loss", 0.4, 1, now_ms())]
    _record(
        store,
        experiment.id,
        run_id,
        params={"a": "1"},
        metrics=points,
        tags={"t": "x"},
        status=RunStatus.FINISHED,
    )
    run = store.tracking.get_run(run_id)
    assert (run.status, run.params, run.tags, run.metrics) == (
        RunStatus.FINISHED,
        {"a": "1"},
        {"t": "x"},
        {"loss": 0.4},
    )
    assert [p.value for p in store.tracking.metric_history(run_id, "loss")] == [0.5, 0.4]


def test_record_run_sent_again_is_the_same_run(metadata_store: Any) -> None:
    store = metadata_store
    experiment = store.tracking.get_or_create_experiment("again", "ann")
    run_id = uuid.uuid4().hex
    _record(store, experiment.id, run_id, params={"a": "1"})
    # A retried request (its answer was lost) with what was logged meanwhile.
    _record(store, experiment.id, run_id, params={"a": "1", "b": "2"}, status=RunStatus.KILLED)
    run = store.tracking.get_run(run_id)
    assert (run.params, run.status) == ({"a": "1", "b": "2"}, RunStatus.KILLED)
    assert len(store.tracking.search_runs([experiment.id]).runs) == 1
    with pytest.raises(InvalidInput, match="already ended"):
        _record(store, experiment.id, run_id)


def test_record_run_refuses_what_is_not_its_own(metadata_store: Any) -> None:
    store = metadata_store
    experiment = store.tracking.get_or_create_experiment("own", "ann")
    run_id = uuid.uuid4().hex
    _record(store, experiment.id, run_id, params={"a": "1"})
    with pytest.raises(Conflict, match="already exists"):
        _record(store, experiment.id, run_id, actor="mallory", params={"a": "2"})
    with pytest.raises(Conflict, match="immutable"):
        _record(store, experiment.id, run_id, params={"a": "2"})
    assert store.tracking.get_run(run_id).params == {"a": "1"}
    for bad in ("../x", "ABCDEF" * 6, run_id[:-1], run_id + "0"):
        with pytest.raises(InvalidInput, match="32 lowercase hex"):
            _record(store, experiment.id, bad)
    with pytest.raises(InvalidInput, match="FINISHED, FAILED or KILLED"):
        _record(store, experiment.id, uuid.uuid4().hex, status=RunStatus.RUNNING)
    missing = uuid.uuid4().hex
    with pytest.raises(NotFound):
        _record(store, "no-such-experiment", missing)
    assert not _exists(store, missing)


def test_handing_out_the_id_sends_the_run(remote: tuple[Any, Any, list]) -> None:
    _, stored, sent = remote
    run = steward.start_run(name="named")
    assert not run.sent and sent == []
    run_id = run.id  # e.g. to be recorded as a model's source run
    assert run.sent and _exists(stored, run_id)
    run.end()
    assert stored.tracking.get_run(run_id).status is RunStatus.FINISHED
