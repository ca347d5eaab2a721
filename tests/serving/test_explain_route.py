"""``POST /explain`` on the model server: contributions per feature, bounded in rows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.serving.conftest import FEATURES, rows, training_data


def test_explain_route(champion: Any, start_server: Any) -> None:
    server = start_server("models:/clf@champion")
    body = {"inputs": rows(3)}
    reply = httpx.post(f"{server.url}/explain", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["method"] == "occlusion" and not data["truncated"]
    assert len(data["explanations"]) == 3
    assert set(data["explanations"][0]["contributions"]) == set(FEATURES)
    X, _ = training_data()
    assert data["baseline"]["age"] == pytest.approx(X.head(5)["age"].median())
    predicted = httpx.post(f"{server.url}/predict", json=body, timeout=30).json()
    assert [e["score"] for e in data["explanations"]] == pytest.approx(
        [p[1] for p in predicted["probabilities"]]
    )
    too_many = httpx.post(f"{server.url}/explain", json={"inputs": rows(21)}, timeout=30)
    assert too_many.status_code == 413 and "at most 20 rows" in too_many.text
    bad = httpx.post(f"{server.url}/explain", json={"inputs": [{"age": "old"}]}, timeout=30)
    assert bad.status_code == 400
