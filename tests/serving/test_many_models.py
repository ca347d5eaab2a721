"""Many models in one process: routes by name, lazy loads, the v2 repository API, unloading."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import steward
from steward.errors import InvalidInput
from steward.serving import ServingConfig, read_predictions
from steward.serving.spec import read_models_file
from tests.services import wait_until
from tests.serving.conftest import (
    FEATURES,
    register_model,
    rows,
    serve_process,
    stop_process,
)

# A first request loads its model: allow for a machine busy with other tests.
post = functools.partial(httpx.post, timeout=120)


@pytest.fixture
def two_models(champion: Any) -> Any:
    """``clf`` (champion v1, challenger v2) and ``other`` (champion v1)."""
    challenger = register_model(flip=True)
    steward.models.set_alias("clf", "challenger", challenger.version)
    other = register_model("other", seed=3)
    steward.models.set_alias("other", "champion", other.version)
    return challenger


def _state(server: Any, name: str) -> str:
    return str(httpx.get(f"{server.url}/ready").json()["models"][name]["state"])


def test_each_model_at_its_own_routes_loaded_on_first_request(
    two_models: Any, start_server: Any, tmp_path: Path
) -> None:
    folder = steward.models.bundle("models:/other@champion", tmp_path / "bundle")
    server = start_server(
        ["clf@champion", "other@champion", f"field={folder}"],
        config=ServingConfig(log_flush_interval_s=0.05),
    )
    ready = httpx.get(f"{server.url}/ready").json()
    assert ready["status"] == "ready"
    assert {name: model["state"] for name, model in ready["models"].items()} == {
        "clf": "unloaded", "other": "unloaded", "field": "unloaded",
    }  # fmt: skip
    native = post(f"{server.url}/models/clf/predict", json={"inputs": rows(2)})
    assert native.status_code == 200 and native.json()["model"] == "clf"
    mlflow = post(f"{server.url}/models/other/invocations", json={"inputs": rows(1)})
    assert mlflow.status_code == 200 and "x-request-id" in mlflow.headers
    tensor = {"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [0.1, 0.2, 0.3, 0.4]}
    v2 = post(f"{server.url}/v2/models/field/infer", json={"inputs": [tensor]})
    assert v2.status_code == 200 and v2.json()["model_name"] == "other"
    assert _state(server, "clf") == "ready" and _state(server, "field") == "ready"
    unnamed = post(f"{server.url}/predict", json={"inputs": rows(1)})
    assert unnamed.status_code == 404 and "/models/{name}/predict" in unnamed.text
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'route="/models/{name}/predict",status="200"' in metrics
    assert 'steward_model_loaded{model="field"} 1.0' in metrics
    assert 'steward_model_loaded{model="other"} 1.0' in metrics
    assert 'steward_batch_size_count{model="clf",version="1"}' in metrics
    server.stop()
    assert len(read_predictions("clf")) == 2
    bundle_log = steward.open_workspace(home=folder / "predictions")
    assert len(read_predictions("other", workspace=bundle_log)) == 1  # the bundle's own log
    assert len(read_predictions("other")) == 1  # the registry model's, in the workspace


def test_a_models_file_gives_each_model_its_canary_and_settings(
    two_models: Any, start_server: Any, tmp_path: Path
) -> None:
    models = tmp_path / "models.toml"
    models.write_text(
        "[defaults]\nmax_batch_rows = 8\n\n"
        '[[models]]\nuri = "models:/clf@champion"\ncanary = "models:/clf@challenger:100"\n\n'
        '[[models]]\nname = "second"\nuri = "other@champion"\nmax_queue = 3\n'
    )
    server = start_server([], models_file=models)
    reply = post(f"{server.url}/models/clf/predict", json={"inputs": rows(3)}).json()
    assert reply["versions"] == [2, 2, 2]  # all of it to the canary
    second = post(f"{server.url}/models/second/predict", json={"inputs": rows(1)})
    assert second.json()["model"] == "other"
    specs = {spec.name: spec for spec in read_models_file(models, ServingConfig())}
    assert specs["clf"].config.max_batch_rows == 8 and specs["clf"].canary_share == 1.0
    assert specs["second"].config.max_queue == 3 and specs["second"].canary is None


@pytest.mark.parametrize("suffix", ["toml", "yaml", "json"])
def test_models_files_in_three_formats_read_the_same(
    champion: Any, tmp_path: Path, suffix: str
) -> None:
    texts = {
        "toml": '[[models]]\nname = "a"\nuri = "clf@champion"\nbackend = "native"\n',
        "yaml": "models:\n  - name: a\n    uri: clf@champion\n    backend: native\n",
        "json": json.dumps({"models": [{"name": "a", "uri": "clf@champion", "backend": "native"}]}),
    }
    path = tmp_path / f"models.{suffix}"
    path.write_text(texts[suffix])
    [spec] = read_models_file(path, ServingConfig(backend="onnx"))
    assert spec.name == "a" and spec.source.spec == "models:/clf@champion"
    assert spec.config.backend == "native"


def test_a_models_file_trusts_a_list_of_names_or_everything(champion: Any, tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        '[[models]]\nname = "a"\nuri = "clf@champion"\ntrust = ["numpy.log1p"]\n'
        '[[models]]\nname = "b"\nuri = "clf@champion"\ntrust = true\n'
    )
    specs = {spec.name: spec for spec in read_models_file(path, ServingConfig())}
    assert specs["a"].config.trust == ("numpy.log1p",) and specs["b"].config.trust is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[models]]\nuri = "clf@champion"\nmax_batch = 3\n', "unknown setting"),
        ('[[models]]\nuri = "clf@champion"\nmax_queue = "3"\n', "max_queue must be a int"),
        ('[[models]]\nuri = "clf@champion"\n\n[[models]]\nuri = "clf@champion"\n', "two models"),
        ('[[models]]\nname = "a/b"\nuri = "clf@champion"\n', "cannot be a route"),
        ("models = 3\n", "needs a list"),
        ("[[models]\n", "not valid toml"),
        ('[[models]]\nuri = "clf@champion"\nadmin_token = "x"\n', "unknown setting"),
        ('[[models]]\nuri = "clf@champion"\ntrust = "numpy"\n', "trust must be true/false"),
        ('[[models]]\nuri = "clf@champion"\ntrust = [1]\n', "list of dotted names"),
    ],
)
def test_a_bad_models_file_is_refused(
    champion: Any, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(InvalidInput, match=message):
        read_models_file(path, ServingConfig())


def test_the_v2_repository_api_through_tritonclient(two_models: Any, start_server: Any) -> None:
    http = pytest.importorskip("tritonclient.http")
    server = start_server(["clf@champion", "other@champion"])
    client = http.InferenceServerClient(server.url.removeprefix("http://"))
    index = {entry["name"]: entry for entry in client.get_model_repository_index()}
    assert index["clf"]["state"] == "UNAVAILABLE" and not client.is_model_ready("clf")
    client.load_model("clf")
    assert client.is_model_ready("clf")
    assert {e["name"] for e in client.get_model_repository_index()} == {"clf", "other"}
    client.unload_model("clf")
    assert not client.is_model_ready("clf")
    refused = post(f"{server.url}/models/clf/predict", json={"inputs": rows(1)})
    assert refused.status_code == 503 and "repository/models/clf/load" in refused.text
    client.load_model("clf")
    assert post(f"{server.url}/models/clf/predict", json={"inputs": rows(1)}).is_success
    proxied = post(
        f"{server.url}/v2/repository/models/clf/unload", headers={"X-Forwarded-For": "1.2.3.4"}
    )
    assert proxied.status_code == 403 and isinstance(proxied.json()["error"], str)
    metadata = client.get_model_metadata("other")  # read without loading the model
    assert [tensor["name"] for tensor in metadata["inputs"]] == FEATURES
    assert not client.is_model_ready("other")


def test_idle_models_unload_and_come_back(two_models: Any, start_server: Any) -> None:
    server = start_server(
        ["clf@champion", "other@champion"], config=ServingConfig(idle_unload_s=0.5)
    )
    assert post(f"{server.url}/models/clf/predict", json={"inputs": rows(1)}).is_success
    assert wait_until(lambda: _state(server, "clf") == "unloaded", 15)
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'steward_model_unloads_total{model="clf",reason="idle"} 1.0' in metrics
    assert post(f"{server.url}/models/clf/predict", json={"inputs": rows(1)}).is_success


def test_a_memory_budget_unloads_the_least_recently_used(
    two_models: Any, start_server: Any
) -> None:
    # A budget no process fits: each load unloads every other model, oldest first.
    server = start_server(
        ["clf@champion", "other@champion"], config=ServingConfig(max_memory_bytes=1)
    )
    assert post(f"{server.url}/models/clf/predict", json={"inputs": rows(1)}).is_success
    assert post(f"{server.url}/models/other/predict", json={"inputs": rows(1)}).is_success
    assert _state(server, "clf") == "unloaded" and _state(server, "other") == "ready"
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'steward_model_unloads_total{model="clf",reason="memory"} 1.0' in metrics
    assert "steward_model_resident_bytes" in metrics


def test_steward_serve_many_models_in_one_process(two_models: Any, workspace: Any) -> None:
    home = Path(workspace.settings.home)
    process, url = serve_process(["clf@champion", "second=other@champion"], home)
    try:
        for name in ("clf", "second"):
            reply = post(  # the first request loads the model: allow for a busy machine
                f"{url}/models/{name}/invocations", json={"inputs": rows(1)}, timeout=120
            )
            assert reply.status_code == 200, reply.text
        ready = httpx.get(f"{url}/ready").json()["models"]
        assert ready["second"]["model"] == "other" and ready["clf"]["version"] == 1
    finally:
        stop_process(process)
    assert len(read_predictions("other")) == 1


def test_an_unload_waits_for_the_requests_using_the_model(
    workspace: Any, start_server: Any
) -> None:
    import threading

    from tests.serving.conftest import register_slow_model

    register_slow_model(delay=0.5)
    server = start_server(["models:/slow/1"], config=ServingConfig(max_batch_rows=1))
    assert post(f"{server.url}/models/slow/predict", json={"inputs": rows(1)}).is_success
    replies: list[int] = []

    def call() -> None:
        reply = post(f"{server.url}/models/slow/predict", json={"inputs": rows(1)}, timeout=30)
        replies.append(reply.status_code)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    wait_until(lambda: "steward_model_requests_in_flight{model=\"slow\"} 3.0" in httpx.get(
        f"{server.url}/metrics").text, 10)  # fmt: skip
    unload = post(f"{server.url}/v2/repository/models/slow/unload", timeout=30)
    for thread in threads:
        thread.join()
    assert unload.status_code == 200 and replies == [200, 200, 200]
    after = post(f"{server.url}/models/slow/predict", json={"inputs": rows(1)})
    assert after.status_code == 503 and "load" in after.json()["error"]["message"]
