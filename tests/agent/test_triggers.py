"""Triggers: adding, listing, pausing, deleting; every bad input named; audited (SQLite and
PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import steward
from steward.errors import Conflict, InvalidInput, NotFound

PIPELINE = "tests.agent.flows:record"


def test_add_list_pause_resume_delete_and_audit(any_workspace: Any) -> None:
    steward.data.add("patients", pd.DataFrame({"x": [1, 2, 3]}))
    steward.models.create_model("churn")
    nightly = steward.triggers.add(
        "nightly", PIPELINE, cron="0 2 * * *", params={"path": "out.txt"}, model="churn"
    )
    fresh = steward.triggers.add("fresh", PIPELINE, new_data="patients")
    assert (nightly.kind, nightly.spec, nightly.model) == ("cron", {"cron": "0 2 * * *"}, "churn")
    assert (fresh.kind, fresh.spec, fresh.model) == ("new-data", {"dataset": "patients"}, None)
    assert nightly.params == {"path": "out.txt"} and not nightly.paused
    assert [t.name for t in steward.triggers.list_triggers()] == ["fresh", "nightly"]

    assert steward.triggers.pause("nightly").paused
    assert not steward.triggers.resume("nightly").paused
    steward.triggers.delete("fresh")
    with pytest.raises(NotFound, match="no trigger named 'fresh'"):
        steward.triggers.get("fresh")

    actions = [
        (e.action, e.subject)
        for e in any_workspace.store.audit.events(action="trigger.*", newest_first=False)
    ]
    assert actions == [
        ("trigger.create", "trigger:nightly"),
        ("trigger.create", "trigger:fresh"),
        ("trigger.pause", "trigger:nightly"),
        ("trigger.resume", "trigger:nightly"),
        ("trigger.delete", "trigger:fresh"),
    ]


def test_alert_and_performance_specs_are_checked_against_the_store(
    workspace: Any, tmp_path: Path
) -> None:
    steward.models.create_model("churn")
    steward.data.add("train", pd.DataFrame({"x": [1.0, 2.0]}))
    steward.monitoring.create_monitor(
        "nightly",
        table="dataset:train",
        reference="train:1",
        window="500 rows",
        rules=["drift.share > 0.3"],
    )
    any_alert = steward.triggers.add("a", PIPELINE, alert="nightly")
    one_rule = steward.triggers.add("b", PIPELINE, alert="nightly:drift.share")
    assert any_alert.spec == {"monitor": "nightly", "rule": None}
    assert one_rule.spec == {"monitor": "nightly", "rule": "drift.share > 0.3"}
    drop = steward.triggers.add("c", PIPELINE, performance="churn:f1<0.8")
    assert drop.spec == {"model": "churn", "metric": "f1", "threshold": 0.8}
    assert drop.model == "churn"  # a performance trigger counts against its model's budget

    with pytest.raises(NotFound, match=r"no alert rule 'nulls'.*drift\.share > 0\.3"):
        steward.triggers.add("d", PIPELINE, alert="nightly:nulls")
    with pytest.raises(NotFound, match="no monitor named 'nope'"):
        steward.triggers.add("d", PIPELINE, alert="nope")
    with pytest.raises(NotFound, match="'ghost'"):
        steward.triggers.add("d", PIPELINE, performance="ghost:f1<0.8")
    with pytest.raises(InvalidInput, match="MODEL:METRIC<THRESHOLD"):
        steward.triggers.add("d", PIPELINE, performance="churn:f1>0.8")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"cron": "61 * * * *"}, InvalidInput, "cron minute field '61'"),
        ({"cron": "0 25 * * *"}, InvalidInput, "cron hour field '25'"),
        ({"cron": "0 0 * * mon-xyz"}, InvalidInput, "cron day of week field"),
        ({"cron": "0 0 *"}, InvalidInput, "has 3 field"),
        ({"new_data": "nope"}, NotFound, "nope"),
        ({}, InvalidInput, "exactly one of"),
        ({"cron": "@daily", "new_data": "patients"}, InvalidInput, "exactly one of"),
    ],
)
def test_bad_causes_are_named(
    workspace: Any, kwargs: dict[str, str], error: type[Exception], message: str
) -> None:
    steward.data.add("patients", pd.DataFrame({"x": [1]}))
    with pytest.raises(error, match=message):
        steward.triggers.add("t", PIPELINE, **kwargs)
    assert steward.triggers.list_triggers() == []


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ("jobs/train.py:record", "not a dotted import path"),
        ("/tmp/evil.py:run", "not a dotted import path"),
        ("os:system; rm -rf /", "not a dotted import path"),
        ("tests.agent.flows", "not a dotted import path"),
        ("no_such_package.jobs:train", "module 'no_such_package.jobs' cannot be found"),
    ],
)
def test_pipeline_must_be_an_importable_dotted_path(
    workspace: Any, pipeline: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        steward.triggers.add("t", pipeline, cron="@hourly")


def test_names_models_and_duplicates(workspace: Any) -> None:
    steward.triggers.add("t", PIPELINE, cron="@hourly")
    with pytest.raises(Conflict, match="a trigger named 't' exists"):
        steward.triggers.add("t", PIPELINE, cron="@daily")
    with pytest.raises(InvalidInput, match="trigger name"):
        steward.triggers.add("../t", PIPELINE, cron="@daily")
    with pytest.raises(NotFound, match="'nope'"):
        steward.triggers.add("u", PIPELINE, cron="@daily", model="nope")
    assert steward.triggers.get("t").spec == {"cron": "@hourly"}


def test_cli_add_list_show_history_and_errors(workspace: Any, steward_cli: Any) -> None:
    steward.data.add("patients", pd.DataFrame({"x": [1]}))
    code, out, err = steward_cli(
        "trigger",
        "add",
        "fresh",
        "--pipeline",
        PIPELINE,
        "--on",
        "new-data",
        "patients",
        "--param",
        "path=out.txt",
    )
    assert code == 0, err
    assert "added trigger fresh: new data in patients → tests.agent.flows:record" in out
    code, out, _ = steward_cli(
        "trigger", "add", "hourly", "--pipeline", PIPELINE, "--cron", "@hourly"
    )
    assert code == 0
    code, out, _ = steward_cli("trigger", "list")
    assert code == 0 and "fresh" in out and "cron @hourly" in out
    code, out, _ = steward_cli("trigger", "show", "fresh", "--json")
    assert code == 0 and '"path": "out.txt"' in out
    code, out, _ = steward_cli("trigger", "history", "fresh", "--json")
    assert code == 0 and out.strip() == "[]"

    code, _, err = steward_cli(
        "trigger", "add", "bad", "--pipeline", PIPELINE, "--cron", "0 0 32 * *"
    )
    assert code == 1 and "cron day of month field '32'" in err and "Traceback" not in err
    code, _, err = steward_cli(
        "trigger", "add", "bad", "--pipeline", PIPELINE, "--on", "new-data", "ghost"
    )
    assert code == 1 and "ghost" in err
    code, _, err = steward_cli(
        "trigger", "add", "bad", "--pipeline", PIPELINE, "--on", "weather", "rain"
    )
    assert code == 1 and "'weather' is not a trigger kind" in err
    steward.models.create_model("churn")
    code, out, err = steward_cli(
        "trigger", "add", "drop", "--pipeline", PIPELINE, "--on", "performance", "churn:f1<0.8"
    )
    assert code == 0 and "performance churn:f1<0.8 → tests.agent.flows:record" in out, err
    code, out, _ = steward_cli("trigger", "delete", "drop")
    assert code == 0 and "deleted trigger drop" in out
    code, _, err = steward_cli("trigger", "pause", "ghost")
    assert code == 1 and "no trigger named 'ghost'" in err
    assert [t.name for t in steward.triggers.list_triggers()] == ["fresh", "hourly"]


def test_a_pipeline_module_in_the_current_folder_is_found(workspace: Any, tmp_path: Path) -> None:
    (tmp_path / "local_jobs_for_trigger.py").write_text(
        "import steward\n\n@steward.step\ndef one() -> int:\n    return 1\n\n"
        "@steward.pipeline\ndef flow() -> int:\n    return one()\n"
    )
    added = steward.triggers.add("local", "local_jobs_for_trigger:flow", cron="@daily")
    assert added.pipeline == "local_jobs_for_trigger:flow"
