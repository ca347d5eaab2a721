"""Steps and pipelines the pipeline tests run (module level, so worker processes import them)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import steward

SCALE = 2


def _double(value: float) -> float:
    return value * SCALE


@steward.step
def load(n: int = 100) -> pd.DataFrame:
    print(f"loading {n} rows")
    return pd.DataFrame({"x": np.arange(n, dtype="float64"), "y": np.arange(n) * 2.0})


@steward.step
def column_mean(frame: pd.DataFrame, column: str) -> float:
    steward.log_metric("rows", len(frame))
    return _double(float(frame[column].mean())) / SCALE


@steward.step
def total(values: list[float]) -> dict[str, float]:
    return {"total": float(sum(values))}


@steward.pipeline
def stats(n: int = 100, columns: list[str] | None = None) -> Any:
    frame = load(n)
    return total([column_mean(frame, column) for column in columns or ["x", "y"]])


# -- failures and resume ---------------------------------------------------------------


@steward.step
def fragile(value: int, flag: str) -> int:
    """Fails while the file ``flag`` exists."""
    if Path(flag).exists():
        raise ValueError(f"flag {flag} is up")
    return value + 1


@steward.step
def plus_one(value: int) -> int:
    return value + 1


@steward.step
def add(a: int, b: int) -> int:
    return a + b


@steward.pipeline
def branches(flag: str) -> Any:
    left = plus_one(fragile(1, flag))
    right = plus_one(plus_one(10))
    return add(left, right)


# -- kinds of outputs ----------------------------------------------------------------------


@steward.step(outputs=["features", "labels"])
def split(n: int = 40) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return features, (features["a"] > 0).to_numpy().astype("int64")


@steward.step
def fit(features: pd.DataFrame, labels: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(features, labels)


@steward.step
def accuracy(model: Any, features: pd.DataFrame, labels: np.ndarray) -> float:
    score = float(model.score(features, labels))
    steward.log_metric("accuracy", score)
    return score


@steward.pipeline
def training(n: int = 40) -> Any:
    features, labels = split(n)
    model = fit(features, labels)
    return {"model": model, "accuracy": accuracy(model, features, labels)}


@steward.step
def returns(kind: str) -> Any:
    if kind == "series":
        return pd.Series([1.5, 2.5], name="s")
    if kind == "arrow":
        import pyarrow as pa

        return pa.table({"a": [1, 2]})
    if kind == "polars":
        import polars as pl

        return pl.DataFrame({"a": [1, 2]})
    if kind == "bytes":
        return b"\x00raw"
    if kind == "indexed":
        return pd.DataFrame({"v": [1, 2]}, index=pd.Index(["p", "q"], name="id"))
    if kind == "object-array":
        return np.array([object(), 1], dtype=object)
    if kind == "generator":
        return (i for i in range(3))
    if kind == "long-list":
        return list(range(1000))
    raise AssertionError(kind)


@steward.pipeline
def one(kind: str) -> Any:
    return returns(kind)


# -- executors ---------------------------------------------------------------------------


@steward.step
def sleepy(index: int, seconds: float = 0.4) -> dict[str, Any]:
    started = time.time()
    time.sleep(seconds)
    return {"index": index, "pid": os.getpid(), "start": started, "end": time.time()}


@steward.step
def collect(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return results


@steward.pipeline
def fan_out(width: int = 3, seconds: float = 0.4) -> Any:
    return collect([sleepy(i, seconds) for i in range(width)])


@steward.step(cache=False)
def wait_to_be_killed(pid_file: str, release: str) -> int:
    """Writes its pid, then waits (a test kills it) until ``release`` exists."""
    Path(pid_file).write_text(str(os.getpid()))
    deadline = time.time() + 120
    while not Path(release).exists() and time.time() < deadline:
        time.sleep(0.05)
    return os.getpid()


@steward.pipeline
def killable(pid_file: str, release: str) -> Any:
    return plus_one(wait_to_be_killed(pid_file, release))


@steward.step
def link(index: int, previous: Any = None) -> int:
    return index


@steward.pipeline
def chain(length: int = 20, offset: int = 0) -> Any:
    previous = None
    for index in range(length):
        previous = link(index + offset, previous)
    return previous


@steward.step(cache=False)
def rendezvous(index: int, folder: str, parties: int) -> bool:
    """Arrives, then waits for the other parties: all arrive only if they run side by side."""
    Path(folder, str(index)).touch()
    deadline = time.time() + 90
    while len(os.listdir(folder)) < parties and time.time() < deadline:
        time.sleep(0.02)
    return len(os.listdir(folder)) >= parties


@steward.pipeline
def meeting(folder: str, parties: int = 2) -> Any:
    return collect([rendezvous(i, folder, parties) for i in range(parties)])


@steward.step(cache=False)
def use_own_run() -> dict[str, Any]:
    """Uses its run while it runs: reads it back, logs a param, starts a run under it."""
    run = steward.active_run()
    assert run is not None
    stored = steward.get_run(run.id)
    steward.log_param("seen", "yes")
    with steward.start_run(name="inner", nested=True) as inner:
        inner_parent = steward.get_run(inner.id).parent_id
    return {"id": run.id, "status": stored.status.value, "inner_parent": inner_parent}


@steward.pipeline
def introspection() -> Any:
    return use_own_run()


@steward.step(cache=False)
def wait_to_be_shown_running(timeout_s: float = 20.0) -> bool:
    """Polls the store (without touching its own run) until its step shows as running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        (latest,) = steward.pipelines.list_runs(pipeline="long_step", limit=1)
        if latest.steps[0].status.value == "running" and latest.steps[0].run_id:
            return True
        time.sleep(0.02)
    return False


@steward.pipeline
def long_step() -> Any:
    return wait_to_be_shown_running()
