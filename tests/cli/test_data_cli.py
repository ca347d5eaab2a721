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
    assert "d:training → d:1" in _invoke("data", "alias", "d", "training", "1").stdout
    assert json.loads(_invoke("data", "show", "d:training", "--json").stdout)["version"] == 1


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


def _fails(capsys: Any, monkeypatch: Any, *args: str) -> str:
    """Run the console script's entry point; return its one-line error (exit status 1)."""
    from steward.cli import main

    monkeypatch.setattr(sys, "argv", ["steward", *args])
    try:
        main()
    except SystemExit as exit_:
        assert exit_.code == 1
    else:
        raise AssertionError(f"steward {' '.join(args)} succeeded")
    error = capsys.readouterr().err
    assert error.startswith("error:") and "Traceback" not in error
    return " ".join(error.split())


def test_data_command_errors_are_one_line(
    workspace: Any, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    assert "no such file or folder" in _fails(capsys, monkeypatch, "data", "add", "d", "/nope")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n")
    assert "bad.csv line 3" in _fails(capsys, monkeypatch, "data", "add", "d", str(bad))
    write_csv(tmp_path / "t.csv", 5)
    _invoke("data", "add", "d", str(tmp_path / "t.csv"))
    assert "has no version 9" in _fails(capsys, monkeypatch, "data", "show", "d:9")
    assert "no dataset named" in _fails(capsys, monkeypatch, "data", "checkout", "x", "/tmp/x")


def test_data_add_refuses_a_link_out_of_the_folder_unless_follow_links(
    workspace: Any, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    folder = tmp_path / "given"
    folder.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    (folder / "escape.txt").symlink_to(tmp_path / "secret.txt")
    error = _fails(capsys, monkeypatch, "data", "add", "d", str(folder))
    assert "points outside" in error and "--follow-links" in error
    assert steward.data.list_datasets() == []
    _invoke("data", "add", "d", str(folder), "--follow-links")
    assert steward.data.get("d").open("escape.txt").read() == b"secret"


def test_readding_an_older_versions_content_says_latest_did_not_move(
    workspace: Any, tmp_path: Path
) -> None:
    path = tmp_path / "t.csv"
    write_csv(path, 5)
    _invoke("data", "add", "d", str(path))
    original = path.read_bytes()
    write_csv(path, 6)
    _invoke("data", "add", "d", str(path))
    path.write_bytes(original)
    result = runner.invoke(app, ["data", "add", "d", str(path)])
    assert result.exit_code == 0, result.output
    assert "d:1" in result.stdout
    assert "latest version is still 2" in " ".join(result.output.split())


def test_runs_show_lists_the_dataset_versions_a_run_read_and_wrote(
    workspace: Any, tmp_path: Path
) -> None:
    import steward

    steward.data.add("raw", write_csv(tmp_path / "raw.csv", 5))
    with steward.start_run(name="clean") as run:
        steward.data.get("raw")
        steward.data.add("clean", write_csv(tmp_path / "clean.csv", 4))
    shown = json.loads(_invoke("runs", "show", run.id, "--json").stdout)
    assert sorted((d["dataset"], d["direction"]) for d in shown["datasets"]) == [
        ("clean", "output"),
        ("raw", "input"),
    ]
    text = " ".join(_invoke("runs", "show", run.id).stdout.split())
    assert "raw:1 │ read" in text and "clean:1 │ written" in text
