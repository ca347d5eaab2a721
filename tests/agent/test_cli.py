"""``steward agent``, ``steward agent status`` and ``steward budget`` as users run them."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

import steward
from steward.agent import Agent


def test_agent_once_fires_and_status_shows_it(workspace: Any, steward_cli: Any) -> None:
    steward.data.add("patients", pd.DataFrame({"x": [1]}))
    steward.triggers.add(
        "fresh", "tests.agent.flows:record", new_data="patients", params={"path": "o.txt"}
    )
    code, out, _ = steward_cli("agent", "status")
    assert code == 0 and "no agent has run in this workspace" in out
    steward.data.add("patients", pd.DataFrame({"x": [2]}))
    code, out, err = steward_cli("agent", "--once")
    assert code == 0, err
    assert "1 firing(s), 0 monitor window(s)" in out
    for action in (
        "holding the agent lease",
        "planned: new-data:patients:2",
        "started",
        "succeeded",
    ):
        assert action in err, err
    assert "released the agent lease" in err
    code, out, _ = steward_cli("agent", "status")
    assert code == 0 and "not running" in out and "last tick -" not in out
    code, out, _ = steward_cli("agent", "status", "--json")
    status = json.loads(out)
    assert status["firings"][0]["state"] == "succeeded" and status["lease"]["pid"] > 0
    assert status["firings"][0]["key"] == "new-data:patients:2"
    assert status["lease"]["last_tick_at"] is not None
    code, out, _ = steward_cli("trigger", "history", "--json")
    assert [f["key"] for f in json.loads(out)] == ["new-data:patients:2"]


def test_a_second_agent_says_who_holds_the_lease(workspace: Any, steward_cli: Any) -> None:
    holder = Agent(workspace)
    try:
        assert holder.tick().holding
        code, _, err = steward_cli("agent", "--once")
        assert code == 1
        assert "waiting: the agent lease is held by host" in err
        assert f"pid {holder.lease.pid} since" in err
        code, out, _ = steward_cli("agent", "status")
        assert code == 0 and "agent running" in out
    finally:
        holder.close()
    code, _, err = steward_cli("agent", "--once", "--poll", "0")
    assert code == 1 and "--poll and --lease-ttl must be positive" in err


def test_budget_set_and_show(workspace: Any, steward_cli: Any) -> None:
    steward.models.create_model("churn")
    code, out, err = steward_cli(
        "budget", "set", "churn", "--max-per-day", "2", "--max-per-week", "5",
        "--max-cpu-seconds", "600", "--min-interval", "6h", "--persistence", "3",
    )  # fmt: skip
    assert code == 0, err
    assert "runs, last 24 h" in out and "min interval 21600 s" in out
    code, out, _ = steward_cli("budget", "show", "churn", "--json")
    shown = json.loads(out)
    assert shown["budget"]["max_per_day"] == 2 and shown["budget"]["persistence"] == 3
    assert shown["spend"] == {
        "runs_day": 0,
        "runs_week": 0,
        "period": "day",
        "cpu_seconds": 0,
        "wall_seconds": 0,
        "last_started_at": None,
    }
    for args, message in (
        (["budget", "set", "ghost", "--max-per-day", "1"], "'ghost'"),
        (["budget", "set", "churn", "--max-per-day", "-1"], "max per day must be at least 0"),
        (["budget", "set", "churn", "--period", "month"], "period must be 'day' or 'week'"),
        (["budget", "set", "churn", "--min-interval", "soon"], "'soon' is not understood"),
        (["budget", "set", "churn", "--persistence", "0"], "persistence must be at least 1"),
        (["budget", "set", "churn", "--channel", "pigeon:coop"], "pigeon"),
    ):
        code, _, err = steward_cli(*args)
        assert code == 1 and message in err and "Traceback" not in err, (args, err)
    assert steward.agent.show_budget("churn").budget.max_per_day == 2  # type: ignore[union-attr]
    (event,) = workspace.store.audit.events(action="budget.set")
    assert event.subject == "budget:churn"


def test_agent_commands_refuse_a_server_workspace(
    workspace: Any, steward_cli: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("STEWARD_URI", "http://127.0.0.1:9")
    steward.use_workspace(None)
    for args in (
        ["agent", "--once"],
        ["agent", "status"],
        ["trigger", "list"],
        ["budget", "show", "m"],
    ):
        code, _, err = steward_cli(*args)
        assert code == 1 and "not through a Steward server" in err, (args, err)
