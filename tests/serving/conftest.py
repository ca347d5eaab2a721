"""Fixtures for serving tests: small registered models and real servers on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from steward.models import PythonModel

FEATURES = ["age", "dose", "weight", "score"]


def training_data(rows: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Four float features and a binary target."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    y = (X["age"] + X["dose"] > 0).astype(int).to_numpy()
    return X, y


def register_model(name: str = "clf", *, flip: bool = False, seed: int = 0) -> Any:
    """Train a small forest, log and register it; ``flip`` inverts its labels (a 'new' model)."""
    from sklearn.ensemble import RandomForestClassifier

    import steward

    X, y = training_data(seed=seed)
    if flip:
        y = 1 - y
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=seed).fit(X, y)
    with steward.start_run():
        info = steward.models.log(model, input_example=X.head(5), register=name)
    return info.version


def rows(count: int = 1, seed: int = 1) -> list[dict[str, float]]:
    """Request rows as records."""
    X, _ = training_data(rows=max(count, 1), seed=seed)
    return X.head(count).to_dict(orient="records")  # type: ignore[no-any-return]


@pytest.fixture
def champion(workspace: Any) -> Any:
    """A registered classifier with alias ``champion`` in a fresh workspace."""
    import steward

    version = register_model()
    steward.models.set_alias("clf", "champion", version.version)
    return version


@pytest.fixture
def start_server() -> Iterator[Callable[..., Any]]:
    """Start a serving app in a thread; every server started is stopped at the end."""
    from steward.serving.app import create_app
    from steward.serving.server import BackgroundServer

    started: list[BackgroundServer] = []

    def start(model: str, **options: Any) -> BackgroundServer:
        server = BackgroundServer(create_app(model, **options)).start()
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


def serve_process(
    args: list[str], home: Path, *, port: int | None = None, timeout: float = 180
) -> tuple[subprocess.Popen[bytes], str]:
    """``steward serve ARGS`` as its own process; returns once ``/ready`` answers 200."""
    import httpx

    from tests.services import free_port, wait_until

    port = port or free_port()
    env = {**os.environ, "STEWARD_HOME": str(home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "steward.cli", "serve", *args, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            return True
        try:
            return httpx.get(f"{url}/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    if not wait_until(ready, timeout=timeout) or process.poll() is not None:
        process.kill()
        raise AssertionError(process.communicate()[0].decode()[-3000:])
    return process, url


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and wait for the clean shutdown (the prediction log is flushed)."""
    import signal

    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def serve_command(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    """``steward serve ARGS`` expected to stop by itself (a model it cannot serve)."""
    env = {**os.environ, "STEWARD_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "steward.cli", "serve", *args, "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


class SlowModel(PythonModel):
    """Sleeps ``delay`` seconds per call (to hold requests), then predicts the first column."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def predict(self, model_input: Any) -> Any:
        import time

        time.sleep(self.delay)
        return np.asarray(model_input, dtype=float)[:, 0]


def register_slow_model(name: str = "slow", delay: float = 0.5) -> Any:
    """Register a ``SlowModel`` over the usual four features."""
    import steward

    X, _ = training_data(rows=5)
    with steward.start_run():
        return steward.models.log(SlowModel(delay), input_example=X, register=name).version
