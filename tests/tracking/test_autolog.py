"""steward.autolog() records scikit-learn training without any logging code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import steward


@pytest.fixture
def autologging(workspace: Any) -> Any:
    steward.autolog()
    yield workspace
    steward.autolog(disable=True)


def test_fit_without_a_run_gets_a_run_of_its_own(autologging: Any, tmp_path: Path) -> None:
    import skops.io
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    runs = steward.search_runs().runs
    assert len(runs) == 1
    run = runs[0]
    assert run.status == steward.RunStatus.FINISHED
    assert run.params["n_estimators"] == "5"
    assert run.params["max_depth"] == "3"
    assert 0.9 < run.metrics["training_accuracy"] <= 1.0
    assert 0.9 < run.metrics["training_roc_auc"] <= 1.0
    assert run.tags["estimator_name"] == "RandomForestClassifier"
    [artifact] = steward.list_artifacts(run.id)
    assert artifact.path == "model/model.skops"
    path = steward.download_artifact(run.id, artifact.path, tmp_path / "m.skops")
    loaded = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    assert (loaded.predict(X) == model.predict(X)).all()


def test_a_pipeline_logs_once_into_the_active_run(autologging: Any) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True)
    with steward.start_run(name="mine") as run:
        make_pipeline(StandardScaler(), Ridge(alpha=0.5)).fit(X, y)
    runs = steward.search_runs().runs
    assert [r.id for r in runs] == [run.id]
    stored = runs[0]
    assert stored.params["ridge__alpha"] == "0.5"
    assert stored.tags["estimator_name"] == "Pipeline"
    assert 0 < stored.metrics["training_r2"] < 1
    assert stored.metrics["training_rmse"] > 0


def test_a_failing_fit_marks_its_run_failed(autologging: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ValueError):
        LogisticRegression().fit([[1.0], [2.0]], [0, 0, 1])
    [run] = steward.search_runs().runs
    assert run.status == steward.RunStatus.FAILED


def test_disable_restores_plain_fit(autologging: Any) -> None:
    from sklearn.linear_model import LinearRegression

    steward.autolog(disable=True)
    LinearRegression().fit([[1.0], [2.0]], [1.0, 2.0])
    assert len(steward.search_runs()) == 0
