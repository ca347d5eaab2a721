"""Three ``steward server`` processes on one PostgreSQL database and one S3 bucket (moto),
as a team runs them behind one address: writes raced through all three at once lose
nothing, answer no 500, and keep every unique constraint."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.services import StewardServer, create_bucket, create_database, steward_server

SERVERS = 3
WORKERS = 6


@pytest.fixture
def three_servers(
    tmp_path: Path, postgres_url_base: str, s3_options: dict[str, str]
) -> Iterator[list[StewardServer]]:
    """Three server processes sharing one PostgreSQL database and one bucket."""
    store = ["--store-url", create_database(postgres_url_base)]
    blobs = ["--blob-url", f"s3://{create_bucket(s3_options)}/blobs"]
    env = {"STEWARD_BLOB_OPTIONS": json.dumps(s3_options)}
    with ExitStack() as stack:
        first = stack.enter_context(steward_server(tmp_path / "s0", *store, *blobs, env=env))
        assert first.admin_token, "the first server bootstraps the admin"
        others = [
            stack.enter_context(steward_server(tmp_path / f"s{i}", *store, *blobs, env=env))
            for i in range(1, SERVERS)
        ]
        assert not any(other.admin_token for other in others), "one admin, made once"
        for other in others:
            other.admin_token = first.admin_token
        yield [first, *others]


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls on several threads released at the same moment; return their results."""
    start = threading.Event()

    def go(call: Callable[[], Any]) -> Any:
        start.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(go, call) for call in calls]
        start.set()
        return [future.result() for future in futures]


@pytest.mark.slow
def test_writes_raced_through_three_processes_lose_nothing(
    three_servers: list[StewardServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import steward
    from steward.store.records import Metric
    from steward.workspace import open_workspace, workspace_scope

    monkeypatch.setenv("STEWARD_TOKEN", three_servers[0].make_user("editor", "approver"))
    clients = [
        open_workspace(tmp_path / f"client{i}", server.url, actor="editor")
        for i, server in enumerate(three_servers)
    ]
    assert all(client.settings.remote for client in clients)
    stores = [client.store for client in clients]
    experiment = stores[0].tracking.create_experiment("race", "editor")

    # Runs with 20 params and 5 metrics each, created through every server at once.
    def new_run(index: int) -> str:
        tracking = stores[index % SERVERS].tracking
        run = tracking.create_run(experiment.id, f"run-{index}", "editor")
        params = {f"p{k}": str(index) for k in range(20)}
        metrics = [Metric(f"m{k}", float(index), 0, 1_767_000_000_000) for k in range(5)]
        tracking.log_batch(run.id, "editor", metrics, params, {})
        return str(run.id)

    run_ids = _race([lambda i=i: new_run(i) for i in range(30)])
    assert len(set(run_ids)) == 30
    found = stores[1].tracking.search_runs([experiment.id], max_results=100).runs
    assert sorted(run.id for run in found) == sorted(run_ids)
    assert all(len(run.params) == 20 and len(run.metrics) == 5 for run in found)

    # Metric points for one run from all three servers: every point lands once.
    shared = run_ids[0]

    def points(index: int) -> None:
        steps = range(50 * index, 50 * index + 50)
        batch = [Metric("loss", float(step), step, 1_767_000_000_000 + step) for step in steps]
        stores[index % SERVERS].tracking.log_batch(shared, "editor", batch, {}, {})

    _race([lambda i=i: points(i) for i in range(12)])
    history = stores[2].tracking.metric_history(shared, "loss")
    assert sorted(point.step for point in history) == list(range(600))

    # The same bytes uploaded through every server at once: one blob, intact.
    payload = np.random.default_rng(0).bytes(3 << 20)
    refs = _race([lambda i=i: clients[i % SERVERS].blobs.put_bytes(payload) for i in range(9)])
    assert len({ref.digest for ref in refs}) == 1
    for client in clients:
        assert client.blobs.get_bytes(refs[0].digest) == payload

    # Dataset versions of one dataset added through every server at once: numbers unique.
    def add_version(index: int) -> int:
        frame = pd.DataFrame({"x": np.arange(index, index + 50)})
        with workspace_scope(clients[index % SERVERS]):
            return int(steward.data.add("survey", frame).version)

    numbers = _race([lambda i=i: add_version(i) for i in range(9)])
    assert sorted(numbers) == list(range(1, 10))
    assert [v.version for v in stores[0].datasets.list_versions("survey")] == list(range(9, 0, -1))

    # One alias moved through every server at once: every move recorded, in one chain.
    with workspace_scope(clients[0]):
        X = np.random.default_rng(1).normal(size=(40, 2))
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
        for _ in range(3):
            with steward.start_run():
                steward.models.log(model, input_example=X[:2], register="clf")

    def move(index: int) -> Any:
        registry = stores[index % SERVERS].registry
        return registry.set_alias("clf", "champion", index % 3 + 1, "editor", None, None)

    moves = _race([lambda i=i: move(i) for i in range(12)])
    history = stores[1].registry.alias_history("clf", "champion")
    assert len(history) == len(moves) == 12
    assert history[0].from_version is None
    for before, after in itertools.pairwise(history):
        assert after.from_version == before.to_version, "a move was lost or interleaved"
    resolved = stores[2].registry.resolve_alias("clf", "champion")
    assert resolved.version == history[-1].to_version

    # No server answered 500 (a raised error would have failed above); each still answers.
    for server in three_servers:
        assert httpx.get(server.url + "/api/v1/health").status_code == 200
    for client in clients:
        client.close()
