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


def test_each_of_several_models_explains_at_its_own_route(champion: Any, start_server: Any) -> None:
    import steward
    from tests.serving.conftest import register_model

    other = register_model("other", seed=3)
    steward.models.set_alias("other", "champion", other.version)
    server = start_server(["clf@champion", "other@champion"])
    body = {"inputs": rows(2)}
    unnamed = httpx.post(f"{server.url}/explain", json=body, timeout=30)
    assert unnamed.status_code == 404 and "name one" in unnamed.text
    for name in ("clf", "other"):
        reply = httpx.post(f"{server.url}/models/{name}/explain", json=body, timeout=30)
        assert reply.status_code == 200, reply.text
        assert reply.json()["model"] == name and len(reply.json()["explanations"]) == 2
        predicted = httpx.post(f"{server.url}/models/{name}/predict", json=body).json()
        assert [e["score"] for e in reply.json()["explanations"]] == pytest.approx(
            [p[1] for p in predicted["probabilities"]]
        )
    missing = httpx.post(f"{server.url}/models/nosuch/explain", json=body, timeout=30)
    assert missing.status_code == 404
