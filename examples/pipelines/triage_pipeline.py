"""A retraining pipeline and a batch-scoring job, end to end, offline.

Run it from anywhere: ``python examples/pipelines/triage_pipeline.py`` (it uses
``$STEWARD_HOME``, or ``./.steward``). It versions the breast-cancer data that
scikit-learn ships, then runs a pipeline of steps: read the dataset version,
split it, train two models side by side, evaluate them, and keep the better.
The second run of the pipeline comes entirely from the cache. The chosen model
is registered as ``triage@champion`` and scores a file of new cases in chunks,
into Parquet and the prediction log; labels that arrive later join by request id.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import steward


@steward.step
def read(dataset: str) -> pd.DataFrame:
    """The dataset version, recorded as read by this step's run (lineage)."""
    return steward.data.get(dataset).to_pandas()


@steward.step(outputs=["train", "test"])
def split(frame: pd.DataFrame, test_share: float = 0.25) -> tuple[pd.DataFrame, pd.DataFrame]:
    test = frame.sample(frac=test_share, random_state=0)
    return frame.drop(test.index), test


@steward.step
def train(frame: pd.DataFrame, kind: str) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, labels = frame.drop(columns="target"), frame["target"]
    if kind == "forest":
        model = RandomForestClassifier(n_estimators=50, max_depth=6, random_state=0)
    else:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    print(f"training {kind} on {len(frame)} rows")
    return model.fit(features, labels)


@steward.step
def evaluate(model: Any, test: pd.DataFrame) -> float:
    accuracy = float(model.score(test.drop(columns="target"), test["target"]))
    steward.log_metric("accuracy", accuracy)
    return accuracy


@steward.step
def choose(accuracies: list[float], kinds: list[str]) -> dict[str, Any]:
    best = int(np.argmax(accuracies))
    return {"kind": kinds[best], "accuracy": accuracies[best], "index": best}


@steward.pipeline
def retrain(dataset: str = "triage-cases", kinds: tuple[str, ...] = ("linear", "forest")) -> Any:
    train_rows, test_rows = split(read(dataset))
    models = [train(train_rows, kind) for kind in kinds]
    accuracies = [evaluate(model, test_rows) for model in models]
    return {"models": models, "choice": choose(accuracies, list(kinds))}


def main() -> None:
    from sklearn.datasets import load_breast_cancer

    cases = load_breast_cancer(as_frame=True).frame
    cases.columns = [str(c).replace(" ", "_") for c in cases.columns]
    steward.data.add("triage-cases", cases.iloc[:500])

    run = retrain.run(progress=True)
    result = steward.pipelines.load(run)
    choice = result["choice"]
    print(f"chose the {choice['kind']} model: accuracy {choice['accuracy']:.3f} (run {run.id})")

    again = retrain.run(progress=True)  # nothing changed: every step comes from the cache
    print("second run:", again.counts())

    # Register the chosen model from the step run that trained it.
    trainer = [step for step in run.steps if step.name.startswith("train")][choice["index"]]
    model_uri = f"runs:/{trainer.run_id}/outputs/output"
    version = steward.models.register(model_uri, "triage")
    steward.models.set_alias("triage", "champion", version.version)

    with tempfile.TemporaryDirectory() as folder:
        new_cases = cases.iloc[500:].drop(columns="target")
        new_cases.to_parquet(Path(folder) / "new_cases.parquet")
        scored = steward.pipelines.score(
            "models:/triage@champion", str(Path(folder) / "new_cases.parquet"),
            str(Path(folder) / "scored"), chunk_rows=25,
        )  # fmt: skip
        print(f"scored {scored.rows} new cases into {scored.output} (job {scored.job_id})")
        rows = pd.read_parquet(Path(folder) / "scored")
    truth = cases.iloc[500:]["target"].to_numpy()
    labels = dict(zip(rows["request_id"], truth[: len(rows)], strict=True))
    fed = steward.serving.log_feedback(labels)
    log = steward.serving.read_predictions("triage")
    print(
        f"labels joined: {int(log['label'].notna().sum())} of {len(log)} ({len(fed.accepted)} sent)"
    )


if __name__ == "__main__":
    main()
