"""The model card gains training data from lineage, checks, fairness, explanations and
downstream lineage, as Markdown and print-ready, self-contained HTML."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

import steward
from steward import checks, models
from steward.governance import explain, fairness_report, save_fairness_report


def test_card_shows_governance(workspace: Any) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x1": rng.normal(size=400), "x2": rng.normal(size=400), "sex": rng.choice(["F", "M"], 400)}
    )
    frame["y"] = (frame["x1"] > 0).astype(int)
    train = steward.data.add("train", frame)
    checks.run_suite(checks.Suite("train-data", [checks.Column("x1", nullable=False)]), train)
    with steward.start_run():
        steward.data.use(train)
        model = RandomForestClassifier(n_estimators=10, random_state=0).fit(
            frame[["x1", "x2"]], frame["y"]
        )
        models.log(model, input_example=frame[["x1", "x2"]].head(3), register="clf")
    loaded = models.load("models:/clf/1")
    report = checks.run_checks(
        [checks.MetricThreshold("log_loss", max=0.0001), checks.Calibration(max_error=0.5)],
        data=frame,
        target="y",
        model=loaded,
        suite="gate",
    )
    checks.save_report(report, model="clf/1")
    predicted = loaded.predict(frame[["x1", "x2"]])
    save_fairness_report("clf/1", fairness_report(frame["y"], predicted, ["sex"], data=frame))
    explain("models:/clf/1", frame.drop(columns=["sex"]), "y", repeats=2)
    workspace.store.serving.add_segment("clf", 1, "2026-01-01", "sha256:" + "0" * 64, [("r1", 1)])
    markdown = models.card("clf", 1)
    for title in (
        "## Training data (lineage)",
        "## Model checks",
        "## Data checks",
        "## Fairness across sex",
        "## Explanation: permutation importance",
        "## Lineage: deployments and monitoring",
    ):
        assert title in markdown, title
    assert "| train:1 | 400 |" in markdown
    assert "FAIL | model | log_loss <= 0.0001" in markdown
    assert "| demographic_parity_difference |" in markdown
    assert "| x1 |" in markdown.split("## Explanation")[1]
    page = models.card("clf", 1, format="html")
    assert "@media print" in page and "<figure><svg" in page
    assert "<script" not in page and "src=" not in page
