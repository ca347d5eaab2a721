"""steward demo trains, tracks and compares models on data scikit-learn ships."""

from __future__ import annotations

from typing import Any

import steward
from steward.demo import EXPERIMENT, run_demo


def test_demo_tracks_every_candidate(workspace: Any) -> None:
    result = run_demo(seed=0)
    runs = steward.search_runs(experiment=EXPERIMENT, order_by=["metrics.test_roc_auc DESC"])
    assert {run.name for run in runs} == set(result.run_ids)
    assert runs[0].id == result.best_run_id
    for run in runs:
        assert run.status == steward.RunStatus.FINISHED
        assert run.metrics["test_roc_auc"] > 0.95
        assert len(steward.get_metric_history(run.id, "cv_accuracy")) == 5
        assert [a.path for a in steward.list_artifacts(run.id)] == ["model/model.skops"]
