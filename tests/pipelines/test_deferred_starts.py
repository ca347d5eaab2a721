"""Inline steps' runs are written with their ends, unless the step uses its run or runs long."""

from __future__ import annotations

from typing import Any

import pytest

import steward
from steward.pipelines import deferred_starts
from tests.pipelines import flows


def test_a_step_that_uses_its_run_finds_it_stored(any_workspace: Any) -> None:
    record = flows.introspection()
    seen = steward.pipelines.load(record)
    (step,) = record.steps
    assert seen == {"id": step.run_id, "status": "RUNNING", "inner_parent": step.run_id}
    run = steward.get_run(step.run_id)
    assert run.status == steward.RunStatus.FINISHED and run.parent_id == record.id
    assert run.params["seen"] == "yes"
    assert {"duration_s", "cpu_seconds"} <= set(run.metrics)


def test_a_long_step_shows_as_running_while_it_runs(
    any_workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deferred_starts, "STORE_AFTER_S", 0.05)
    record = flows.long_step()
    assert steward.pipelines.load(record) is True
    (step,) = record.steps
    assert step.status == steward.pipelines.StepStatus.COMPLETED
    run = steward.get_run(step.run_id)
    assert run.status == steward.RunStatus.FINISHED
    assert run.start_time <= run.end_time
