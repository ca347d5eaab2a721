"""Explanations: permutation importance and SHAP agree with the reference libraries, are
stored with the model version, and the server's /explain is bounded."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance as sklearn_permutation

import steward
from steward.governance.explain import (
    Explanation,
    explain,
    explanations,
    local_contributions,
    permutation_importance,
    shap_importance,
)


def _data(rows: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"x1": rng.normal(size=rows), "x2": rng.normal(size=rows), "noise": rng.normal(size=rows)}
    )
    frame["y"] = (2 * frame["x1"] + frame["x2"] + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    return frame


@pytest.fixture(scope="module")
def forest() -> tuple[Any, pd.DataFrame]:
    train = _data(seed=1)
    model = RandomForestClassifier(n_estimators=30, max_depth=5, random_state=0)
    return model.fit(train[["x1", "x2", "noise"]], train["y"]), _data(seed=2)


def test_permutation_importance_agrees_with_scikit_learn(forest: Any) -> None:
    model, held_out = forest
    ours = permutation_importance(model, held_out, "y", repeats=10, seed=0)
    theirs = sklearn_permutation(
        model, held_out[["x1", "x2", "noise"]], held_out["y"], n_repeats=10, random_state=0
    )
    reference = dict(zip(["x1", "x2", "noise"], theirs.importances_mean, strict=True))
    assert [item.feature for item in ours.features] == ["x1", "x2", "noise"]
    for item in ours.features:
        assert item.importance == pytest.approx(reference[item.feature], abs=0.02)
    assert ours.metric == "accuracy" and ours.rows == len(held_out)
    assert ours.baseline["x1"] == pytest.approx(held_out["x1"].median())
    by_auc = permutation_importance(model, held_out, "y", metric="roc_auc", repeats=3)
    assert by_auc.top(1)[0].feature == "x1"


def test_shap_importance_equals_tree_explainer(forest: Any) -> None:
    import shap  # here, not at collection (see test_fairness.py)

    model, held_out = forest
    inputs = held_out[["x1", "x2", "noise"]].head(200)
    ours = shap_importance(model, inputs, max_rows=None)
    values = shap.TreeExplainer(model).shap_values(inputs, check_additivity=False)
    reference = np.abs(np.asarray(values)[:, :, 1]).mean(axis=0)
    got = {item.feature: item.importance for item in ours.features}
    assert [got[name] for name in ["x1", "x2", "noise"]] == pytest.approx(list(reference))
    assert ours.features[0].feature == "x1"


def test_explanations_are_stored_with_the_model_version(any_workspace: Any) -> None:
    train, held_out = _data(seed=3), _data(400, seed=4)
    model = RandomForestClassifier(n_estimators=10, random_state=0)
    model.fit(train[["x1", "x2", "noise"]], train["y"])
    with steward.start_run():
        steward.models.log(
            model, input_example=train[["x1", "x2", "noise"]].head(3), register="clf"
        )
    found = explain("models:/clf/1", held_out, "y", methods=("permutation", "shap"))
    assert [item.method for item in found] == ["permutation", "shap"]
    stored = explanations("models:/clf/1")
    assert [item.method for item in stored] == ["shap", "permutation"]
    assert stored[1] == Explanation.from_dict(found[0].to_dict())
    event = steward.governance.audit_events(action="explanation.record")[0]
    assert event.subject == "model:clf/1" and event.details["method"] == "shap"
    with pytest.raises(steward.InvalidInput, match="methods"):
        explain("models:/clf/1", held_out, "y", methods=("lime",))


def test_local_contributions_respect_the_time_budget() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    score = lambda rows: rows["a"].to_numpy() * 2 + rows["b"].to_numpy()  # noqa: E731
    full = local_contributions(score, frame, {"a": 0.0, "b": 1.0})
    assert full.contributions == [{"a": 2.0, "b": 2.0}, {"a": 4.0, "b": 3.0}]
    assert full.scores == [5.0, 8.0] and not full.truncated
    cut = local_contributions(score, frame, {"a": 0.0, "b": 1.0}, time_budget_s=-1)
    assert cut.truncated and cut.contributions == [{}, {}]
