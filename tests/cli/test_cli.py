"""The steward command: tables for people, JSON for scripts, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import steward
from steward.cli import app
from tests.services import run_steward

runner = CliRunner()


def _invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def two_runs(workspace: Any) -> list[str]:
    ids = []
    for index, model in enumerate(["rf", "lr"]):
        with steward.start_run(name=f"{model}-run", experiment="cli") as run:
            steward.log_params({"model": model, "seed": 1})
            steward.log_metric("acc", 0.8 + index / 10)
            ids.append(run.id)
    return ids


def test_experiments_create_and_list(workspace: Any) -> None:
    _invoke("experiments", "create", "triage", "--description", "clinic triage")
    listed = json.loads(_invoke("experiments", "list", "--json").stdout)
    assert [(item["name"], item["description"]) for item in listed] == [("triage", "clinic triage")]
    assert "triage" in _invoke("experiments", "list").output


def test_runs_list_filters_orders_and_prints_json(two_runs: list[str]) -> None:
    data = json.loads(
        _invoke(
            "runs",
            "list",
            "-e",
            "cli",
            "-f",
            "metrics.acc > 0.85",
            "-o",
            "metrics.acc DESC",
            "--json",
        ).output
    )
    assert [run["id"] for run in data["runs"]] == [two_runs[1]]
    assert data["runs"][0]["params"] == {"model": "lr", "seed": "1"}
    table = _invoke("runs", "list").output
    assert "rf-run" in table and "lr-run" in table


def test_runs_show_and_compare(two_runs: list[str]) -> None:
    shown = json.loads(_invoke("runs", "show", two_runs[0], "--history", "acc", "--json").stdout)
    assert shown["metrics"] == {"acc": 0.8}
    assert shown["history"][0]["value"] == 0.8
    assert "python" in shown["system_info"]
    assert "rf-run" in _invoke("runs", "show", two_runs[0][:8]).output
    compared = _invoke("runs", "compare", *two_runs).output
    assert "* param model" in compared
    assert "param seed" in compared and "* param seed" not in compared


def test_runs_delete_and_restore(two_runs: list[str]) -> None:
    _invoke("runs", "delete", two_runs[0])
    listed = json.loads(_invoke("runs", "list", "--json").stdout)
    assert [run["id"] for run in listed["runs"]] == [two_runs[1]]
    _invoke("runs", "restore", two_runs[0])
    assert len(json.loads(_invoke("runs", "list", "--json").stdout)["runs"]) == 2


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    result = run_steward(tmp_path, "runs", "list", "--filter", "metrics.acc >> 1")
    assert result.returncode == 1
    assert "error: invalid filter" in result.stderr
    assert "position 13" in result.stderr
    assert "Traceback" not in result.stderr
    missing = run_steward(tmp_path, "runs", "show", "0123456789abcdef")
    assert missing.returncode == 1
    assert "no run with id" in missing.stderr
    debug = run_steward(tmp_path, "--debug", "runs", "show", "0123456789abcdef")
    assert "Traceback" in debug.stderr


def test_compare_needs_two_runs(two_runs: list[str]) -> None:
    with pytest.raises(steward.InvalidInput, match="at least two"):
        runner.invoke(app, ["runs", "compare", two_runs[0]], catch_exceptions=False)
