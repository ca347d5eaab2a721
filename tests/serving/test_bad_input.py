"""Bad input gets a small JSON 4xx that never echoes the input, and the server keeps serving."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from steward.serving import ServingConfig
from tests.serving.conftest import FEATURES, rows

MARKER = "ECHO-MARKER-7f3a"
GOOD = {"inputs": rows(1)}


@pytest.fixture
def server(champion: Any, start_server: Any) -> Any:
    config = ServingConfig(max_body_bytes=1024 * 1024, max_rows=100)
    return start_server("models:/clf@champion", config=config)


def _row(**changes: Any) -> dict[str, Any]:
    row = dict(rows(1)[0])
    row.update(changes)
    return row


def _matrix(shape: list[int], count: int) -> dict[str, Any]:
    tensor = {"name": "input-0", "shape": shape, "datatype": "FP64", "data": [0.5] * count}
    return {"inputs": [tensor]}


CASES: dict[str, tuple[str, bytes | str, str, int]] = {
    "malformed json": ("/predict", '{"inputs": [' + MARKER, "application/json", 400),
    "wrong content type": ("/predict", json.dumps(GOOD), "text/plain", 415),
    "form content type": ("/invocations", "a=" + MARKER, "application/x-www-form-urlencoded", 415),
    "not an object": ("/predict", json.dumps([MARKER]), "application/json", 400),
    "missing column": (
        "/predict",
        json.dumps({"inputs": [{k: v for k, v in _row().items() if k != "age"}]}),
        "application/json",
        400,
    ),
    "extra column": (
        "/predict", json.dumps({"inputs": [_row(extra_col=1)]}), "application/json", 400
    ),
    "misnamed column": (
        "/invocations",
        json.dumps({"dataframe_split": {"columns": ["Age", *FEATURES[1:]], "data": [[1] * 4]}}),
        "application/json",
        400,
    ),
    "wrong type": ("/predict", json.dumps({"inputs": [_row(age=MARKER)]}), "application/json", 400),
    "nested value": ("/predict", json.dumps({"inputs": [_row(age=[1, 2])]}), "application/json",
                     400),
    "null in required column": (
        "/predict", json.dumps({"inputs": [_row(age=None)]}), "application/json", 400
    ),
    "nan": ("/predict", '{"inputs": [{"age": NaN, "dose": 1, "weight": 1, "score": 1}]}',
            "application/json", 400),
    "infinity": ("/invocations",
                 '{"dataframe_records": [{"age": Infinity, "dose": 1, "weight": 1, "score": 1}]}',
                 "application/json", 400),
    "empty body": ("/predict", b"", "application/json", 400),
    "empty input": ("/predict", json.dumps({"inputs": []}), "application/json", 400),
    "empty columns": ("/predict", json.dumps({"columns": {}}), "application/json", 400),
    "two formats": ("/invocations", json.dumps({"instances": [], "inputs": []}),
                    "application/json", 400),
    "too many rows": ("/predict", json.dumps({"inputs": rows(1) * 101}), "application/json", 413),
    "v2 shape mismatch": ("/v2/models/clf/infer", json.dumps(_matrix([2, 4], 7)),
                          "application/json", 400),
    "v2 wrong width": ("/v2/models/clf/infer", json.dumps(_matrix([1, 5], 5)),
                       "application/json", 400),
    "v2 bad datatype": ("/v2/models/clf/infer",
                        json.dumps({"inputs": [{"name": "a", "shape": [1], "datatype": MARKER,
                                                "data": [1]}]}),
                        "application/json", 400),
    "v2 unknown model": ("/v2/models/" + MARKER + "/infer", json.dumps(_matrix([1, 4], 4)),
                         "application/json", 404),
    "feedback without label": ("/feedback", json.dumps({"request_id": MARKER}),
                               "application/json", 400),
}  # fmt: skip


def _check_error(reply: httpx.Response, status: int) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    assert len(reply.content) < 4096
    assert MARKER not in reply.text
    body = reply.json()
    assert set(body) == {"error"}
    if reply.url.path.startswith("/v2"):  # the Open Inference Protocol's shape
        assert isinstance(body["error"], str) and body["error"]
    else:
        assert body["error"]["message"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gets_a_clear_4xx(server: Any, case: str) -> None:
    path, body, content_type, status = CASES[case]
    reply = httpx.post(f"{server.url}{path}", content=body, headers={"content-type": content_type})
    _check_error(reply, status)
    assert httpx.post(f"{server.url}/predict", json=GOOD).status_code == 200


def test_oversized_body_is_refused_from_its_length(server: Any) -> None:
    body = json.dumps({"inputs": [_row(note=MARKER * 100_000)]})
    assert len(body) > 1024 * 1024
    reply = httpx.post(
        f"{server.url}/predict", content=body, headers={"content-type": "application/json"}
    )
    _check_error(reply, 413)
    assert httpx.post(f"{server.url}/predict", json=GOOD).status_code == 200


def test_oversized_streamed_body_is_refused_while_reading(server: Any) -> None:
    def chunks() -> Any:
        yield b'{"inputs": [{"note": "'
        for _ in range(64):
            yield MARKER.encode() * 4096
        yield b'"}]}'

    reply = httpx.post(
        f"{server.url}/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    _check_error(reply, 413)
    assert httpx.post(f"{server.url}/predict", json=GOOD).status_code == 200


def test_unknown_route_and_method(server: Any) -> None:
    assert httpx.get(f"{server.url}/{MARKER}").status_code == 404
    reply = httpx.get(f"{server.url}/predict")
    assert reply.status_code == 405 and MARKER not in reply.text


def test_error_metrics_are_counted(server: Any) -> None:
    httpx.post(f"{server.url}/predict", content=b"{", headers={"content-type": "application/json"})
    text = httpx.get(f"{server.url}/metrics").text
    assert 'route="/predict",status="400"' in text
