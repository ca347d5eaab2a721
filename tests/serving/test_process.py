"""``steward serve`` as a real process: SIGTERM flushes the log; bundles serve without a store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from steward.serving import read_predictions
from tests.serving.conftest import rows, serve_process, training_data


def test_sigterm_flushes_every_acknowledged_prediction(champion: Any, workspace: Any) -> None:
    process, url = serve_process(["models:/clf@champion"], Path(workspace.settings.home))
    ids: list[str] = []
    with httpx.Client() as client:
        for index in range(40):
            reply = client.post(f"{url}/predict", json={"inputs": rows(1, seed=index)})
            assert reply.status_code == 200
            ids.extend(reply.json()["request_ids"])
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises SIGTERM to the default handler.
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert sorted(read_predictions("clf")["request_id"]) == sorted(ids)


def test_bundle_serves_without_a_store(champion: Any, workspace: Any, tmp_path: Path) -> None:
    import steward

    folder = steward.models.bundle("models:/clf@champion", tmp_path / "bundle")
    process, url = serve_process([str(folder)], tmp_path / "no-store-here")
    try:
        reply = httpx.post(f"{url}/predict", json={"inputs": rows(2)}).json()
        assert reply["model"] == "clf" and reply["version"] == 1
        assert (
            httpx.post(
                f"{url}/feedback", json={"request_id": reply["request_ids"][0], "label": 1}
            ).json()["accepted"]
            == 1
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    log_store = steward.open_workspace(home=folder / "predictions")
    log = read_predictions("clf", workspace=log_store)
    assert list(log["request_id"]) == reply["request_ids"]
    assert log["label"].iloc[0] == 1
    assert not (tmp_path / "no-store-here").exists()


NUMERIC_SERVER = """
import sys
import httpx
from steward.serving import ServingConfig
from steward.serving.app import create_app
from steward.serving.server import BackgroundServer

config = ServingConfig(backend="onnx", log_flush_interval_s=0.05)
server = BackgroundServer(create_app("models:/numeric/1", config=config)).start()
server.wait_ready()
ready = 'pandas' in sys.modules
with httpx.Client(base_url=server.url) as client:
    for index in range(20):
        row = [0.1 * index, -0.2, 0.3, 1.0 + index]
        assert client.post("/invocations", json={"instances": [row]}).status_code == 200
    tensor = {"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [0.5] * 8}
    reply = client.post("/v2/models/numeric/infer", json={"inputs": [tensor]})
    assert reply.status_code == 200, reply.text
    refused = client.post("/invocations", content=b'{"instances": [[NaN, 1, 2, 3]]}',
                          headers={"content-type": "application/json"})
    assert refused.status_code == 400, refused.text
    assert "'age'" in refused.json()["error"]["message"]
server.stop()
print("pandas loaded:", ready, 'pandas' in sys.modules)
"""


def test_numeric_model_is_served_and_logged_without_pandas(workspace: Any) -> None:
    from sklearn.ensemble import RandomForestClassifier

    import steward

    X, y = training_data()
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    with steward.start_run():
        steward.models.log(model, input_example=X.head(5), register="numeric", onnx=True)
    env = {**os.environ, "STEWARD_HOME": str(workspace.settings.home)}
    done = subprocess.run(
        [sys.executable, "-c", NUMERIC_SERVER], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pandas loaded: False False" in done.stdout, done.stdout
    logged = read_predictions("numeric")
    assert len(logged) == 22
    assert [c for c in logged.columns if c.startswith("input.")] == [
        "input.age", "input.dose", "input.weight", "input.score",
    ]  # fmt: skip
    assert sorted(logged["input.score"].head(20)) == [1.0 + i for i in range(20)]
    assert logged["prediction"].dtype.kind == "i"
    by_protocol = logged.groupby("protocol")["probabilities"].apply(list).to_dict()
    assert all(len(p) == 2 and abs(sum(p) - 1) < 1e-6 for p in by_protocol["v2"])
    assert len(by_protocol["mlflow"]) == 20
