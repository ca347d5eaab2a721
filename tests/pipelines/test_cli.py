"""``steward pipeline run|list|show|resume`` through the real command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from steward.cli import app
from tests.pipelines.helpers import steward_cli

runner = CliRunner()

FLOW = """
from pathlib import Path

import steward


@steward.step
def numbers(n: int) -> list[int]:
    print("making", n)
    return list(range(n))


@steward.step
def checked(values: list[int], flag: str) -> int:
    if Path(flag).exists():
        raise RuntimeError("flag is up")
    return sum(values)


@steward.pipeline
def summing(n: int = 3, flag: str = "no-such-flag"):
    return checked(numbers(n), flag)
"""


def test_run_show_list_and_resume_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "summing_flow.py").write_text(FLOW)
    home = tmp_path / "home"
    flag = tmp_path / "flag"
    flag.write_text("up")

    failed = steward_cli(home, tmp_path, "pipeline", "run", "summing_flow:summing", "-p", "n=4",
                      "--param", f"flag={flag}")  # fmt: skip
    assert failed.returncode == 1
    assert "error:" in failed.stderr and "flag is up" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert "✓ numbers" in failed.stderr and "✗ checked" in failed.stderr
    listed = json.loads(steward_cli(home, tmp_path, "pipeline", "list", "--json").stdout)
    run_id = listed[0]["id"]
    assert listed[0]["status"] == "FAILED" and listed[0]["params"] == {"n": 4, "flag": str(flag)}

    shown = steward_cli(home, tmp_path, "pipeline", "show", run_id[:8])
    assert shown.returncode == 0, shown.stderr
    assert "numbers" in shown.stdout and "completed" in shown.stdout and "failed" in shown.stdout
    assert "RuntimeError: flag is up" in shown.stdout

    flag.unlink()
    resumed = steward_cli(home, tmp_path, "pipeline", "resume", run_id[:8], "--json")
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["resumed_from"] == run_id and data["status"] == "FINISHED"
    steps = {step["name"]: step for step in data["steps"]}
    assert steps["numbers"]["status"] == "cached" and steps["numbers"]["cached_from_run"] == run_id
    assert steps["checked"]["status"] == "completed"

    again = steward_cli(home, tmp_path, "pipeline", "run", "summing_flow.py:summing", "-p", "n=4",
                     "--no-cache")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "2 completed" in again.stderr


def test_errors_are_one_line(workspace: Any) -> None:
    for args, message in [
        (["pipeline", "run", "no_such_module_x:flow"], "no module named 'no_such_module_x'"),
        (["pipeline", "run", "tests.pipelines.flows:stats", "-p", "rows=3"], "no parameter"),
        (["pipeline", "run", "tests.pipelines.flows:stats", "-p", "n"], "must be KEY=VALUE"),
        (["pipeline", "show", "feedfacefeed"], "no pipeline run"),
        (["pipeline", "run", "tests.pipelines.flows:stats", "-x", "dask"], "unknown executor"),
    ]:
        result = steward_cli(workspace.settings.home, Path.cwd(), *args)
        assert result.returncode == 1, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_show_json_and_list_in_process(workspace: Any) -> None:
    result = runner.invoke(app, ["pipeline", "run", "tests.pipelines.flows:stats", "-p", "n=5"])
    assert result.exit_code == 0, result.output
    listed = json.loads(runner.invoke(app, ["pipeline", "list", "--json"]).stdout)
    shown = json.loads(runner.invoke(app, ["pipeline", "show", listed[0]["id"], "--json"]).stdout)
    assert [step["name"] for step in shown["steps"]] == [
        "load",
        "column_mean",
        "column_mean_2",
        "total",
    ]
    assert shown["steps"][3]["depends_on"] == ["column_mean", "column_mean_2"]
    assert shown["counts"] == {"completed": 4}
    table = runner.invoke(app, ["pipeline", "list"]).output
    assert "stats" in table and "FINISHED" in table
