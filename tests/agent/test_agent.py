"""The agent: fires each cause once, within budget, holds the lease alone, and records
everything (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import steward
from steward.agent import Agent, FiringState

PIPELINE = "tests.agent.flows:record"


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_new_data_fires_once_per_version(any_workspace: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    steward.data.add("patients", pd.DataFrame({"x": [1, 2]}))
    steward.triggers.add("fresh", PIPELINE, new_data="patients", params={"path": str(out)})
    agent = Agent(any_workspace)
    try:
        assert agent.tick().firings == []  # the version before the trigger is not a cause
        steward.data.add("patients", pd.DataFrame({"x": [1, 2, 3]}))
        (firing,) = agent.tick().firings
        assert firing.state == FiringState.SUCCEEDED, firing.reason
        assert firing.key == "new-data:patients:2" and firing.cause["version"] == 2
        assert firing.pipeline_run_id is not None and firing.cpu_seconds is not None
        assert firing.wall_seconds is not None and firing.wall_seconds >= 0
        assert steward.pipelines.get_run(firing.pipeline_run_id).status.value == "FINISHED"
        assert agent.tick().firings == []  # nothing new: nothing fired
        steward.data.add("patients", pd.DataFrame({"x": [4]}))
        steward.data.add("patients", pd.DataFrame({"x": [5]}))
        (again,) = agent.tick().firings  # two versions at once: one firing, the newest
        assert again.key == "new-data:patients:4" and again.cause["versions_seen"] == 2
    finally:
        agent.close()
    assert [f.key for f in steward.triggers.history("fresh")] == [
        "new-data:patients:4",
        "new-data:patients:2",
    ]
    # The pipeline declares ``cause``: each run got what fired it (no stale cache hit).
    assert _lines(out) == ["run new-data:patients:2", "run new-data:patients:4"]
    actions = [
        e.action for e in any_workspace.store.audit.events(action="firing.*", newest_first=False)
    ]
    assert actions == ["firing.plan", "firing.started", "firing.run", "firing.succeeded"] * 2


def test_new_data_of_a_dataset_with_a_longer_name_is_not_a_cause(
    any_workspace: Any, tmp_path: Path
) -> None:
    steward.data.add("patients", pd.DataFrame({"x": [1]}))
    steward.data.add("patients:eu", pd.DataFrame({"x": [1]}))
    steward.triggers.add("fresh", PIPELINE, new_data="patients", params={"path": "o.txt"})
    agent = Agent(any_workspace)
    try:
        steward.data.add("patients:eu", pd.DataFrame({"x": [2]}))
        assert agent.tick().firings == []
        steward.data.add("patients", pd.DataFrame({"x": [2]}))
        assert [f.key for f in agent.tick().firings] == ["new-data:patients:2"]
    finally:
        agent.close()


def test_cron_fires_the_latest_missed_slot_once(any_workspace: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    steward.triggers.add("hourly", PIPELINE, cron="0 * * * *", params={"path": str(out)})
    agent = Agent(any_workspace)
    start = datetime.now(UTC)
    try:
        assert agent.tick(start).firings == []
        later = start + timedelta(hours=3, minutes=1)
        (firing,) = agent.tick(later).firings
        slot = later.replace(minute=0, second=0, microsecond=0)
        assert firing.key == f"cron:{slot.isoformat()}" and firing.cause["slot"] == slot.isoformat()
        assert agent.tick(later).firings == []
        assert len(agent.tick(later + timedelta(hours=1)).firings) == 1
    finally:
        agent.close()


def test_paused_trigger_fires_nothing_even_after_resume(any_workspace: Any, tmp_path: Path) -> None:
    steward.data.add("patients", pd.DataFrame({"x": [1]}))
    steward.triggers.add("fresh", PIPELINE, new_data="patients", params={"path": "o.txt"})
    steward.triggers.pause("fresh")
    agent = Agent(any_workspace)
    try:
        steward.data.add("patients", pd.DataFrame({"x": [2]}))
        assert agent.tick().firings == []
        steward.triggers.resume("fresh")
        assert agent.tick().firings == []  # what came while paused is not fired later
        steward.data.add("patients", pd.DataFrame({"x": [3]}))
        assert [f.key for f in agent.tick().firings] == ["new-data:patients:3"]
    finally:
        agent.close()


def test_budget_skips_are_recorded_and_notified(
    any_workspace: Any, tmp_path: Path, receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEWARD_ALERT_ALLOWED_HOSTS", "127.0.0.0/8")
    steward.models.create_model("churn")
    steward.data.add("patients", pd.DataFrame({"x": [1]}))
    steward.agent.set_budget(
        "churn", max_per_day=1, channels=[f"webhook:{receiver.url}"], min_interval="1h"
    )
    steward.triggers.add(
        "fresh", PIPELINE, new_data="patients", params={"path": "o.txt"}, model="churn"
    )
    agent = Agent(any_workspace)
    try:
        steward.data.add("patients", pd.DataFrame({"x": [2]}))
        (ran,) = agent.tick().firings
        steward.data.add("patients", pd.DataFrame({"x": [3]}))
        (skipped,) = agent.tick().firings
    finally:
        agent.close()
    assert ran.state == FiringState.SUCCEEDED
    assert skipped.state == FiringState.SKIPPED and skipped.pipeline_run_id is None
    assert skipped.reason == "budget: 1 retrain(s) of churn in the last 24 h (max 1)"
    (sent,) = receiver.bodies
    assert "budget: 1 retrain(s) of churn" in str(sent)
    report = steward.agent.show_budget("churn")
    assert (report.runs_day, report.runs_week) == (1, 1)
    assert report.cpu_seconds == pytest.approx(ran.cpu_seconds)
    assert report.last_started_at == ran.started_at
    (event,) = any_workspace.store.audit.events(action="firing.skip")
    assert event.reason == skipped.reason


def test_min_interval_and_cpu_budget(any_workspace: Any) -> None:
    steward.models.create_model("churn")
    steward.agent.set_budget("churn", min_interval="2h")
    steward.triggers.add(
        "hourly", PIPELINE, cron="0 * * * *", params={"path": "o.txt"}, model="churn"
    )
    agent = Agent(any_workspace)
    now = datetime.now(UTC)
    try:
        (first,) = agent.tick(now + timedelta(hours=1)).firings
        (second,) = agent.tick(now + timedelta(hours=2)).firings
    finally:
        agent.close()
    assert first.state == FiringState.SUCCEEDED
    assert second.state == FiringState.SKIPPED
    assert "less than the minimum interval of 7200 s" in (second.reason or "")
    budget = steward.agent.set_budget("churn", max_cpu_seconds=0, period="week")
    assert (budget.min_interval_s, budget.max_cpu_seconds, budget.period) == (7200, 0, "week")
    assert steward.agent.set_budget("churn", reset=True).min_interval_s is None


def test_a_failing_pipeline_is_recorded_and_notified(
    any_workspace: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    steward.data.add("patients", pd.DataFrame({"x": [1]}))
    steward.triggers.add(
        "fresh",
        "tests.agent.flows:broken",
        new_data="patients",
        params={"path": str(tmp_path / "b.txt")},
    )
    agent = Agent(any_workspace)
    try:
        steward.data.add("patients", pd.DataFrame({"x": [2]}))
        with caplog.at_level(logging.INFO):
            (firing,) = agent.tick().firings
    finally:
        agent.close()
    assert firing.state == FiringState.FAILED
    assert "the retraining data is unreadable" in (firing.reason or "")
    assert steward.pipelines.get_run(firing.pipeline_run_id or "").status.value == "FAILED"
    assert any(
        "FAILED" in r.getMessage() and "retraining" in r.getMessage() for r in caplog.records
    )


def test_second_agent_waits_and_says_who_holds_the_lease(
    any_workspace: Any, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = Agent(any_workspace), Agent(any_workspace, lease_ttl_s=30)
    try:
        assert first.tick().holding
        with caplog.at_level(logging.INFO, logger="steward.agent"):
            report = second.tick()
            second.tick()
        assert not report.holding and report.held_by is not None
        assert report.held_by.holder == first.lease.holder
        waiting = [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()]
        assert len(waiting) == 1  # said once, not every tick
        assert f"pid {report.held_by.pid}" in waiting[0] and "since" in waiting[0]
        first.close()  # a clean stop gives the lease up: the second takes it at once
        assert second.tick().holding
        lease, _ = steward.agent.status()
        assert lease is not None and lease.holder == second.lease.holder
    finally:
        first.close()
        second.close()


def test_an_expired_lease_is_taken_over(any_workspace: Any) -> None:
    silent = Agent(any_workspace, lease_ttl_s=0.3)
    silent.tick()
    silent.lease._stop.set()  # it stops renewing, as a hung process would
    other = Agent(any_workspace)
    try:
        assert not other.tick().holding
        deadline = datetime.now(UTC) + timedelta(seconds=5)
        while not other.tick().holding:
            assert datetime.now(UTC) < deadline, "the expired lease was never taken over"
        (event,) = any_workspace.store.audit.events(action="agent.lease.acquire", limit=1)
        assert event.to_state == other.lease.holder and "expired" in (event.reason or "")
    finally:
        other.close()


def test_interrupted_firings_are_finished_not_repeated(any_workspace: Any, tmp_path: Path) -> None:
    """What a killed agent can leave: a planned firing (started now), and a started one
    whose run exists but whose id was not written yet (found by its name, not rerun)."""
    from steward.agent.firing import run_name

    out = tmp_path / "out.txt"
    steward.triggers.add("hourly", PIPELINE, cron="0 * * * *", params={"path": str(out)})
    store, actor = any_workspace.store.agent, any_workspace.actor
    cursor = steward.triggers.get("hourly").cursor
    planned = store.plan_firing(
        "hourly", key="cron:a", cause={}, cursor=cursor, agent="x", actor=actor
    )
    started = store.plan_firing(
        "hourly", key="cron:b", cause={}, cursor=cursor, agent="x", actor=actor
    )
    assert planned is not None and started is not None
    started = store.update_firing(started.id, FiringState.STARTED, actor=actor)
    ran = steward.pipelines.run(
        "tests.agent.flows:record",
        {"path": str(out), "label": "before the kill"},
        run_name=run_name(started),
    )
    agent = Agent(any_workspace)
    try:
        finished = agent.tick(datetime.fromtimestamp(cursor / 1000, UTC)).firings
    finally:
        agent.close()
    assert {f.id: f.state for f in finished} == {
        planned.id: FiringState.SUCCEEDED,
        started.id: FiringState.SUCCEEDED,
    }
    (by_name,) = [f for f in finished if f.id == started.id]
    assert by_name.pipeline_run_id == ran.id  # found, not run again
    assert _lines(out) == ["before the kill", "run cron:a"]


def test_two_agents_starting_at_once_one_holds(any_workspace: Any) -> None:
    import threading

    agents = [Agent(any_workspace), Agent(any_workspace)]
    barrier = threading.Barrier(2)
    reports: list[Any] = [None, None]

    def start(index: int) -> None:
        barrier.wait()
        reports[index] = agents[index].tick()

    threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(report.holding for report in reports) == [False, True]
        waiting = next(report for report in reports if not report.holding)
        holder = next(agent for agent in agents if agent.lease.held)
        assert waiting.held_by.holder == holder.lease.holder
    finally:
        for agent in agents:
            agent.close()
