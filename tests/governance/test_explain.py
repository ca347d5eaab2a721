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
)


@pytest.fixture
def any_workspace(three_way_workspace: Any) -> Any:
    """SQLite, PostgreSQL, and through the team server (the explanation calls go over HTTP)."""
    return three_way_workspace


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


_SHAP_SCRIPT = """
import json, sys
import numpy as np, pandas as pd, shap
from sklearn.ensemble import RandomForestClassifier
import steward
from steward.governance import explain, explanations, shap_importance
from steward.workspace import open_workspace, use_workspace

rng = np.random.default_rng(0)
frame = pd.DataFrame(rng.normal(size=(600, 3)), columns=["x1", "x2", "noise"])
frame["y"] = (2 * frame["x1"] + frame["x2"] > 0).astype(int)
model = RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0)
model.fit(frame[["x1", "x2", "noise"]], frame["y"])
inputs = frame[["x1", "x2", "noise"]].head(200)
explained = shap_importance(model, inputs, max_rows=None)
ours = {item.feature: item.importance for item in explained.features}
values = np.asarray(shap.TreeExplainer(model).shap_values(inputs, check_additivity=False))[:, :, 1]
reference = dict(zip(inputs.columns, np.abs(values).mean(axis=0).tolist()))
use_workspace(open_workspace(home=sys.argv[1], actor="tester"))
with steward.start_run():
    steward.models.log(model, input_example=inputs.head(3), register="clf")
found = explain("models:/clf/1", frame, "y", methods=("permutation", "shap"), repeats=2)
stored = explanations("models:/clf/1")
print(json.dumps({"ours": ours, "reference": reference,
                  "methods": [item.method for item in found],
                  "stored": [item.method for item in stored],
                  "top": stored[0].top(1)[0].feature}))
"""


def test_shap_agrees_with_tree_explainer_and_is_stored(tmp_path: Any) -> None:
    """Run in a child process: a model logged in a process that imported shap would
    lock shap (and numba) into its environment, so this worker never imports it."""
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _SHAP_SCRIPT, str(tmp_path / "home")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for name, value in result["reference"].items():
        assert result["ours"][name] == pytest.approx(value)
    assert max(result["ours"], key=result["ours"].get) == "x1"
    assert result["methods"] == ["permutation", "shap"]
    assert result["stored"] == ["shap", "permutation"] and result["top"] == "x1"


def test_explanations_are_stored_with_the_model_version(any_workspace: Any) -> None:
    train, held_out = _data(seed=3), _data(400, seed=4)
    model = RandomForestClassifier(n_estimators=10, random_state=0)
    model.fit(train[["x1", "x2", "noise"]], train["y"])
    with steward.start_run():
        steward.models.log(
            model, input_example=train[["x1", "x2", "noise"]].head(3), register="clf"
        )
    found = explain("models:/clf/1", held_out, "y", repeats=3)
    explain("models:/clf/1", held_out, "y", metric="roc_auc", repeats=2)
    stored = explanations("models:/clf/1")
    assert [item.metric for item in stored] == ["roc_auc", "accuracy"]
    assert stored[1] == Explanation.from_dict(found[0].to_dict())
    event = steward.governance.audit_events(action="explanation.record")[0]
    assert event.subject == "model:clf/1" and event.details["method"] == "permutation"
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
