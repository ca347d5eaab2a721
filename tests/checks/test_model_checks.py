"""Model checks on held-out data: thresholds, improvement with a paired bootstrap, segment
floors, invariance and directional tests, calibration, latency, size, fairness; stored on
a model version."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, recall_score

import steward
from steward import checks, models
from steward.checks.metrics import METRICS, Metric, paired_bootstrap
from steward.errors import InvalidInput


def _data(rows: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=rows),
            "x2": rng.normal(size=rows),
            "site": rng.choice(["a", "b", "c"], rows),
            "sex": rng.choice(["F", "M"], rows),
        }
    )
    frame.loc[:9, "site"] = "tiny"
    signal = 2 * frame["x1"] + 0.5 * frame["x2"]
    frame["y"] = (signal + rng.normal(scale=0.7, size=rows) > 0).astype(int)
    return frame


def _models(train: pd.DataFrame) -> tuple[Any, Any]:
    features = train[["x1", "x2"]]
    good = LogisticRegression().fit(features, train["y"])
    rng = np.random.default_rng(5)
    noisy = np.where(rng.random(len(train)) < 0.3, 1 - train["y"], train["y"])
    weak = LogisticRegression(C=0.001).fit(features[["x2"]].assign(x1=0.0)[["x1", "x2"]], noisy)
    return good, weak


@pytest.fixture(scope="module")
def setup() -> tuple[pd.DataFrame, Any, Any]:
    good, weak = _models(_data(seed=1))
    return _data(seed=2), good, weak


def _context(setup: tuple[pd.DataFrame, Any, Any], **extra: Any) -> checks.CheckContext:
    data, good, weak = setup
    return checks.CheckContext(data=data, target="y", model=good, champion=weak, **extra)


def test_metric_threshold(setup: Any) -> None:
    data, good, _ = setup
    expected = accuracy_score(data["y"], good.predict(data[["x1", "x2"]]))
    result = checks.MetricThreshold("accuracy", min=0.8).run(_context(setup))
    assert result.passed and result.value == pytest.approx(expected)
    failed = checks.MetricThreshold("f1", min=0.99).run(_context(setup))
    assert not failed.passed and failed.threshold == 0.99 and failed.kind == "model"
    assert checks.MetricThreshold("log_loss", max=0.5).run(_context(setup)).passed
    with pytest.raises(InvalidInput, match="unknown metric"):
        checks.MetricThreshold("accuracy_score", min=0.5)


def test_improvement_over_the_champion_uses_a_paired_interval(setup: Any) -> None:
    better = checks.MinImprovement("accuracy", min_delta=0.05, resamples=300).run(_context(setup))
    low, high = better.details["interval"]
    assert better.passed and low <= better.value <= high and low > 0.05
    assert better.value == pytest.approx(better.details["challenger"] - better.details["champion"])
    data, good, weak = setup
    reversed_context = checks.CheckContext(data=data, target="y", model=weak, champion=good)
    assert not checks.MinImprovement("roc_auc", resamples=200).run(reversed_context).passed
    same = checks.CheckContext(data=data, target="y", model=good, champion=good)
    tied = checks.MinImprovement("log_loss", min_delta=0.001, resamples=100).run(same)
    assert not tied.passed and tied.details["interval"] == [0.0, 0.0]


def test_bootstrap_fast_path_matches_recomputing(setup: Any) -> None:
    data, good, weak = setup
    truth = data["y"].to_numpy()
    mine, theirs = good.predict(data[["x1", "x2"]]), weak.predict(data[["x1", "x2"]])
    fast = paired_bootstrap(METRICS["accuracy"], truth, mine, theirs, resamples=400, seed=3)
    slow_metric = Metric("accuracy", False, True, METRICS["accuracy"].compute)
    slow = paired_bootstrap(slow_metric, truth, mine, theirs, resamples=400, seed=3)
    assert fast[0] == slow[0]
    assert fast[1] == pytest.approx(slow[1], abs=0.01) and fast[2] == pytest.approx(
        slow[2], abs=0.01
    )


def test_segment_floor_names_the_worst_segment(setup: Any) -> None:
    data, good, _ = setup
    spoiled = data.copy()
    rows = spoiled["site"] == "c"
    spoiled.loc[rows, "y"] = 1 - spoiled.loc[rows, "y"]
    context = checks.CheckContext(data=spoiled, target="y", model=good)
    result = checks.SegmentFloor("recall", "site", min=0.7).run(context)
    assert not result.passed and result.details["worst"] == "c"
    assert result.details["failing"] == ["c"]
    assert result.details["too_small"] == [{"segment": "tiny", "rows": 10}]
    c_rows = spoiled[rows]
    assert result.value == pytest.approx(
        recall_score(c_rows["y"], good.predict(c_rows[["x1", "x2"]]))
    )
    assert checks.SegmentFloor("accuracy", "site", min=0.7).run(_context(setup)).passed


class UsesX1Only:
    """Predicts from x1 only, though it is given x1 and x2."""

    feature_names_in_ = np.array(["x1", "x2"])

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        score = 1 / (1 + np.exp(-2 * rows["x1"].to_numpy()))
        return np.column_stack([1 - score, score])

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(rows)[:, 1] > 0.5).astype(int)


def test_invariance_and_directional_tests(setup: Any) -> None:
    data = setup[0]
    context = checks.CheckContext(data=data, target="y", model=UsesX1Only())
    assert checks.Invariance("x2", values=[-5.0, 0.0, 5.0], on="score").run(context).passed
    moved = checks.Invariance("x1", transform=lambda column: column + 1).run(context)
    assert not moved.passed and 0 < moved.value < 1
    assert checks.Directional("x1", delta=0.5, expect="increase").run(context).passed
    wrong = checks.Directional("x1", delta=0.5, expect="decrease").run(context)
    assert not wrong.passed and wrong.value == pytest.approx(1.0)
    with pytest.raises(InvalidInput, match="values= or transform="):
        checks.Invariance("x2")


def test_calibration_latency_and_size(setup: Any, workspace: Any) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=20_000), "x2": 0.0})
    score = UsesX1Only().predict_proba(frame)[:, 1]
    frame["y"] = (rng.random(len(frame)) < score).astype(int)
    calibrated = checks.CheckContext(data=frame, target="y", model=UsesX1Only())
    assert checks.Calibration(max_error=0.02).run(calibrated).passed
    overconfident = frame.assign(y=(score > 0.5).astype(int))
    context = checks.CheckContext(data=overconfident, target="y", model=UsesX1Only())
    result = checks.Calibration(max_error=0.05).run(context)
    assert not result.passed and result.value > 0.1
    assert checks.Latency(max_ms=1000, repeats=5).run(calibrated).passed
    assert not checks.Latency(max_ms=1e-6, repeats=5).run(calibrated).passed
    data, good, _ = setup
    with steward.start_run():
        info = models.log(good, input_example=data[["x1", "x2"]].head(3))
    loaded = models.load(f"runs:/{info.run_id}/model")
    size = checks.ModelSize(max_mb=5).run(checks.CheckContext(model=loaded))
    files = sum(p.stat().st_size for p in loaded.folder.rglob("*") if p.is_file())
    assert size.passed and size.details["bytes"] == files
    assert not checks.ModelSize(max_mb=files / 2e6).run(checks.CheckContext(model=loaded)).passed


def test_fairness_threshold_equals_fairlearn(setup: Any) -> None:
    from fairlearn.metrics import demographic_parity_ratio

    data, good, _ = setup
    result = checks.FairnessThreshold("demographic_parity_ratio", ["sex"], min=0.8).run(
        _context(setup)
    )
    expected = demographic_parity_ratio(
        data["y"], good.predict(data[["x1", "x2"]]), sensitive_features=data["sex"]
    )
    assert result.value == pytest.approx(expected) and result.kind == "fairness"
    assert result.passed == (expected >= 0.8)
    groups = result.details["report"]["groups"]
    assert [g["group"]["sex"] for g in groups] == ["F", "M"]
    with pytest.raises(InvalidInput, match="unknown fairness metric"):
        checks.FairnessThreshold("parity", ["sex"], min=0.8)


def test_a_gate_like_list_runs_and_is_stored_on_the_model_version(any_workspace: Any) -> None:
    data = _data(800, seed=3)
    good, weak = _models(_data(seed=4))
    with steward.start_run():
        info = models.log(good, input_example=data[["x1", "x2"]].head(3), register="triage")
    assert info.version is not None
    loaded = models.load("models:/triage/1")
    report = checks.run_checks(
        [
            checks.Suite("inputs", [checks.Column("x1", dtype="number", nullable=False)]),
            checks.MetricThreshold("accuracy", min=0.75),
            checks.MinImprovement("accuracy", resamples=200),
            checks.FairnessThreshold("demographic_parity_difference", ["sex"], max=0.2),
        ],
        data=data,
        target="y",
        model=loaded,
        champion=weak,
        suite="gate",
    )
    assert report.passed, report.failed
    stored = checks.save_report(report, model="triage/1")
    runs = checks.check_history(model="triage/1")
    assert [run.id for run in runs] == [stored.id]
    assert runs[0].model == "triage/1" and runs[0].check_count == 6
    assert [r.kind for r in runs[0].results] == ["data"] * 3 + ["model", "model", "fairness"]
    events = steward.governance.audit_events(subject="model:triage/1", action="checks.record")
    assert events[0].details["suite"] == "gate"
    with pytest.raises(InvalidInput, match="not a check"):
        checks.run_checks([object()], data=data)
