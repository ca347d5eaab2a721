"""Inline steps' runs are written with their ends (together, in a few statements), unless
the step uses its run or runs long."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

import steward
from steward.pipelines import deferred_starts, runner
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


def test_step_runs_written_together_keep_their_own_values(any_workspace: Any) -> None:
    for record in (flows.chain(length=3, offset=7), flows.chain(length=3, offset=7)):
        for position, step in enumerate(record.steps):
            run = steward.get_run(step.run_id)
            assert run.status == steward.RunStatus.FINISHED and run.parent_id == record.id
            assert run.name == step.name and run.params["index"] == str(7 + position)
            assert run.tags["steward.step"] == step.name
            assert run.start_time <= run.end_time
    cold = steward.get_run(record.steps[0].run_id)  # the rerun's: a cache hit
    assert cold.tags["steward.cache"] == "hit"


def test_finished_step_runs_are_inserted_in_one_statement(
    workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steps' runs, each with its params, tags and metrics, take one statement per table
    however many steps there are (written one by one, that was seven per run)."""
    monkeypatch.setattr(runner, "FLUSH_INTERVAL_S", 3600.0)  # one finishing write
    flows.chain(length=1, offset=500)  # the experiment's first run creates it

    def inserts(length: int, offset: int) -> dict[str, int]:
        tables: dict[str, int] = {}

        def count(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
            words = statement.split()
            if words[:2] == ["INSERT", "INTO"]:
                tables[words[2]] = tables.get(words[2], 0) + 1

        event.listen(workspace.store.engine, "before_cursor_execute", count)
        record = flows.chain(length=length, offset=offset)
        event.remove(workspace.store.engine, "before_cursor_execute", count)
        assert {"duration_s", "cpu_seconds"} <= set(
            steward.get_run(record.steps[-1].run_id).metrics
        )
        return tables

    few, many = inserts(2, 0), inserts(20, 100)
    assert few == many
    assert many["runs"] == 2  # the pipeline's run, then its steps' runs together
