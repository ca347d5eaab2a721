"""The process executor: independent steps in parallel, a killed worker fails only its step."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import steward
from steward.errors import InvalidInput, PipelineFailed
from tests.pipelines import flows
from tests.pipelines.helpers import kill_when_started


def test_independent_steps_run_side_by_side_in_worker_processes(
    workspace: Any, tmp_path: Path
) -> None:
    (tmp_path / "meeting").mkdir()
    met = flows.meeting.run({"folder": str(tmp_path / "meeting")}, executor="process")
    assert steward.pipelines.load(met) == [True, True]  # the two ran side by side
    record = flows.fan_out.run({"width": 2, "seconds": 1.0}, executor="process")
    assert record.executor == "process"
    results = steward.pipelines.load(record)
    assert {result["pid"] for result in results}.isdisjoint({os.getpid()})
    first = results[0]
    steps = {step.name: step for step in record.steps}
    assert steps["sleepy"].worker and str(first["pid"]) in steps["sleepy"].worker + str(
        steps["sleepy_2"].worker
    )
    assert steps["sleepy"].duration_s is not None and steps["sleepy"].duration_s >= 1.0
    # Outputs written by workers are read back, and cached, like inline ones.
    again = flows.fan_out.run({"width": 2, "seconds": 1.0}, executor="inline")
    assert {step.status.value for step in again.steps} == {"cached"}


def test_a_killed_worker_fails_its_step_and_resume_completes(
    workspace: Any, tmp_path: Path
) -> None:
    pid_file, release = tmp_path / "pid", tmp_path / "release"

    killer = kill_when_started(pid_file)
    with pytest.raises(PipelineFailed) as caught:
        flows.killable.run({"pid_file": str(pid_file), "release": str(release)}, executor="process")
    killer.join()
    record = caught.value.run
    steps = {step.name: step for step in record.steps}
    assert steps["wait_to_be_killed"].status.value == "failed"
    assert "killed by SIGKILL" in steps["wait_to_be_killed"].error
    assert steps["plus_one"].status.value == "skipped"
    assert steward.get_run(steps["wait_to_be_killed"].run_id).status == steward.RunStatus.FAILED

    release.write_text("go")
    resumed = steward.pipelines.resume(record.id)
    assert resumed.status == steward.RunStatus.FINISHED and resumed.executor == "process"
    assert steward.pipelines.load(resumed) == int(pid_file.read_text()) + 1


def test_a_step_that_cannot_reach_a_worker_fails_with_the_reason(workspace: Any) -> None:
    @steward.step
    def local_only(value: int) -> int:  # a closure: no module holds it
        return value

    @steward.pipeline
    def closure() -> Any:
        return local_only(1)

    record = closure.run(executor="process", raise_on_failure=False)
    assert record.steps[0].status.value == "failed"
    assert "define steps at the top level" in (record.steps[0].error or "")


def test_an_unknown_executor_is_refused(workspace: Any) -> None:
    with pytest.raises(InvalidInput, match="unknown executor 'dask'; choose one of inline"):
        flows.stats.run(executor="dask")
