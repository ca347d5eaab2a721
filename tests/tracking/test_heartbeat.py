"""Honest run state: a run whose process died is marked KILLED when next seen, a process
that was only asleep revives its run, and several processes log to one run
(``start_run(run_id=...)``). Real processes, killed and stopped with real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import steward
from steward.errors import InvalidInput, NotFound
from steward.governance.audit import audit_events, verify_audit
from steward.store.records import RunStatus
from tests.services import run_steward, spawn_steward_script, wait_until

FAST_BEAT = {"STEWARD_HEARTBEAT_INTERVAL": "0.2"}
"""Heartbeats every 0.2 s: a run is presumed dead 2 s after its last one."""


def _first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line, process.stderr.read() if process.stderr else ""
    return line


def _spawn(workspace: Any, body: str) -> subprocess.Popen[str]:
    return spawn_steward_script(
        body, workspace.settings.home, workspace.settings.store_url, env=FAST_BEAT
    )


def _events(run_id: str) -> list[Any]:
    return audit_events(subject=f"run:{run_id}", limit=None, newest_first=False)


def _audit_trail(run_id: str) -> list[tuple[str, str | None, str | None]]:
    return [(event.action, event.from_state, event.to_state) for event in _events(run_id)]


def test_a_run_killed_with_sigkill_is_marked_killed_when_next_seen(any_workspace: Any) -> None:
    process = _spawn(
        any_workspace,
        """
        run = steward.start_run(name="doomed")
        for step in range(50):
            steward.log_metric("loss", 1 / (step + 1))
        steward.flush()
        print(run.id, flush=True)
        time.sleep(120)
        """,
    )
    run_id = _first_line(process)
    time.sleep(0.6)  # a few heartbeats
    alive = steward.get_run(run_id)
    assert alive.status == RunStatus.RUNNING and alive.last_heartbeat is not None
    assert alive.last_heartbeat > alive.start_time  # the heartbeat moved on
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    killed_at = time.time()
    assert steward.get_run(run_id).status == RunStatus.RUNNING  # not yet: 2 s of grace

    assert wait_until(lambda: steward.get_run(run_id).status == RunStatus.KILLED, timeout=15)
    dead = steward.get_run(run_id)
    assert dead.heartbeat_lost and dead.end_time == dead.last_heartbeat
    assert dead.start_time < dead.end_time and dead.end_time.timestamp() <= killed_at + 0.1
    assert len(steward.get_metric_history(run_id, "loss")) == 50  # what it logged stays
    assert steward.search_runs(filter="status = 'RUNNING'").runs == []
    listed = run_steward(
        any_workspace.settings.home,
        "runs",
        "list",
        "--json",
        env={"STEWARD_STORE_URL": any_workspace.settings.store_url},
    )
    assert json.loads(listed.stdout)["runs"][0]["status"] == "KILLED", listed.stderr


@pytest.mark.parametrize("seen_by", ["get_run", "search_runs", "runs list"])
def test_every_way_of_seeing_a_dead_run_marks_it(any_workspace: Any, seen_by: str) -> None:
    tracking = any_workspace.tracking
    experiment = tracking.get_or_create_experiment("e")
    dead = tracking.create_run(experiment.id, name="dead", alive_ms=1)
    forever = tracking.create_run(experiment.id, name="no heartbeat kept", alive_ms=None)
    time.sleep(0.01)
    if seen_by == "get_run":
        assert steward.get_run(dead.id).status == RunStatus.KILLED
    elif seen_by == "search_runs":
        statuses = {run.name: run.status for run in steward.search_runs()}
        assert statuses == {"dead": RunStatus.KILLED, "no heartbeat kept": RunStatus.RUNNING}
    else:
        listed = run_steward(
            any_workspace.settings.home,
            "runs",
            "list",
            "--json",
            env={"STEWARD_STORE_URL": any_workspace.settings.store_url},
        )
        statuses = {run["name"]: run["status"] for run in json.loads(listed.stdout)["runs"]}
        assert statuses == {"dead": "KILLED", "no heartbeat kept": "RUNNING"}, listed.stderr
    assert steward.get_run(forever.id).status == RunStatus.RUNNING


def test_a_process_that_was_only_asleep_revives_its_run(any_workspace: Any) -> None:
    process = _spawn(
        any_workspace,
        """
        with steward.start_run(name="sleeper") as run:
            print(run.id, flush=True)
            for step in range(60):
                steward.log_metric("loss", 1 / (step + 1), step=step)
                time.sleep(0.05)
        """,
    )
    run_id = _first_line(process)
    time.sleep(0.3)
    os.kill(process.pid, signal.SIGSTOP)  # a laptop lid closes
    try:
        assert wait_until(lambda: steward.get_run(run_id).status == RunStatus.KILLED, timeout=15)
    finally:
        os.kill(process.pid, signal.SIGCONT)
    assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    run = steward.get_run(run_id)
    assert run.status == RunStatus.FINISHED and not run.heartbeat_lost
    assert [point.step for point in steward.get_metric_history(run_id, "loss")] == list(range(60))
    # Both changes Steward made on its own are in the audit log, attributed to it.
    trail = _audit_trail(run_id)
    assert trail[:3] == [
        ("run.start", None, "RUNNING"),
        ("run.end", "RUNNING", "KILLED"),
        ("run.reopen", "KILLED", "RUNNING"),
    ]
    assert trail[-1] == ("run.end", "RUNNING", "FINISHED")
    assert {
        event.actor for event in _events(run_id) if "KILLED" in (event.from_state, event.to_state)
    } == {"steward"}
    assert verify_audit().ok


WORKER = """
run_id, worker = sys.argv[1], int(sys.argv[2])
with steward.start_run(run_id=run_id, tags={{f"worker.{{worker}}": "done"}}) as run:
    assert run.joined
    steward.log_param(f"shard.{{worker}}", worker * 100)
    for step in range({steps}):
        steward.log_metric("loss", worker + step / 1000, step=worker * {steps} + step)
        steward.log_metric(f"loss.{{worker}}", step / 1000, step=step)
print("detached", flush=True)
"""


def test_two_processes_log_to_one_run(any_workspace: Any) -> None:
    steps = 200
    owner = steward.start_run(name="distributed", experiment="sharded")
    steward.log_param("workers", 2)
    script = WORKER.format(steps=steps)
    workers = []
    for worker in (1, 2):
        process = spawn_steward_script(
            f"sys.argv[1:] = [{owner.id!r}, '{worker}']\n" + script,
            any_workspace.settings.home,
            any_workspace.settings.store_url,
        )
        workers.append(process)
    for process in workers:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0 and out.strip() == "detached", err
    # The workers detached: the run is still the owner's, and still running.
    assert steward.get_run(owner.id).status == RunStatus.RUNNING
    steward.log_metric("accuracy", 0.9)
    owner.end()
    run = steward.get_run(owner.id)
    assert run.status == RunStatus.FINISHED
    assert run.params == {"workers": "2", "shard.1": "100", "shard.2": "200"}
    assert run.tags["worker.1"] == run.tags["worker.2"] == "done"
    assert run.metrics["accuracy"] == 0.9
    for worker in (1, 2):
        assert len(steward.get_metric_history(owner.id, f"loss.{worker}")) == steps
    assert len(steward.get_metric_history(owner.id, "loss")) == 2 * steps


def test_attaching_reopens_an_ended_run_and_ends_it_again(any_workspace: Any) -> None:
    with steward.start_run(name="evaluated later", experiment="e") as first:
        steward.log_metric("train.loss", 0.2)
    assert steward.get_run(first.id).status == RunStatus.FINISHED
    with steward.start_run(run_id=first.id) as again:
        assert not again.joined and steward.get_run(first.id).status == RunStatus.RUNNING
        steward.log_metric("test.accuracy", 0.91)
    run = steward.get_run(first.id)
    assert run.status == RunStatus.FINISHED and run.metrics == {
        "train.loss": 0.2,
        "test.accuracy": 0.91,
    }
    assert _audit_trail(first.id) == [
        ("run.start", None, "RUNNING"),
        ("run.end", "RUNNING", "FINISHED"),
        ("run.reopen", "FINISHED", "RUNNING"),
        ("run.end", "RUNNING", "FINISHED"),
    ]

    with pytest.raises(NotFound, match=r"no run with id .0000"):
        steward.start_run(run_id="0" * 32)
    with pytest.raises(InvalidInput, match="belongs to experiment 'e'"):
        steward.start_run(run_id=first.id, experiment="other")
    with pytest.raises(InvalidInput, match="is called 'evaluated later'"):
        steward.start_run(run_id=first.id, name="renamed")
    assert steward.active_run() is None


def test_a_joined_run_is_not_ended_by_the_joiner_leaving(
    any_workspace: Any, tmp_path: Path
) -> None:
    owner = steward.start_run(name="owner")
    process = spawn_steward_script(
        f"""
        run = steward.start_run(run_id={owner.id!r})
        steward.log_metric("from.worker", 1.0)
        # no end: the process exits with the run still open
        """,
        any_workspace.settings.home,
        any_workspace.settings.store_url,
    )
    assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    run = steward.get_run(owner.id)
    assert run.status == RunStatus.RUNNING and run.metrics == {"from.worker": 1.0}
    owner.end()
