"""Canary split (sticky per entity), shadow, and hot reload when an alias moves."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

import steward
from steward.serving import ServingConfig, read_predictions
from steward.serving.routing import sticky_share
from tests.services import wait_until
from tests.serving.conftest import register_model, rows


@pytest.fixture
def challenger(champion: Any) -> Any:
    version = register_model(flip=True)
    steward.models.set_alias("clf", "challenger", version.version)
    return version


def test_sticky_share_is_stable_and_uniform() -> None:
    shares = [sticky_share(f"patient-{i}") for i in range(4000)]
    assert sticky_share("patient-1") == shares[1]
    assert 0.08 < sum(share < 0.1 for share in shares) / len(shares) < 0.12


def test_canary_takes_its_share_sticky_per_entity(challenger: Any, start_server: Any) -> None:
    server = start_server("models:/clf@champion", canary="models:/clf@challenger:10")
    row = rows(1)
    versions: dict[str, int] = {}
    with httpx.Client() as client:
        for i in range(400):
            reply = client.post(
                f"{server.url}/predict", json={"inputs": row, "entity_ids": [f"p{i}"]}
            ).json()
            versions[f"p{i}"] = reply["versions"][0]
        share = sum(version == 2 for version in versions.values()) / len(versions)
        assert 0.05 <= share <= 0.16, share
        for i in range(0, 400, 7):
            reply = client.post(
                f"{server.url}/invocations",
                json={"instances": row},
                headers={"X-Entity-ID": f"p{i}"},
            )
            assert reply.status_code == 200
            again = client.post(
                f"{server.url}/predict", json={"inputs": row, "entity_ids": [f"p{i}"]}
            ).json()
            assert again["versions"][0] == versions[f"p{i}"]
    server.stop()
    log = read_predictions("clf")
    assert set(log["route"]) == {"primary", "canary"}
    assert set(log[log["route"] == "canary"]["version"]) == {2}


def test_canary_without_entity_ids_splits_at_random(challenger: Any, start_server: Any) -> None:
    server = start_server("models:/clf@champion", canary="models:/clf@challenger:50")
    with httpx.Client() as client:
        versions = {
            client.post(f"{server.url}/predict", json={"inputs": rows(1)}).json()["version"]
            for _ in range(60)
        }
    assert versions == {1, 2}


def test_shadow_runs_on_every_request_but_only_the_primary_answers(
    challenger: Any, start_server: Any
) -> None:
    server = start_server("models:/clf@champion", shadow="models:/clf@challenger")
    records = rows(5)
    reply = httpx.post(f"{server.url}/predict", json={"inputs": records}).json()
    assert reply["versions"] == [1] * 5
    server.stop()
    log = read_predictions("clf")
    primary = log[log["route"] == "primary"]
    shadow = log[log["route"] == "shadow"]
    assert list(primary["request_id"]) == reply["request_ids"]
    assert sorted(shadow["request_id"]) == sorted(reply["request_ids"])
    assert set(shadow["version"]) == {2}
    # The challenger was trained on flipped labels: it disagrees everywhere.
    by_id = dict(zip(shadow["request_id"], shadow["prediction"], strict=True))
    assert all(
        by_id[rid] != p for rid, p in zip(reply["request_ids"], reply["predictions"], strict=True)
    )


def test_hot_reload_moves_to_the_new_version_without_failed_requests(
    champion: Any, start_server: Any
) -> None:
    server = start_server("models:/clf@champion", config=ServingConfig(reload_interval_s=0))
    new = register_model(flip=True)
    failures: list[int] = []
    seen: set[int] = set()
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client() as client:
            while not stop.is_set():
                reply = client.post(f"{server.url}/predict", json={"inputs": rows(1)})
                if reply.status_code != 200:
                    failures.append(reply.status_code)
                else:
                    seen.add(reply.json()["version"])

    threads = [threading.Thread(target=traffic) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        steward.models.set_alias("clf", "champion", new.version)
        reload = httpx.post(f"{server.url}/admin/reload", timeout=30).json()
        assert reload == {"changed": {"primary": 2}, "version": 2}
        after = httpx.post(f"{server.url}/predict", json={"inputs": rows(1)}).json()
        assert after["version"] == 2
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert seen == {1, 2}
    assert httpx.get(f"{server.url}/ready").json()["version"] == 2


def test_reload_by_polling(champion: Any, start_server: Any) -> None:
    from tests.services import wait_until

    server = start_server("models:/clf@champion", config=ServingConfig(reload_interval_s=0.2))
    new = register_model(flip=True)
    steward.models.set_alias("clf", "champion", new.version)
    assert wait_until(lambda: httpx.get(f"{server.url}/ready").json()["version"] == 2, 15)


def test_admin_token(champion: Any, start_server: Any) -> None:
    server = start_server("models:/clf@champion", config=ServingConfig(admin_token="s3cret"))
    assert httpx.post(f"{server.url}/admin/reload").status_code == 401
    ok = httpx.post(f"{server.url}/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["changed"] == {}


def test_admin_routes_take_the_workspaces_admin_tokens(
    workspace: Any, champion: Any, start_server: Any
) -> None:
    auth = workspace.store.auth
    auth.create_user("ops", "admin", "tests")
    auth.create_user("ann", "editor", "tests")
    admin = auth.create_token("ops", "ops laptop", "tests")
    editor = auth.create_token("ann", "ann laptop", "tests")
    server = start_server("models:/clf@champion", config=ServingConfig(admin_token="s3cret"))

    def reload(secret: str) -> int:
        headers = {"Authorization": f"Bearer {secret}"}
        return httpx.post(f"{server.url}/admin/reload", headers=headers).status_code

    assert reload(admin.secret) == 200
    assert reload(editor.secret) == 403  # a valid token, but not an admin's
    assert reload("stw_unknown") == 401
    auth.revoke_token(admin.token.id, "tests")
    assert reload(admin.secret) == 401  # revoked in the workspace: refused here at once
    assert reload("s3cret") == 200  # the server's own admin token still works


def test_array_rows_reach_a_canary_and_shadow_in_their_own_column_order(
    workspace: Any, start_server: Any
) -> None:
    """Rows of numbers are read in the primary's column order; other versions get them by name."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50) * 10})
    for name, columns, onnx in [("ab", ["a", "b"], True), ("ba", ["b", "a"], True),
                                ("ba-native", ["b", "a"], False)]:  # fmt: skip
        model = LinearRegression().fit(X[columns], X["a"])  # predicts column a
        with steward.start_run():
            steward.models.log(model, input_example=X[columns].head(3), register=name, onnx=onnx)
    config = ServingConfig(backend="onnx", log_flush_interval_s=0.05)
    canary = start_server("models:/ab/1", canary="models:/ba/1:100", config=config)
    shadow = start_server("models:/ab/1", shadow="models:/ba-native/1")
    rows = [[1.5, 20.0], [-2.0, 7.0]]
    for server in (canary, shadow):
        reply = httpx.post(f"{server.url}/invocations", json={"instances": rows}).json()
        np.testing.assert_allclose(reply["predictions"], [1.5, -2.0], atol=1e-6)
    assert wait_until(lambda: len(read_predictions("ba-native")) == 2)
    shadowed = read_predictions("ba-native")
    np.testing.assert_allclose(sorted(shadowed["prediction"]), [-2.0, 1.5], atol=1e-6)
    logged = read_predictions("ab")  # the canary logged under its own name: "ba"
    assert wait_until(lambda: len(read_predictions("ba")) == 2)
    by_name = read_predictions("ba")
    assert sorted(by_name["input.a"]) == [-2.0, 1.5] and sorted(by_name["input.b"]) == [7.0, 20.0]
    assert len(logged) == 2  # the shadow server's primary
