"""Standard clients against a real server: tritonclient (JSON and binary), MLflow-style calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import steward
from steward.serving import read_predictions
from tests.serving.conftest import FEATURES, rows, serve_process, stop_process

http = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402


@pytest.fixture
def server(champion: Any, start_server: Any) -> Any:
    return start_server("models:/clf@champion")


def _client(server: Any) -> Any:
    return http.InferenceServerClient(server.url.removeprefix("http://"))


def _matrix(count: int) -> np.ndarray:
    return np.asarray([[row[name] for name in FEATURES] for row in rows(count)], dtype="float64")


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_infers_in_json_and_binary(server: Any, champion: Any, binary: bool) -> None:
    matrix = _matrix(5)
    tensor = http.InferInput("input-0", list(matrix.shape), "FP64")
    tensor.set_data_from_numpy(matrix, binary_data=binary)
    outputs = [
        http.InferRequestedOutput("predict", binary_data=binary),
        http.InferRequestedOutput("predict_proba", binary_data=binary),
    ]
    client = _client(server)
    result = client.infer("clf", [tensor], outputs=outputs, request_id="req-1")
    expected = steward.models.load("models:/clf@champion")
    np.testing.assert_array_equal(result.as_numpy("predict"), expected.predict(matrix))
    np.testing.assert_allclose(result.as_numpy("predict_proba"), expected.predict_proba(matrix))
    response = result.get_response()
    assert response["id"] == "req-1" and response["model_version"] == "1"
    assert len(response["parameters"]["request_ids"]) == 5
    sent_binary = [o for o in response["outputs"] if "binary_data_size" in o.get("parameters", {})]
    assert len(sent_binary) == (2 if binary else 0)


def test_tritonclient_default_asks_every_output_in_binary(server: Any) -> None:
    matrix = _matrix(3)
    tensor = http.InferInput("input-0", list(matrix.shape), "FP64")
    tensor.set_data_from_numpy(matrix)
    result = _client(server).infer("clf", [tensor])  # no outputs named: binary_data_output
    assert result.as_numpy("predict").shape == (3,)
    assert result.as_numpy("predict_proba").shape == (3, 2)


def test_tritonclient_reads_errors_and_health(server: Any) -> None:
    client = _client(server)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("clf") and not client.is_model_ready("nope")
    metadata = client.get_model_metadata("clf")
    assert [tensor["name"] for tensor in metadata["inputs"]] == FEATURES
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    wrong = http.InferInput("input-0", [1, 3], "FP64")
    wrong.set_data_from_numpy(np.zeros((1, 3)), binary_data=True)
    with pytest.raises(InferenceServerException) as refused:
        client.infer("clf", [wrong])
    assert refused.value.status() == "400"
    assert "4 in the order" in refused.value.message()  # a plain message, printable
    with pytest.raises(InferenceServerException) as unknown:
        client.infer("nope", [wrong])
    assert unknown.value.status() == "404" and "clf" in unknown.value.message()


def test_bytes_tensors_in_and_out_in_binary(workspace: Any, start_server: Any) -> None:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"age": rng.normal(size=200), "region": rng.choice(["north", "süd", "east"], size=200)}
    )
    labels = np.where((frame["region"] == "north") | (frame["age"] > 1), "refer", "home")
    model = make_pipeline(
        ColumnTransformer(
            [("region", OneHotEncoder(handle_unknown="ignore"), ["region"])],
            remainder="passthrough",
        ),
        LogisticRegression(),
    ).fit(frame, labels)
    with steward.start_run():
        steward.models.log(model, input_example=frame.head(3), register="triage")
    server = start_server("models:/triage/1")
    sample = frame.head(6)
    region = http.InferInput("region", [6], "BYTES")
    region.set_data_from_numpy(sample["region"].to_numpy(dtype=object), binary_data=True)
    age = http.InferInput("age", [6], "FP64")
    age.set_data_from_numpy(sample["age"].to_numpy(), binary_data=True)
    result = _client(server).infer(
        "triage", [age, region], outputs=[http.InferRequestedOutput("predict")]
    )
    answered = [value.decode() for value in result.as_numpy("predict")]
    assert answered == list(model.predict(sample))


def test_mlflow_style_call_then_feedback_reaches_the_log(champion: Any, workspace: Any) -> None:
    """README's flow from a client that speaks only MLflow's protocol."""
    process, url = serve_process(["models:/clf@champion"], Path(workspace.settings.home))
    try:
        values = [[row[name] for name in FEATURES] for row in rows(1)]
        reply = httpx.post(
            f"{url}/invocations",
            json={"dataframe_split": {"columns": FEATURES, "data": values}},
        )
        assert reply.status_code == 200 and set(reply.json()) == {"predictions"}
        request_id = reply.headers["x-request-id"]
        batch = httpx.post(f"{url}/invocations?request_ids=true", json={"instances": values * 3})
        assert batch.json()["request_ids"] == batch.headers["x-request-id"].split(",")
        feedback = httpx.post(f"{url}/feedback", json={"request_id": request_id, "label": 1})
        assert feedback.json() == {"accepted": 1, "unknown_request_ids": []}
    finally:
        stop_process(process)
    log = read_predictions("clf")
    assert log.set_index("request_id").loc[request_id, "label"] == 1


def test_short_name_at_alias_is_served(champion: Any, workspace: Any) -> None:
    process, url = serve_process(["clf@champion"], Path(workspace.settings.home))
    try:
        reply = httpx.post(f"{url}/predict", json={"inputs": rows(1)}).json()
        assert reply["model"] == "clf" and reply["version"] == 1
    finally:
        stop_process(process)


def test_gzip_bodies_are_read_within_the_limit(champion: Any, start_server: Any) -> None:
    import gzip
    import json

    from steward.serving import ServingConfig

    server = start_server("models:/clf@champion", config=ServingConfig(max_body_bytes=64 * 1024))
    body = gzip.compress(json.dumps({"instances": _matrix(2).tolist()}).encode())
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    assert httpx.post(f"{server.url}/invocations", content=body, headers=headers).status_code == 200
    bomb = gzip.compress(b" " * (10 * 1024 * 1024))  # 10 MB of spaces in 10 KB
    refused = httpx.post(f"{server.url}/invocations", content=bomb, headers=headers)
    assert refused.status_code == 413
