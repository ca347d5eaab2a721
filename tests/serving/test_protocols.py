"""The three protocols and the probes, against a real server on loopback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.serving.conftest import FEATURES, rows


@pytest.fixture
def server(champion: Any, start_server: Any) -> Any:
    return start_server("models:/clf@champion")


def test_native_records_and_columns_agree(server: Any) -> None:
    records = rows(3)
    by_records = httpx.post(f"{server.url}/predict", json={"inputs": records}).json()
    columns = {name: [row[name] for row in records] for name in FEATURES}
    by_columns = httpx.post(f"{server.url}/predict", json={"columns": columns}).json()
    assert by_records["predictions"] == by_columns["predictions"]
    assert by_records["model"] == "clf" and by_records["version"] == 1
    assert len(by_records["request_ids"]) == 3
    assert len(set(by_records["request_ids"] + by_columns["request_ids"])) == 6
    assert len(by_records["probabilities"]) == 3 and by_records["classes"] == [0, 1]
    assert all(abs(sum(p) - 1) < 1e-9 for p in by_records["probabilities"])


def test_native_predictions_match_the_model(server: Any, champion: Any) -> None:
    import pandas as pd

    import steward

    records = rows(20)
    expected = steward.models.load("models:/clf@champion").predict(pd.DataFrame(records))
    reply = httpx.post(f"{server.url}/predict", json={"inputs": records}).json()
    assert reply["predictions"] == expected.tolist()


def test_mlflow_formats(server: Any) -> None:
    records = rows(2)
    values = [[row[name] for name in FEATURES] for row in records]
    bodies = [
        {"dataframe_split": {"columns": FEATURES, "data": values}},
        {"dataframe_records": records},
        {"instances": records},
        {"instances": values},
        {"inputs": {name: [row[name] for row in records] for name in FEATURES}},
        {"inputs": records, "params": {}},
    ]
    answers = []
    for body in bodies:
        reply = httpx.post(f"{server.url}/invocations", json=body)
        assert reply.status_code == 200, reply.text
        assert set(reply.json()) == {"predictions"}
        answers.append(reply.json()["predictions"])
    assert all(answer == answers[0] for answer in answers)


def test_v2_column_tensors_and_one_matrix_agree(server: Any) -> None:
    records = rows(3)
    columns = [
        {"name": name, "shape": [3], "datatype": "FP64", "data": [row[name] for row in records]}
        for name in FEATURES
    ]
    matrix = [
        {
            "name": "input-0",
            "shape": [3, 4],
            "datatype": "FP64",
            "data": [[row[name] for name in FEATURES] for row in records],
        }
    ]
    first = httpx.post(f"{server.url}/v2/models/clf/infer", json={"id": "a", "inputs": columns})
    second = httpx.post(f"{server.url}/v2/models/clf/infer", json={"inputs": matrix})
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json()["id"] == "a"
    outputs = {output["name"]: output for output in first.json()["outputs"]}
    assert outputs["predict"]["shape"] == [3]
    assert outputs["predict_proba"]["shape"] == [3, 2]
    assert outputs["predict"]["data"] == second.json()["outputs"][0]["data"]
    assert first.json()["model_name"] == "clf" and first.json()["model_version"] == "1"


def test_v2_metadata_and_health(server: Any) -> None:
    assert httpx.get(f"{server.url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{server.url}/v2/health/ready").json() == {"ready": True}
    meta = httpx.get(f"{server.url}/v2/models/clf").json()
    assert [spec["name"] for spec in meta["inputs"]] == FEATURES
    assert meta["inputs"][0]["datatype"] == "FP64"
    assert httpx.get(f"{server.url}/v2/models/clf/ready").status_code == 200
    assert httpx.get(f"{server.url}/v2/models/other").status_code == 404


def test_probes_and_metrics(server: Any) -> None:
    assert httpx.get(f"{server.url}/openapi.json").status_code == 200
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/ready").json()
    assert ready["status"] == "ready" and ready["version"] == 1
    httpx.post(f"{server.url}/predict", json={"inputs": rows(1)})
    text = httpx.get(f"{server.url}/metrics").text
    assert (
        'steward_requests_total{model="clf",model_version="1",route="/predict",status="200"}'
        in text
    )
    assert 'steward_model_loaded{model="clf"} 1.0' in text
    assert "process_resident_memory_bytes" in text
    assert "steward_request_duration_seconds_bucket" in text
    assert "steward_batch_size_bucket" in text
    assert "steward_prediction_log_queue_depth" in text


def test_request_ids_and_the_callers_id_come_back_in_headers(server: Any) -> None:
    reply = httpx.post(
        f"{server.url}/predict", json={"inputs": rows(2)}, headers={"X-Request-ID": "trace-42"}
    )
    assert reply.headers["x-correlation-id"] == "trace-42"
    assert reply.headers["x-request-id"].split(",") == reply.json()["request_ids"]


@pytest.mark.parametrize("backend", ["native", "onnx"])
def test_rows_mixing_integers_and_floats_follow_each_columns_type(
    workspace: Any, start_server: Any, backend: str
) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    import steward
    from steward.serving import ServingConfig
    from steward.serving.protocols import numeric_array

    X = pd.DataFrame({"dose": [0.5, 1.5, 2.5, 3.0], "visits": [1, 2, 3, 5]})
    model = LinearRegression().fit(X, X["dose"] + X["visits"])
    with steward.start_run():
        info = steward.models.log(model, input_example=X.head(2), register="mixed", onnx=True)
    server = start_server("models:/mixed/1", config=ServingConfig(backend=backend))
    # One float and one integer column: as one array the integers would turn into floats.
    reply = httpx.post(f"{server.url}/invocations", json={"instances": [[1.5, 2], [0.25, 4]]})
    assert reply.status_code == 200, reply.text
    np.testing.assert_allclose(reply.json()["predictions"], [3.5, 4.25], atol=1e-6)
    refused = httpx.post(f"{server.url}/invocations", json={"instances": [[1.5, 2.5]]})
    assert refused.status_code == 400 and "'visits'" in refused.json()["error"]["message"]
    assert numeric_array([[1.0, 2.0]], None) is None  # no signature: the model gets a frame
    assert numeric_array([[1.0, 2]], info.metadata.signature) is None
