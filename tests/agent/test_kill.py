"""An agent killed with SIGKILL mid-firing and restarted finishes the firing exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import steward
from steward.agent import FiringState

REPO = Path(__file__).resolve().parents[2]


def _agent(ws: Any, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "STEWARD_HOME": str(ws.settings.home),
        "STEWARD_STORE_URL": ws.store.url,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "steward.cli", "agent", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.slow
def test_kill_9_mid_firing_then_restart_finishes_it_once(
    any_workspace: Any, tmp_path: Path
) -> None:
    marks = tmp_path / "marks.txt"
    steward.data.add("patients", pd.DataFrame({"x": [1]}))
    steward.triggers.add(
        "fresh",
        "tests.agent.flows:sleepy",
        new_data="patients",
        params={"path": str(marks), "seconds": 3.0},
    )
    steward.data.add("patients", pd.DataFrame({"x": [2]}))

    first = _agent(any_workspace, "--poll", "0.2")
    try:
        _wait_for(lambda: marks.exists() and "start" in marks.read_text(), 60, "the step")
    finally:
        first.send_signal(signal.SIGKILL)
        output = first.communicate(timeout=30)[0]
    assert first.returncode == -signal.SIGKILL, output
    (interrupted,) = steward.triggers.history("fresh")
    assert interrupted.state == FiringState.STARTED and interrupted.pipeline_run_id, output
    assert marks.read_text().splitlines() == ["start"]

    second = _agent(any_workspace, "--once")
    output = second.communicate(timeout=120)[0]
    assert second.returncode == 0, output
    assert "resuming its pipeline run" in output and "succeeded" in output

    (firing,) = steward.triggers.history("fresh")  # one firing: not lost, not doubled
    assert firing.id == interrupted.id and firing.state == FiringState.SUCCEEDED
    assert marks.read_text().splitlines() == ["start", "start", "done"]  # done once
    finished = steward.pipelines.get_run(firing.pipeline_run_id or "")
    assert finished.status.value == "FINISHED"
    assert finished.resumed_from == interrupted.pipeline_run_id

    third = _agent(any_workspace, "--once")  # nothing left to do
    output = third.communicate(timeout=60)[0]
    assert third.returncode == 0 and "0 firing(s)" in output, output
    assert len(steward.triggers.history("fresh")) == 1


@pytest.mark.slow
def test_sigterm_stops_the_agent_cleanly_and_frees_the_lease(workspace: Any) -> None:
    agent = _agent(workspace, "--poll", "0.2")
    try:
        _wait_for(lambda: workspace.store.agent_lease.get() is not None, 60, "the lease")
    finally:
        agent.send_signal(signal.SIGTERM)
        output = agent.communicate(timeout=30)[0]
    assert agent.returncode == 0, output
    assert "agent started (poll 0.2 s)" in output and "released the agent lease" in output
    lease = workspace.store.agent_lease.get()
    assert lease is not None and lease.pid == agent.pid
    (released,) = workspace.store.audit.events(action="agent.lease.release")
    assert released.from_state == lease.holder
    second = _agent(workspace, "--once")  # the next agent starts at once
    output = second.communicate(timeout=60)[0]
    assert second.returncode == 0 and "waiting" not in output, output
