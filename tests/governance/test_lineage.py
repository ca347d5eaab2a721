"""The lineage graph: from data to alerts and back, one query from a prediction to its
training data, text/JSON/HTML output, and providers other modules plug in."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import steward
from steward import models
from steward.cli import app
from steward.errors import InvalidInput, NotFound
from steward.governance.lineage import Edge, Node, lineage, trained_on
from steward.governance.lineage_render import to_html, to_text


@pytest.fixture
def any_workspace(three_way_workspace: Any) -> Any:
    """SQLite, PostgreSQL, and through the team server (the lineage calls go over HTTP)."""
    return three_way_workspace


def _story(workspace: Any) -> dict[str, str]:
    """data → run → model v1 → served (two requests) → monitor → alert."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "y": rng.integers(0, 2, 60)})
    train = steward.data.add("train", frame)
    steward.data.add("holdout", frame.head(20))
    with steward.start_run(name="fit") as run:
        steward.data.get("train")
        steward.data.get("holdout:1")
        model = LogisticRegression().fit(frame[["x"]], frame["y"])
        info = models.log(model, input_example=frame[["x"]].head(2), register="clf")
        derived = steward.data.add("scored", frame.assign(score=0.5))
    assert info.version is not None
    serving = workspace.store.serving
    now = 1_767_000_000_000
    serving.add_segment(
        "clf", 1, "2026-01-01", "sha256:" + "0" * 64, [("req-1", now), ("req-2", now + 1)]
    )
    serving.add_segment("clf", 1, "2026-01-02", "sha256:" + "1" * 64, [("req-3", now + 86_400_000)])
    monitoring = workspace.store.monitoring
    monitoring.create_monitor("clf-drift", "clf@champion", {}, "tester")
    alert = monitoring.fire(
        source="monitor:clf-drift",
        rule="drift",
        expression="drift.share > 0.3",
        severity="warning",
        metric="drift.share",
        value=0.6,
        threshold=0.3,
        message="m",
        actor="tester",
    )
    return {"run": run.id, "alert": alert.id, "train": train.ref, "scored": derived.ref}


def test_a_prediction_leads_back_to_its_training_data(any_workspace: Any) -> None:
    story = _story(any_workspace)
    (answer,) = trained_on("req-2")
    assert (answer.model, answer.version, answer.run_id) == ("clf", 1, story["run"])
    assert [f"{d.dataset}:{d.version}" for d in answer.data] == ["holdout:1", "train:1"]
    graph = lineage("request:req-2", "up")
    assert {n.id for n in graph.of_kind("dataset")} == {"dataset:train:1", "dataset:holdout:1"}
    assert graph.depth["dataset:train:1"] == -5  # segment, deployment, model, run, data
    with pytest.raises(NotFound, match="no prediction"):
        trained_on("req-404")


def test_downstream_of_data_reaches_the_alert(any_workspace: Any) -> None:
    story = _story(any_workspace)
    graph = lineage("dataset:train:1", "down")
    kinds = {node.kind for node in graph.nodes}
    assert kinds == {"dataset", "run", "model", "deployment", "segment", "monitor", "alert"}
    assert f"alert:{story['alert']}" in {n.id for n in graph.nodes}
    deployment = graph.node("deployment:clf/1")
    assert deployment.attributes["predictions"] == 3 and deployment.attributes["segments"] == 2
    relations = {(e.source, e.relation, e.target) for e in graph.edges}
    assert ("dataset:train:1", "read by", f"run:{story['run']}") in relations
    assert (f"run:{story['run']}", "produced", f"dataset:{story['scored']}") in relations
    assert ("deployment:clf/1", "watched by", "monitor:clf-drift") in relations
    both = lineage(f"run:{story['run']}", depth=1)
    assert {n.kind for n in both.nodes} == {"run", "dataset", "model"}
    assert lineage(f"alert:{story['alert']}", "up").node("dataset:train:1")


def test_renderings(any_workspace: Any, tmp_path: Path) -> None:
    story = _story(any_workspace)
    graph = lineage("models:/clf/1")
    text = to_text(graph)
    assert text.splitlines()[0].startswith("model:clf/1")
    assert "← registered as run:" in text and "→ served as deployment:clf/1" in text
    page = to_html(graph)
    assert "<svg" in page and "<script" not in page and "src=" not in page
    assert page.count("<rect") == len(graph.nodes)
    runner = CliRunner()
    out = tmp_path / "lineage.html"
    done = runner.invoke(
        app, ["lineage", "show", "dataset:train:1", "--down", "--json", "--html", str(out)]
    )
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert body["root"] == "dataset:train:1" and body["direction"] == "down"
    assert out.read_text().startswith("<!doctype html>")
    said = runner.invoke(app, ["lineage", "prediction", "req-1"])
    assert "clf v1" in said.output and "train:1" in said.output and story["run"] in said.output
    up = runner.invoke(app, ["lineage", "show", f"alert:{story['alert']}", "--up"])
    assert up.exit_code == 0 and "← raised" in up.output


def test_bad_references(workspace: Any) -> None:
    with pytest.raises(InvalidInput, match="not a lineage reference"):
        lineage("nonsense")
    with pytest.raises(NotFound):
        lineage("monitor:absent")
    with pytest.raises(NotFound):
        lineage("run:" + "0" * 32)
    with pytest.raises(InvalidInput, match="direction"):
        lineage("monitor:absent", "sideways")


def test_a_module_can_add_edges(workspace: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The package exports the function lineage(), which hides the module's name.
    lineage_module = importlib.import_module("steward.governance.lineage")
    story = _story(workspace)
    providers = dict(lineage_module._PROVIDERS)
    monkeypatch.setattr(lineage_module, "_PROVIDERS", {k: list(v) for k, v in providers.items()})

    def retraining(_store: Any, node: Node) -> list[tuple[Node, Edge]]:
        retrain = Node("run:retrain-1", "run", "retrain after drift")
        return [(retrain, Edge(node.id, retrain.id, "triggered"))]

    lineage_module.register_lineage_provider("alert", "down", retraining)
    graph = lineage("monitor:clf-drift", "down")
    assert ("alert:" + story["alert"], "triggered", "run:retrain-1") in {
        (e.source, e.relation, e.target) for e in graph.edges
    }
