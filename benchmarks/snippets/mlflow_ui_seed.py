"""Write the benchmark's runs into a fresh MLflow SQLite store, untimed setup for
``benchmarks/webui.py``: MLflow's own schema and ORM classes, one bulk insert (its
client would take minutes for 10,000 runs, and the write is not what is measured).

Runs in MLflow's venv: ``python mlflow_ui_seed.py CONFIG_JSON RESULT_JSON``.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path


def main() -> None:
    """Create the store and the experiment, insert every run finished, report the id."""
    from mlflow.entities import ExperimentTag
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    config = json.loads(Path(sys.argv[1]).read_text())
    began = time.perf_counter()
    store = SqlAlchemyStore(f"sqlite:///{config['database']}", config["artifacts"])
    # A training experiment (MLflow 3 opens GenAI experiments on a traces overview).
    kind = ExperimentTag("mlflow.experimentKind", "custom_model_development")
    experiment_id = store.create_experiment("webui-bench", tags=[kind])
    start_ms = int(time.time() * 1000) - len(config["runs"]) * 1000
    rows: list[object] = []
    for index, spec in enumerate(config["runs"]):
        at = start_ms + index * 1000
        run_id = uuid.uuid4().hex
        rows.append(
            SqlRun(
                run_uuid=run_id,
                name=spec["name"],
                source_type="LOCAL",
                source_name="bench",
                entry_point_name="",
                user_id="bench",
                status="FINISHED",
                start_time=at,
                end_time=at + 500,
                source_version="",
                lifecycle_stage="active",
                artifact_uri=f"{config['artifacts']}/{run_id}",
                experiment_id=int(experiment_id),
            )
        )
        rows.append(SqlTag(key="mlflow.runName", value=spec["name"], run_uuid=run_id))
        for key, value in spec["params"].items():
            rows.append(SqlParam(key=key, value=str(value), run_uuid=run_id))
        for key, value in spec["metrics"].items():
            for table in (SqlMetric, SqlLatestMetric):
                rows.append(
                    table(key=key, value=value, timestamp=at, step=0, is_nan=False, run_uuid=run_id)
                )
    with store.ManagedSessionMaker() as session:
        session.add_all(rows)
    result = {"experiment_id": experiment_id, "seconds": time.perf_counter() - began}
    Path(sys.argv[2]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
