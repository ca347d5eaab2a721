"""``steward serve`` as a real process: SIGTERM flushes the log; bundles serve without a store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from steward.serving import read_predictions
from tests.services import free_port, wait_until
from tests.serving.conftest import rows


def _serve(args: list[str], env_home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "STEWARD_HOME": str(env_home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "steward.cli", "serve", *args, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    if not wait_until(ready, timeout=60):
        process.kill()
        raise AssertionError(process.communicate()[0].decode()[-3000:])
    return process, url


def test_sigterm_flushes_every_acknowledged_prediction(champion: Any, workspace: Any) -> None:
    started = time.monotonic()
    process, url = _serve(["models:/clf@champion"], Path(workspace.settings.home))
    startup = time.monotonic() - started
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
    assert startup < 30


def test_bundle_serves_without_a_store(champion: Any, workspace: Any, tmp_path: Path) -> None:
    import steward

    folder = steward.models.bundle("models:/clf@champion", tmp_path / "bundle")
    process, url = _serve([str(folder)], tmp_path / "no-store-here")
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
