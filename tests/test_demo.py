"""steward demo runs the lifecycle end to end on data scikit-learn ships.

One demo run, checked from every angle it touches (it takes seconds, so it is
run once here rather than once per module).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

import steward
from steward import checks, models
from steward.demo import EXPERIMENT, REGISTERED_MODEL, print_demo, run_demo


def test_demo_tracks_versions_registers_and_prints(workspace: Any) -> None:
    result = run_demo(seed=0, console=Console(quiet=True))

    runs = steward.search_runs(experiment=EXPERIMENT, order_by=["metrics.test_roc_auc DESC"])
    assert {run.name for run in runs} == set(result.run_ids)
    assert runs[0].id == result.best_run_id
    for run in runs:
        assert run.status == steward.RunStatus.FINISHED
        assert run.metrics["test_roc_auc"] > 0.95
        assert len(steward.get_metric_history(run.id, "cv_accuracy")) == 5
        assert "model/model.skops" in [a.path for a in steward.list_artifacts(run.id)]

    assert result.datasets == ("breast-cancer-train:1", "breast-cancer-test:1")
    train = steward.data.get("breast-cancer-train", 1)
    readers = {edge.run_id for edge in train.lineage() if edge.direction == "input"}
    assert readers == set(result.run_ids.values())

    champion = models.get_version(REGISTERED_MODEL, result.registered_version)
    assert champion.run_id == result.best_run_id
    assert champion.status is models.VersionStatus.APPROVED
    assert "test_roc_auc" in champion.metrics
    assert result.card_path is not None and "Not for clinical use" in result.card_path.read_text()
    assert result.serving is not None
    assert result.serving.logged_rows == result.serving.requests == result.serving.labelled_rows
    assert set(result.serving.bad_requests.values()) == {400}
    monitoring = result.monitoring
    assert monitoring is not None
    assert monitoring.calm_share is not None and monitoring.calm_share <= 0.2
    assert monitoring.drift_share is not None and monitoring.drift_share > 0.2
    assert "worst area" in monitoring.drifted
    # The drift alert fired, and resolved once the retrained champion served the new world.
    assert [body["event"] for body in monitoring.webhook_bodies] == ["fired", "resolved"]
    assert monitoring.webhook_bodies[0]["source"] == f"monitor:{monitoring.monitor}"
    assert monitoring.report_path is not None and monitoring.report_path.exists()
    report = monitoring.report_path.read_text()
    assert "Trend over 3 window(s)" in report and "Alerts of this window" in report
    assert "resolved: drift.share is back at" in report
    assert "reference breast-cancer-train:2" in report

    loop = result.loop
    assert loop is not None
    assert (loop.champion_before, loop.champion_after, loop.served_version) == (1, 2, 2)
    assert loop.decision == "promoted" and loop.alert_resolved
    ((gate_name, gate_passed, challenger, champion_score),) = loop.gate_checks
    assert gate_name == "accuracy improves on champion by >= 0" and gate_passed
    assert challenger is not None and champion_score is not None and challenger > champion_score
    assert loop.accuracy_recovered > loop.accuracy_drifted + 0.1
    assert loop.drift_share_recovered is not None and loop.drift_share_recovered <= 0.2
    retrain = steward.pipelines.get_run(loop.retrain_run)
    assert retrain.status == steward.RunStatus.FINISHED
    assert retrain.params["data"] == "breast-cancer-train@latest"
    new_champion = models.resolve(f"models:/{REGISTERED_MODEL}@champion")
    assert new_champion.version == 2 and "holdout_accuracy" in new_champion.metrics
    assert models.alias_history(REGISTERED_MODEL, "champion")[-1].reason.startswith(
        "passed the gate"
    )
    assert result.timeline is not None
    moments = [event for _, event in result.timeline.events]
    order = ["data versioned", "monitor flags drift", "retraining run", "server hot-reloaded"]
    positions = [next(i for i, e in enumerate(moments) if e.startswith(o)) for o in order]
    assert positions == sorted(positions)
    loaded = models.load(f"models:/{REGISTERED_MODEL}@champion")
    assert loaded.predict(loaded.input_example).shape == (5,)

    governance = result.governance
    assert governance is not None
    assert governance.data_checks["breast-cancer-train:1"][0]
    assert (
        checks.check_history(dataset="breast-cancer-test:1")[0].check_count
        == (governance.data_checks["breast-cancer-test:1"][2])
    )
    assert {name for name, _, _ in governance.model_checks} >= {
        "roc_auc >= 0.95",
        "equalized_odds_difference <= 0.2 across clinic",
    }
    assert 0 <= governance.fairness["demographic_parity_difference"] <= 1
    assert len(governance.top_features) == 5
    card = result.card_path.read_text()
    assert "## Model checks" in card and "## Fairness across clinic" in card
    assert "## Explanation: permutation importance" in card
    assert governance.audit_intact and governance.audit_events > 20
    assert steward.governance.verify_audit().ok

    console = Console(record=True, width=120)
    print_demo(result, console)
    text = console.export_text()
    assert "data version → runs" in text
    assert "champion" in text
    assert "webhook received" in text and "monitoring report:" in text
    assert "data check" in text and "fairness across synthetic clinic labels" in text
    assert "Timeline" in text and "closed loop: champion v1 → v2 (promoted)" in text
    assert "explanation (permutation importance" in text and "audit log intact" in text

    # Tampering with one stored event is caught.
    from sqlalchemy import text as sql

    with workspace.store.engine.begin() as connection:
        connection.execute(sql("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3"))
    tampered = steward.governance.verify_audit()
    assert not tampered.ok and tampered.problems[0].seq == 3
