"""The served log indexes each answered row group as one range of request ids, as batch
scoring does; labels still join predictions by request id (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import steward
from steward.governance import trained_on
from steward.serving import ServingConfig, read_predictions
from steward.serving.ids import new_request_ids, request_ranges
from steward.store import schema as t
from tests.services import wait_until
from tests.serving.conftest import register_model, rows


def test_ids_of_a_group_are_one_range_and_ranges_must_be_whole() -> None:
    ids = new_request_ids(3)
    prefix = ids[0][:-1]
    assert ids == [prefix + "0", prefix + "1", prefix + "2"] and len(prefix) == 27
    assert request_ranges(ids) == [(prefix, 3)]
    other = new_request_ids(2)
    mixed = [other[1], ids[2], ids[0], other[0], ids[1]]  # a shadow's: two groups interleaved
    assert sorted(request_ranges(mixed)) == sorted([(prefix, 3), (other[0][:-1], 2)])
    for broken in ([ids[0], ids[2]], [ids[0], ids[0]], ["plain"], ["-0"]):
        with pytest.raises(ValueError, match=r"range|form"):
            request_ranges(broken)


def _index_rows(workspace: Any) -> tuple[int, int]:
    """(range rows, rows of single ids) in the request index."""
    with workspace.store.engine.connect() as connection:
        ranges = connection.execute(select(func.count()).select_from(t.prediction_request_ranges))
        singles = connection.execute(select(func.count()).select_from(t.prediction_requests))
        return int(ranges.scalar_one()), int(singles.scalar_one())


def test_canary_and_shadow_rows_are_ranges_and_labels_join_every_route(
    any_workspace: Any, start_server: Any
) -> None:
    register_model()
    steward.models.set_alias("clf", "champion", 1)
    register_model(flip=True)  # clf version 2, the canary
    register_model("other", flip=True)
    steward.models.set_alias("other", "champion", 1)
    config = ServingConfig(log_flush_interval_s=0.05)
    server = start_server(
        "models:/clf@champion",
        canary="models:/clf/2:50",
        shadow="models:/other@champion",
        config=config,
    )
    entities = [f"patient-{i}" for i in range(40)]
    reply = httpx.post(
        f"{server.url}/predict", json={"inputs": rows(40), "entity_ids": entities}
    ).json()
    ids = reply["request_ids"]
    assert set(reply["versions"]) == {1, 2}  # primary and canary, split within the request
    assert len(request_ranges(ids)) == 2
    assert wait_until(lambda: len(read_predictions("other")) == 40, timeout=20)
    # Primary, canary and the shadow's entry (both ranges of the request): 4 range rows.
    assert _index_rows(any_workspace) == (4, 0)
    # Lineage finds every model that answered an id through its ranges alone.
    for request_id, version in zip(ids, reply["versions"], strict=True):
        answered = {(found.model, found.version) for found in trained_on(request_id)}
        assert answered == {("clf", version), ("other", 1)}

    labels = [
        {"request_id": request_id, "label": index % 2} for index, request_id in enumerate(ids)
    ]
    answer = httpx.post(f"{server.url}/feedback", json=labels).json()
    assert answer == {"accepted": 40, "unknown_request_ids": []}
    assert _index_rows(any_workspace) == (4, 80)  # each label's id, for the answer and shadow
    unknown = ids[0][:-1] + "40"  # past the end of its range
    assert httpx.post(f"{server.url}/feedback", json={"request_id": unknown, "label": 1}).json()[
        "unknown_request_ids"
    ] == [unknown]
    server.stop()
    expected = {request_id: index % 2 for index, request_id in enumerate(ids)}
    for model in ("clf", "other"):
        log = read_predictions(model)
        assert len(log) == 40
        assert dict(zip(log["request_id"], log["label"], strict=True)) == expected
        joined = any_workspace.store.serving.feedback(model)
        assert sorted(label.request_id for label in joined) == sorted(ids)


def test_a_label_sent_before_its_prediction_is_written_joins_it(
    any_workspace: Any, start_server: Any
) -> None:
    register_model()
    steward.models.set_alias("clf", "champion", 1)
    # A flush interval far longer than the test: the entry is still queued when the label
    # arrives, so the feedback route writes the queue first.
    server = start_server("models:/clf@champion", config=ServingConfig(log_flush_interval_s=60))
    ids = httpx.post(f"{server.url}/predict", json={"inputs": rows(3)}).json()["request_ids"]
    assert _index_rows(any_workspace) == (0, 0)
    answer = httpx.post(f"{server.url}/feedback", json={"request_id": ids[1], "label": 1})
    assert answer.json() == {"accepted": 1, "unknown_request_ids": []}
    assert _index_rows(any_workspace) == (1, 1)
    [label] = any_workspace.store.serving.feedback("clf")
    assert (label.request_id, label.label_json) == (ids[1], "1")
    server.stop()
    log = read_predictions("clf")
    assert list(log["request_id"]) == ids and list(log["label"]) == [None, 1, None]


def test_a_shadow_range_written_after_a_label_joins_it(any_workspace: Any) -> None:
    """A shadow's entry can reach the log after a label for the answer it mirrors."""
    serving = any_workspace.store.serving
    prefix, other = new_request_ids(1)[0][:-1], new_request_ids(1)[0][:-1]
    at = 1_780_000_000_000
    serving.add_range_segment("clf", 1, "2026-06-01", "sha256:" + "0" * 64, [(prefix, 3, at)])
    serving.add_feedback([(prefix + "1", "1")], "tester")
    shadow = [(prefix, 3, at + 5), (other, 2, at + 5)]
    serving.add_range_segment("other", 1, "2026-06-01", "sha256:" + "1" * 64, shadow)
    for model in ("clf", "other"):
        assert [label.request_id for label in serving.feedback(model)] == [prefix + "1"]
    assert _index_rows(any_workspace) == (3, 2)
    # A later write of unrelated ranges indexes no id of its own.
    fresh = new_request_ids(1)[0][:-1]
    serving.add_range_segment("clf", 1, "2026-06-01", "sha256:" + "2" * 64, [(fresh, 4, at)])
    assert _index_rows(any_workspace) == (4, 2)
