from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

import steward
from steward.cli import app
from tests.data.conftest import write_csv

runner = CliRunner()


def _invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_data_commands(workspace: Any, tmp_path: Path) -> None:
    source = tmp_path / "src"
    write_csv(source / "t.csv", 20)
    added = json.loads(_invoke("data", "add", "d", str(source), "-t", "site=a", "--json").stdout)
    assert added["version"] == 1 and added["rows"] == 20
    write_csv(source / "t.csv", 25)
    _invoke("data", "add", "d", str(source))
    listed = json.loads(_invoke("data", "list", "--json").stdout)
    assert [(d["name"], d["version_count"]) for d in listed] == [("d", 2)]
    log = json.loads(_invoke("data", "log", "d", "--json").stdout)
    assert [v["version"] for v in log] == [2, 1]
    shown = json.loads(_invoke("data", "show", "d:1", "--json").stdout)
    assert shown["files"] == ["t.csv"] and shown["schema"][0]["name"] == "id"
    diff = json.loads(_invoke("data", "diff", "d:1", "d:2", "-k", "id", "--json").stdout)
    assert diff["tables"][0]["rows_added"] == 5
    assert "t.csv" in _invoke("data", "diff", "d:1", "d:2").stdout
    _invoke("data", "checkout", "d:1", str(tmp_path / "out"))
    assert (tmp_path / "out" / "t.csv").is_file()
    refused = runner.invoke(app, ["data", "checkout", "d:2", str(tmp_path / "out")])
    assert refused.exit_code != 0
    _invoke("data", "checkout", "d:2", str(tmp_path / "out"), "--force")
    _invoke("data", "checkout", "d:2", str(tmp_path / "linked"), "--link", "hardlink")
    assert (tmp_path / "linked" / "t.csv").read_bytes() == (source / "t.csv").read_bytes()
    assert "sent" in _invoke("data", "push", "d", "--to", str(tmp_path / "remote")).stdout
    assert "fetched 0" in _invoke("data", "pull", "d", "--from", str(tmp_path / "remote")).stdout
    _invoke("data", "show", "d")


def test_pull_into_a_fresh_home_registers_the_version(workspace: Any, tmp_path: Path) -> None:
    source = tmp_path / "src"
    write_csv(source / "t.csv", 20)
    _invoke("data", "add", "d", str(source), "-d", "first intake")
    remote = str(tmp_path / "remote")
    _invoke("data", "push", "d", "--to", remote)
    fresh = tmp_path / "fresh-home"
    src = str(Path(steward.__file__).parents[1])  # this tree's steward, whatever the cwd
    env = {**os.environ, "STEWARD_HOME": str(fresh), "PYTHONPATH": src}

    def steward_cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "steward.cli", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path)

    pulled = steward_cli("data", "pull", "d", "--from", remote)
    assert pulled.returncode == 0, pulled.stderr
    assert "registered in this workspace" in pulled.stdout
    assert "d:1" in pulled.stdout and "20 rows x 3 columns" in pulled.stdout
    missing = steward_cli("data", "pull", "d:2", "--from", remote)
    said = " ".join((missing.stderr + missing.stdout).split())  # unwrapped
    assert missing.returncode == 1 and "Traceback" not in said
    assert "has no version 2 of dataset 'd' (it holds versions 1)" in said
    shown = steward_cli("data", "show", "d:1", "--json")
    assert json.loads(shown.stdout)["description"] == "first intake"


def test_import_steward_stays_light() -> None:
    code = (
        "import sys, steward; "
        "assert 'pandas' not in sys.modules and 'pyarrow' not in sys.modules; "
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy'; "
        "assert 'steward.data' not in sys.modules; "
        "steward.data.add; assert 'steward.data' in sys.modules; "
        "assert steward.__all__ == sorted(steward.__all__)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
