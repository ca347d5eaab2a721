"""Nothing logged is lost when a process exits, crashes, is killed, or has company.

These tests run real Python processes against a real SQLite store.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from steward.store.records import RunStatus
from steward.workspace import open_workspace
from tests.services import spawn_steward_script


def _spawn(home: Path, body: str) -> subprocess.Popen[str]:
    return spawn_steward_script(body, home)


def _wait_for_line(process: subprocess.Popen[str], expected: str) -> None:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line == expected, (line, process.stderr.read() if process.stderr else "")


def _only_run(home: Path):  # type: ignore[no-untyped-def]
    workspace = open_workspace(home=home)
    runs = workspace.tracking.search_runs().runs
    assert len(runs) == 1
    return workspace, runs[0]


def test_uncaught_exception_marks_failed_and_keeps_metrics(tmp_path: Path) -> None:
    process = _spawn(
        tmp_path,
        """
        steward.start_run(name="crashes")
        for step in range(100):
            steward.log_metric("loss", 1 / (step + 1))
        raise SystemError("boom")
        """,
    )
    process.wait(timeout=60)
    assert process.returncode == 1
    workspace, run = _only_run(tmp_path)
    assert run.status == RunStatus.FAILED
    assert len(workspace.tracking.metric_history(run.id, "loss")) == 100


def test_normal_exit_without_end_run_finishes_the_run(tmp_path: Path) -> None:
    process = _spawn(
        tmp_path,
        """
        steward.start_run()
        steward.log_metrics({"a": 1.0, "b": 2.0})
        """,
    )
    assert process.wait(timeout=60) == 0
    _, run = _only_run(tmp_path)
    assert run.status == RunStatus.FINISHED
    assert run.metrics == {"a": 1.0, "b": 2.0}


def test_sigterm_marks_killed_and_keeps_unflushed_metrics(tmp_path: Path) -> None:
    process = _spawn(
        tmp_path,
        """
        steward.start_run()
        for step in range(500):
            steward.log_metric("m", step)
        print("ready")
        time.sleep(60)
        """,
    )
    _wait_for_line(process, "ready")
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGTERM
    workspace, run = _only_run(tmp_path)
    assert run.status == RunStatus.KILLED
    assert len(workspace.tracking.metric_history(run.id, "m")) == 500


def test_ctrl_c_marks_killed(tmp_path: Path) -> None:
    process = _spawn(
        tmp_path,
        """
        with steward.start_run():
            steward.log_metric("m", 1.0)
            print("ready")
            time.sleep(60)
        """,
    )
    _wait_for_line(process, "ready")
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    _, run = _only_run(tmp_path)
    assert run.status == RunStatus.KILLED
    assert run.metrics == {"m": 1.0}


def test_flushed_metrics_survive_kill_minus_nine(tmp_path: Path) -> None:
    process = _spawn(
        tmp_path,
        """
        steward.start_run()
        for step in range(1000):
            steward.log_metric("m", step)
        steward.flush()
        print("flushed")
        time.sleep(60)
        """,
    )
    _wait_for_line(process, "flushed")
    process.kill()
    process.wait(timeout=30)
    workspace, run = _only_run(tmp_path)
    assert run.status == RunStatus.RUNNING  # nobody could mark it: the process died at once
    history = workspace.tracking.metric_history(run.id, "m")
    assert [point.value for point in history] == [float(step) for step in range(1000)]


@pytest.mark.slow
def test_eight_processes_logging_at_once_lose_nothing(tmp_path: Path) -> None:
    processes = [
        _spawn(
            tmp_path,
            f"""
            with steward.start_run(name="writer-{index}"):
                steward.log_params({{"writer": {index}, "kind": "concurrent"}})
                for step in range(2000):
                    steward.log_metric("m", step)
                    if step % 250 == 0:
                        steward.flush()
                        steward.set_tag("progress", step)
            """,
        )
        for index in range(8)
    ]
    errors = []
    for process in processes:
        _, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stderr
        errors.append(stderr)
    assert not any("locked" in text.lower() for text in errors)
    workspace = open_workspace(home=tmp_path)
    runs = workspace.tracking.search_runs().runs
    assert len(runs) == 8
    assert {run.params["writer"] for run in runs} == {str(index) for index in range(8)}
    for run in runs:
        assert run.status == RunStatus.FINISHED
        history = workspace.tracking.metric_history(run.id, "m")
        assert [point.step for point in history] == list(range(2000))
