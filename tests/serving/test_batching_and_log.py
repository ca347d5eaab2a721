"""Micro-batching, the prediction log, feedback and shedding."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from steward.serving import ServingConfig, read_predictions
from tests.serving.conftest import rows


def _metric(text: str, name: str) -> float:
    return sum(float(value) for value in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def test_concurrent_single_rows_share_model_calls(champion: Any, start_server: Any) -> None:
    requests = 64
    config = ServingConfig(max_wait_ms=20, max_batch_rows=64, max_queue=requests)
    server = start_server("models:/clf@champion", config=config)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=requests)) as client:
            replies = await asyncio.gather(
                *(
                    client.post(f"{server.url}/invocations", json={"instances": rows(1, seed=i)})
                    for i in range(requests)
                )
            )
        return [reply.status_code for reply in replies]

    before = _metric(httpx.get(f"{server.url}/metrics").text, "steward_batch_size_count")
    assert asyncio.run(burst()) == [200] * requests
    text = httpx.get(f"{server.url}/metrics").text
    calls = _metric(text, "steward_batch_size_count") - before
    assert _metric(text, "steward_batch_size_sum") >= requests
    assert calls < requests / 2, f"{calls} model calls for {requests} concurrent requests"


def test_predictions_are_logged_and_joined_with_feedback(champion: Any, start_server: Any) -> None:
    server = start_server("models:/clf@champion")
    reply = httpx.post(f"{server.url}/predict", json={"inputs": rows(3)}).json()
    ids = reply["request_ids"]
    feedback = httpx.post(
        f"{server.url}/feedback",
        json={"feedback": [{"request_id": ids[0], "label": 1}, {"request_id": "nope", "label": 0}]},
    )
    assert feedback.status_code == 200
    assert feedback.json() == {"accepted": 1, "unknown_request_ids": ["nope"]}
    assert (
        httpx.post(f"{server.url}/feedback", json={"request_id": ids[1], "label": 0}).json()[
            "accepted"
        ]
        == 1
    )
    server.stop()
    log = read_predictions("clf")
    assert list(log["request_id"]) == ids
    assert list(log["prediction"]) == reply["predictions"]
    assert set(log["route"]) == {"primary"} and set(log["version"]) == {1}
    assert {"input.age", "input.dose", "latency_ms", "timestamp"} <= set(log.columns)
    labels = dict(zip(log["request_id"], log["label"], strict=True))
    assert labels[ids[0]] == 1 and labels[ids[1]] == 0 and labels[ids[2]] is None


def test_feedback_days_later_from_another_process(champion: Any, start_server: Any) -> None:
    server = start_server("models:/clf@champion")
    ids = httpx.post(f"{server.url}/predict", json={"inputs": rows(2)}).json()["request_ids"]
    server.stop()
    again = start_server("models:/clf@champion")
    reply = httpx.post(f"{again.url}/feedback", json=[{"request_id": i, "label": 1} for i in ids])
    assert reply.json() == {"accepted": 2, "unknown_request_ids": []}


def test_read_predictions_window(champion: Any, start_server: Any) -> None:
    from datetime import UTC, datetime, timedelta

    server = start_server("models:/clf@champion")
    httpx.post(f"{server.url}/predict", json={"inputs": rows(2)})
    server.stop()
    now = datetime.now(UTC)
    assert len(read_predictions("clf", since=now - timedelta(hours=1))) == 2
    assert len(read_predictions("clf", until=now - timedelta(hours=1))) == 0
    assert len(read_predictions("other")) == 0


def test_full_queue_sheds_log_entries_not_requests(workspace: Any) -> None:
    import threading

    import numpy as np

    from steward.serving.prediction_log import LogEntry, PredictionLogWriter

    gate = threading.Event()

    class SlowBlobs:
        def put_bytes(self, data: bytes) -> Any:
            gate.wait(10)
            return workspace.blobs.put_bytes(data)

    class Stalled:
        blobs = SlowBlobs()
        store = workspace.store

    writer = PredictionLogWriter(Stalled(), max_queue=2, flush_interval_s=0.01)  # type: ignore[arg-type]

    def entry(index: int) -> LogEntry:
        return LogEntry(
            "m", 1, "primary", "native", 1_700_000_000_000 + index, 1.0, [f"r{index}-0"],
            np.zeros((1, 2)), np.zeros(1),
        )  # fmt: skip

    accepted = [writer.submit(entry(i)) for i in range(20)]
    assert accepted.count(False) >= 15
    assert writer.shed_rows == accepted.count(False)
    # Entries the stalled writer holds still count as waiting, as /metrics shows them.
    assert writer.queue_depth == accepted.count(True)
    gate.set()
    writer.close()
    assert writer.written_rows == accepted.count(True)
    assert writer.queue_depth == 0


@pytest.mark.parametrize("log_predictions", [False])
def test_logging_can_be_turned_off(champion: Any, start_server: Any, log_predictions: bool) -> None:
    server = start_server(
        "models:/clf@champion", config=ServingConfig(log_predictions=log_predictions)
    )
    assert httpx.post(f"{server.url}/predict", json={"inputs": rows(1)}).status_code == 200
    server.stop()
    assert len(read_predictions("clf")) == 0
