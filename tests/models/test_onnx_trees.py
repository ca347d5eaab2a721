"""Compact ONNX graphs of trees and forests: the same answers as scikit-learn, in less memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

from steward.models.flavors.onnx import OnnxPredictor  # noqa: E402
from steward.models.onnx_export import export_sklearn  # noqa: E402
from steward.models.onnx_trees import compact_tree_graph  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(1_500, 6))
Y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
FRESH = np.random.default_rng(1).normal(size=(3_000, 6))  # rows the export never checked


def _exported(model: Any, folder: Path, check: np.ndarray = X) -> tuple[dict[str, Any], Any]:
    info = export_sklearn(model, folder, None, check[:300])
    return info, OnnxPredictor(folder, "model.onnx", ["model.onnx"])


def _operators(folder: Path) -> set[tuple[str, str]]:
    graph = onnx.load(str(folder / "model.onnx"))
    return {(node.domain, node.op_type) for node in graph.graph.node}


def test_a_binary_forest_is_one_tree_ensemble_that_agrees_on_fresh_rows(tmp_path: Path) -> None:
    forest = RandomForestClassifier(n_estimators=30, random_state=0).fit(X, Y)
    info, predictor = _exported(forest, tmp_path)
    assert info["converter"] == "compact trees"
    assert ("ai.onnx.ml", "TreeEnsemble") in _operators(tmp_path)
    labels, probabilities = predictor.predict_with_proba(FRESH)
    np.testing.assert_array_equal(labels, forest.predict(FRESH))
    np.testing.assert_allclose(probabilities, forest.predict_proba(FRESH), atol=1e-12)


def test_missing_values_go_where_the_trees_send_them(tmp_path: Path) -> None:
    holes = np.where(RNG.random(X.shape) < 0.15, np.nan, X)
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(holes, Y)
    fresh = np.where(np.random.default_rng(2).random(FRESH.shape) < 0.15, np.nan, FRESH)
    info, predictor = _exported(forest, tmp_path, holes)
    assert info["converter"] == "compact trees"
    np.testing.assert_array_equal(predictor.predict(fresh), forest.predict(fresh))
    np.testing.assert_allclose(predictor.predict_proba(fresh), forest.predict_proba(fresh))


@pytest.mark.parametrize("kind", [RandomForestRegressor, ExtraTreesRegressor])
def test_regressors_agree(tmp_path: Path, kind: Any) -> None:
    model = kind(n_estimators=10, random_state=0).fit(X, X[:, 0] * 3 - X[:, 1])
    info, predictor = _exported(model, tmp_path)
    assert info["converter"] == "compact trees"
    np.testing.assert_allclose(predictor.predict(FRESH), model.predict(FRESH), atol=1e-12)


def test_string_classes_come_back_as_strings(tmp_path: Path) -> None:
    tree = DecisionTreeClassifier(max_depth=5, random_state=0).fit(X, np.where(Y, "sick", "well"))
    info, predictor = _exported(tree, tmp_path)
    assert info["converter"] == "compact trees"
    assert predictor.predict(FRESH).tolist() == tree.predict(FRESH).tolist()


def test_the_compact_graph_is_much_smaller(tmp_path: Path) -> None:
    import skl2onnx

    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, Y)
    compact = compact_tree_graph(forest, X.shape[1]).SerializeToString()
    converted = skl2onnx.to_onnx(forest, X[:1], options={"zipmap": False}).SerializeToString()
    assert len(compact) < 0.6 * len(converted)


def test_what_it_does_not_cover_goes_to_skl2onnx(tmp_path: Path) -> None:
    three = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    cases = {
        "three classes": RandomForestClassifier(n_estimators=5, random_state=0).fit(X, three),
        "a pipeline": make_pipeline(StandardScaler(), DecisionTreeClassifier()).fit(X, Y),
        "two outputs": RandomForestRegressor(n_estimators=3).fit(X, np.c_[X[:, 0], X[:, 1]]),
    }
    for name, model in cases.items():
        assert compact_tree_graph(model, X.shape[1]) is None, name
    info, predictor = _exported(cases["three classes"], tmp_path)
    assert info["converter"] == "skl2onnx"
    np.testing.assert_array_equal(predictor.predict(FRESH), cases["three classes"].predict(FRESH))
