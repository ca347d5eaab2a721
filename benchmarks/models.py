"""Benchmark: log + register, cold load and one-row predict, Steward vs MLflow.

Both sides train the same 100-tree random forest on 10,000 x 20 rows (seeded),
then time, each in its own fresh processes:

- log + register of the fitted model (the run start is not timed);
- a cold load in a fresh process, imports included (process wall time);
- one-row predict through the loaded object vs the raw ``model.predict``.

MLflow runs in its own venv (``.bench/venvs/mlflow``, created on first use).
The floor is a plain ``pickle.dump`` / a fresh process doing ``pickle.load``.

Run: ``.venv/bin/python benchmarks/models.py``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peers import MLFLOW_SPEC, mlflow_python

ROOT = Path(__file__).resolve().parents[1]
MLFLOW_VERSION = MLFLOW_SPEC.split("==")[1]
PREDICT_CALLS = 200

TRAIN = """
import numpy as np
from sklearn.ensemble import RandomForestClassifier
rng = np.random.default_rng(0)
X = rng.normal(size=(10_000, 20))
y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
model = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=2).fit(X, y)
model.n_jobs = 1
"""

OURS_LOG = (
    TRAIN
    + """
import json, pickle, sys, time
import steward
steward.set_experiment("bench")
with steward.start_run():
    start = time.perf_counter()
    info = steward.models.log(model, input_example=X[:5], register="bench")
    log_s = time.perf_counter() - start
with steward.start_run():  # version 2, untimed: the same forest with its ONNX export
    steward.models.log(model, input_example=X[:5], register="bench", onnx=True,
                       onnx_check_data=X[:500])
start = time.perf_counter()
with open(sys.argv[1], "wb") as handle:
    pickle.dump(model, handle)
pickle_s = time.perf_counter() - start
np.save(sys.argv[2], X[:1])
print(json.dumps({"log_register_s": log_s, "pickle_dump_s": pickle_s}))
"""
)

OURS_LOAD = """
import steward.models
steward.models.load("models:/bench/1")
"""

OURS_LOAD_ONNX = """
import steward.models
steward.models.load("models:/bench/2", backend="onnx")
"""

MLFLOW_LOG = (
    TRAIN
    + """
import inspect, json, time
import mlflow, mlflow.sklearn
mlflow.set_experiment("bench")
default_error = None
with mlflow.start_run():
    start = time.perf_counter()
    try:
        mlflow.sklearn.log_model(model, name="model", input_example=X[:5],
                                 registered_model_name="bench")
    except Exception as exc:
        default_error = f"{type(exc).__name__}: {str(exc)[:160]}"
    log_s = time.perf_counter() - start
if default_error is not None:
    parameters = inspect.signature(mlflow.sklearn.log_model).parameters
    extra = {name: ["sklearn.tree._tree.Tree"] for name in parameters if "trusted" in name}
    with mlflow.start_run():
        start = time.perf_counter()
        mlflow.sklearn.log_model(model, name="model", input_example=X[:5],
                                 registered_model_name="bench", **extra)
        log_s = time.perf_counter() - start
print(json.dumps({"log_register_s": log_s, "default_error": default_error}))
"""
)

MLFLOW_LOAD = """
import mlflow.pyfunc
mlflow.pyfunc.load_model("models:/bench/1")
"""

PREDICT = """
import json, statistics, sys, time
import numpy as np
{load}
row = np.load(sys.argv[1])
raw = {raw}
def median(call):
    for _ in range(20):
        call(row)
    times = []
    for _ in range({calls}):
        start = time.perf_counter()
        call(row)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
ours = median(loaded.predict)
floor = median(raw.predict)
print(json.dumps({{"predict_s": ours, "raw_predict_s": floor}}))
"""

PICKLE_LOAD = """
import pickle, sys
with open(sys.argv[1], "rb") as handle:
    pickle.load(handle)
"""


def _run(python: Path | str, code: str, *args: str, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(
        [str(python), "-c", code, *args], capture_output=True, text=True, env=env, check=False
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{result.stderr[-3000:]}")
    return elapsed, result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def bench_ours(work: Path) -> dict[str, float]:
    """Steward's figures, in this venv."""
    env = {**os.environ, "STEWARD_HOME": str(work / "steward")}
    env.pop("STEWARD_STORE_URL", None)
    env.pop("STEWARD_BLOB_URL", None)
    pickle_path, row_path = work / "model.pkl", work / "row.npy"
    _, line = _run(sys.executable, OURS_LOG, str(pickle_path), str(row_path), env=env)
    figures = json.loads(line)
    figures["cold_load_s"], _ = _run(sys.executable, OURS_LOAD, env=env)
    figures["cold_load_onnx_s"], _ = _run(sys.executable, OURS_LOAD_ONNX, env=env)
    figures["pickle_load_s"], _ = _run(sys.executable, PICKLE_LOAD, str(pickle_path), env=env)
    code = PREDICT.format(
        load='import steward.models\nloaded = steward.models.load("models:/bench/1")',
        raw="loaded.native",
        calls=PREDICT_CALLS,
    )
    figures.update(json.loads(_run(sys.executable, code, str(row_path), env=env)[1]))
    return figures


def bench_mlflow(work: Path, row_path: Path) -> dict[str, object]:
    """MLflow's figures, in its own venv."""
    python = mlflow_python()
    folder = work / "mlflow"
    folder.mkdir()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}"}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    cwd = os.getcwd()
    os.chdir(folder)  # MLflow writes ./mlruns artifacts relative to the working folder
    try:
        figures: dict[str, object] = json.loads(_run(python, MLFLOW_LOG, env=env)[1])
        figures["cold_load_s"], _ = _run(python, MLFLOW_LOAD, env=env)
        code = PREDICT.format(
            load='import mlflow.pyfunc\nloaded = mlflow.pyfunc.load_model("models:/bench/1")',
            raw="loaded.get_raw_model()",
            calls=PREDICT_CALLS,
        )
        figures.update(json.loads(_run(python, code, str(row_path), env=env)[1]))
    finally:
        os.chdir(cwd)
    return figures


def main() -> None:
    """Run both sides and print the table."""
    from rich.console import Console
    from rich.table import Table

    with tempfile.TemporaryDirectory(prefix="steward-bench-models-") as temp:
        work = Path(temp)
        ours = bench_ours(work)
        theirs = bench_mlflow(work, work / "row.npy")
    table = Table(title="Models: Steward vs MLflow " + MLFLOW_VERSION, header_style="bold")
    for column in ("measure", "Steward", "MLflow", "MLflow / Steward", "floor", "target"):
        table.add_column(column, justify="right" if column != "measure" else "left")

    def ms(value: object) -> str:
        return f"{float(value) * 1000:.1f} ms"  # type: ignore[arg-type]

    ours_overhead = ours["predict_s"] / ours["raw_predict_s"] - 1
    theirs_overhead = float(theirs["predict_s"]) / float(theirs["raw_predict_s"]) - 1  # type: ignore[arg-type]
    table.add_row(
        "log + register",
        ms(ours["log_register_s"]),
        ms(theirs["log_register_s"]),
        f"{float(theirs['log_register_s']) / ours['log_register_s']:.1f}x",  # type: ignore[arg-type]
        f"{ms(ours['pickle_dump_s'])} (pickle.dump)",
        ">= 5x",
    )
    table.add_row(
        "cold load (fresh process)",
        ms(ours["cold_load_s"]),
        ms(theirs["cold_load_s"]),
        f"{float(theirs['cold_load_s']) / ours['cold_load_s']:.1f}x",  # type: ignore[arg-type]
        f"{ms(ours['pickle_load_s'])} (python + pickle.load)",
        ">= 5x",
    )
    table.add_row(
        "cold load, ONNX export (fresh process)",
        ms(ours["cold_load_onnx_s"]),
        ms(theirs["cold_load_s"]),
        f"{float(theirs['cold_load_s']) / ours['cold_load_onnx_s']:.1f}x",  # type: ignore[arg-type]
        "",
        ">= 5x",
    )
    table.add_row(
        "predict 1 row",
        ms(ours["predict_s"]),
        ms(theirs["predict_s"]),
        f"{float(theirs['predict_s']) / ours['predict_s']:.2f}x",  # type: ignore[arg-type]
        f"{ms(ours['raw_predict_s'])} (model.predict)",
        "<= +20%",
    )
    table.add_row(
        "predict overhead vs raw",
        f"{ours_overhead:+.1%}",
        f"{theirs_overhead:+.1%}",
        "",
        "0%",
        "<= +20%",
    )
    Console().print(table)
    default = theirs.get("default_error")
    print(
        "Steward default log_model: works (skops, no trust list). MLflow default log_model: "
        + (f"FAILED ({default}); timed with the tree type trusted." if default else "works.")
    )


if __name__ == "__main__":
    main()
