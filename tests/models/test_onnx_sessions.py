"""How ONNX sessions are opened: from the verified path, with Steward's options, one run a call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

import steward
from steward import models
from steward.errors import UnsafeModel

pytest.importorskip("skl2onnx")
onnx = pytest.importorskip("onnx")

from steward.models.flavors.onnx import OnnxPredictor  # noqa: E402
from steward.models.onnx_export import drop_default_tree_attributes  # noqa: E402


def _forest(rows: int = 200) -> tuple[Any, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return RandomForestClassifier(n_estimators=8, random_state=0).fit(X, y), X


@pytest.fixture
def served_forest(workspace: Any) -> tuple[Any, Any, np.ndarray]:
    """A forest logged with its ONNX export, loaded through the export."""
    forest, X = _forest()
    with steward.start_run():
        models.log(forest, input_example=X[:5], onnx=True, onnx_check_data=X, register="forest")
    return forest, models.load("models:/forest/1", backend="onnx"), X


def test_the_session_reads_the_verified_path_and_keeps_no_bytes(served_forest: Any) -> None:
    _, loaded, _ = served_forest
    session = loaded.native.session
    assert session._model_bytes is None
    path = Path(session._model_path)
    assert path == (loaded.folder / "model.onnx").resolve()
    assert path.is_relative_to(loaded.folder.resolve())


def test_sessions_run_on_the_calling_thread_without_spinning_or_arena(served_forest: Any) -> None:
    _, loaded, _ = served_forest
    options = loaded.native.session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    assert options.enable_cpu_mem_arena is False


class _CountingSession:
    """The real session, counting its runs."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.runs = 0

    def run(self, *args: Any) -> Any:
        self.runs += 1
        return self.session.run(*args)


def test_labels_and_probabilities_come_from_one_run(served_forest: Any) -> None:
    forest, loaded, X = served_forest
    counting = _CountingSession(loaded.native.session)
    loaded.native.session = counting
    labels, probabilities = loaded.predict_with_proba(X)
    assert counting.runs == 1
    np.testing.assert_array_equal(labels, forest.predict(X))
    np.testing.assert_allclose(probabilities, forest.predict_proba(X), atol=1e-6)


def test_skl2onnx_exports_lose_tree_attributes_that_repeat_their_default(workspace: Any) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)  # three classes: not a compact graph
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    with steward.start_run():
        info = models.log(forest, input_example=X[:5], onnx=True, onnx_check_data=X)
    assert info.metadata.onnx is not None and info.metadata.onnx["converter"] == "skl2onnx"
    loaded = models.load(info.uri, backend="onnx")
    graph = onnx.load(str(loaded.folder / "model.onnx"))
    names = {attribute.name for node in graph.graph.node for attribute in node.attribute}
    assert "nodes_modes" in names
    assert not names & {"nodes_hitrates", "nodes_missing_value_tracks_true"}
    np.testing.assert_allclose(loaded.predict_proba(X), forest.predict_proba(X), atol=1e-6)


def test_tree_attributes_that_say_something_are_kept() -> None:
    from onnx import helper

    node = helper.make_node(
        "TreeEnsembleRegressor",
        ["X"],
        ["Y"],
        domain="ai.onnx.ml",
        nodes_hitrates=[1.0, 0.5],
        nodes_missing_value_tracks_true=[0, 0],
    )
    graph = helper.make_graph([node], "g", [], [])
    model = helper.make_model(graph)
    assert drop_default_tree_attributes(model) == 1
    assert [attribute.name for attribute in model.graph.node[0].attribute] == ["nodes_hitrates"]


def test_a_graph_outside_the_folder_is_refused(tmp_path: Path) -> None:
    skl2onnx = pytest.importorskip("skl2onnx")
    forest, X = _forest(50)
    outside = tmp_path / "outside.onnx"
    outside.write_bytes(skl2onnx.to_onnx(forest, X[:1]).SerializeToString())
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.onnx").symlink_to(outside)
    with pytest.raises(UnsafeModel, match="not a file inside"):
        OnnxPredictor(folder, "model.onnx", ["model.onnx"])
    with pytest.raises(UnsafeModel, match="not a file inside"):
        OnnxPredictor(folder, "../outside.onnx", ["../outside.onnx"])


def test_the_model_card_says_which_converter_wrote_the_export(served_forest: Any) -> None:
    from steward.models.card import card

    text = card("forest", 1)
    assert "Converted by compact trees." in text
