"""The agent runs monitors on their schedules and fires alert and performance triggers once
the condition has held for the budget's persistence windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sklearn.linear_model import LogisticRegression

import steward
from steward.agent import Agent, FiringState
from tests.monitoring.test_monitor import frame, truth
from tests.monitoring.test_table_monitor import scored

PIPELINE = "tests.agent.flows:record"
FEATURES = ["age", "dose", "weight"]
START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _scores(shift: float, seed: int, flip: bool = False) -> pd.DataFrame:
    table = scored(100, seed=seed, start=START, shift=shift).drop(columns=["scored_at"])
    return table.assign(label=1 - table["label"]) if flip else table


def test_alert_trigger_waits_for_persistence_then_fires_once(any_workspace: Any) -> None:
    steward.data.add("train", frame(400, seed=0).assign(target=lambda d: truth(d)))
    steward.data.add("scores", _scores(0.0, seed=1))
    steward.monitoring.create_monitor(
        "scores", table="dataset:scores", reference="train:1", window="100 rows",
        target_column="label", features=FEATURES, rules=["drift.share > 0.3"],
        schedule="* * * * *",
    )  # fmt: skip
    steward.models.create_model("churn")
    steward.agent.set_budget("churn", persistence=2)
    steward.triggers.add(
        "drifted", PIPELINE, alert="scores:drift.share", model="churn", params={"path": "o.txt"}
    )
    agent = Agent(any_workspace)
    now = datetime.now(UTC)
    try:
        calm = agent.tick(now + timedelta(minutes=1))
        assert calm.monitor_windows == 1 and calm.firings == []
        steward.data.add("scores", _scores(3.0, seed=2))
        first = agent.tick(now + timedelta(minutes=2))  # drift, alert fired: 1 window of 2
        assert first.monitor_windows == 1 and first.firings == []
        (firing,) = agent.tick(now + timedelta(minutes=3)).firings  # 2 windows: fire
        again = agent.tick(now + timedelta(minutes=4))  # the same alert: not again
        assert again.monitor_windows == 1 and again.firings == []
    finally:
        agent.close()
    (alert,) = steward.monitoring.list_alerts(source="monitor:scores")
    assert firing.state == FiringState.SUCCEEDED and firing.key == f"alert:{alert.id}"
    assert firing.cause["rule"] == "drift.share > 0.3" and firing.cause["windows"] == 2
    assert len(steward.monitoring.monitor_results("scores")) == 4  # the agent ran the monitor


def test_performance_trigger_fires_on_a_drop_below_the_threshold(any_workspace: Any) -> None:
    train = frame(400, seed=0).assign(target=lambda d: truth(d))
    steward.data.add("train", train)
    with steward.start_run():
        steward.models.log(
            LogisticRegression().fit(train[FEATURES], train["target"]),
            input_example=train[FEATURES].head(2),
            register="churn",
        )
    steward.models.set_alias("churn", "champion", 1)
    steward.data.add("scores", _scores(0.0, seed=1))
    steward.monitoring.create_monitor(
        "scores", model="churn@champion", table="dataset:scores", reference="train:1",
        window="100 rows", target_column="label", features=FEATURES,
    )  # fmt: skip
    steward.triggers.add("drop", PIPELINE, performance="churn:accuracy<0.6", params={"path": "o"})
    agent = Agent(any_workspace, run_monitors=False)
    try:
        good = steward.monitoring.run_monitor("scores")
        assert good.metrics["performance.accuracy"] > 0.8
        assert agent.tick().firings == []
        steward.data.add("scores", _scores(0.0, seed=2, flip=True))  # labels say it is wrong
        bad = steward.monitoring.run_monitor("scores")
        assert bad.metrics["performance.accuracy"] < 0.3
        (firing,) = agent.tick().firings
        steward.monitoring.run_monitor("scores")  # still low: the same run of low windows
        assert agent.tick().firings == []
    finally:
        agent.close()
    assert firing.state == FiringState.SUCCEEDED and firing.model == "churn"
    assert firing.key == f"performance:scores:{bad.id}"
    assert firing.cause["metric"] == "accuracy" and firing.cause["value"] < 0.3
