"""Stores that fail under Steward: damaged, unreadable or read-only metadata stores, an
unreachable server, a full disk, filters too big to run. Each is one line naming the
file or the limit (no traceback, no SQL), the CLI exits 1, and nothing stored is lost."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import steward
from steward.errors import InvalidInput, StorageError
from steward.workspace import open_workspace
from tests.services import free_port, run_isolated, run_steward


def _store(home: Path) -> Path:
    """A real store with one run in it; returns its SQLite file."""
    workspace = open_workspace(home=home, actor="tester")
    experiment = workspace.tracking.get_or_create_experiment("e")
    workspace.tracking.create_run(experiment.id, name="r")
    workspace.close()
    return home / "steward.db"


def _garbage(home: Path) -> str:
    home.mkdir(parents=True)
    (home / "steward.db").write_bytes(b"these are not the bytes of a database\n" * 200)
    return "not a database"


def _damaged(home: Path) -> str:
    path = _store(home)
    with path.open("r+b") as handle:  # the schema's page, after SQLite's 100-byte header
        handle.seek(100)
        handle.write(b"\xff" * 400)
    return "malformed"


def _folder(home: Path) -> str:
    (home / "steward.db").mkdir(parents=True)
    return "unable to open"


@pytest.mark.parametrize(
    ("spoil", "command"),
    [
        (_garbage, ["runs", "list"]),
        (_damaged, ["experiments", "list"]),
        (_folder, ["data", "list"]),
    ],
)
def test_a_damaged_or_unreadable_store_is_one_line_naming_the_file(
    spoil: Any, command: list[str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    reason = spoil(home)
    database = str(home / "steward.db")
    with pytest.raises(StorageError, match=reason) as caught:
        open_workspace(home=home).tracking.list_experiments()
    message = str(caught.value)
    assert database in message and "\n" not in message
    assert "SELECT" not in message and "PRAGMA" not in message

    result = run_steward(home, *command)
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("error: the metadata store ") and database in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and "SELECT" not in result.stderr


def test_an_unreachable_server_names_it_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://steward:s3cret@127.0.0.1:{free_port()}/steward"
    result = run_steward(tmp_path, "runs", "list", env={"STEWARD_STORE_URL": url})
    assert result.returncode == 1
    assert "127.0.0.1" in result.stderr and "cannot be used" in result.stderr
    assert "s3cret" not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_store_on_a_read_only_disk_is_one_line_naming_the_file(
    isolation: list[str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    _store(home)
    # The store's folder is bound onto itself, then made read-only, for the child only.
    script = f"""
import json, subprocess
for options in (["--bind"], ["-o", "remount,bind,ro"]):
    subprocess.run(["mount", *options, {str(home)!r}, {str(home)!r}], check=True)
from steward.errors import StorageError
from steward.workspace import open_workspace
try:
    open_workspace(home={str(home)!r}).tracking.create_experiment("new")
    print(json.dumps("created"))
except StorageError as exc:
    print(json.dumps(str(exc)))
"""
    done = run_isolated(script, tmp_path)
    assert done.returncode == 0, done.stderr
    # SQLite in WAL mode needs to write its -shm file even to read, so a store on a
    # read-only disk cannot be opened at all; the message says where and what to check.
    message = json.loads(done.stdout)
    assert str(home / "steward.db") in message and "read and written" in message


# -- filters too big to run ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("(" * 5000 + "metrics.acc > 0.5" + ")" * 5000, "nested deeper than 32"),
        (" or ".join(f"metrics.m{i} > 0.5" for i in range(3000)), "more than 256 comparisons"),
        (" and ".join(["params.model = 'rf'"] * 3000), "more than 256 comparisons"),
        ("params.seed in (" + ",".join(f"'{i}'" for i in range(20_000)) + ")", "10,000 values"),
    ],
)
def test_filters_past_the_limits_are_refused_in_one_line(
    any_workspace: Any, text: str, limit: str
) -> None:
    with steward.start_run(experiment="big"):
        steward.log_metric("acc", 0.9)
    with pytest.raises(InvalidInput, match=limit) as caught:
        steward.search_runs(filter=text)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


def test_the_cli_refuses_a_huge_filter_in_one_line(workspace: Any) -> None:
    text = " or ".join(f"metrics.m{i} > 0.5" for i in range(3000))
    result = run_steward(workspace.settings.home, "runs", "list", "--filter", text)
    assert result.returncode == 1
    assert "more than 256 comparisons" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_filters_at_the_limits_still_run(any_workspace: Any) -> None:
    with steward.start_run(experiment="big") as run:
        steward.log_params({"seed": "7"})
        steward.log_metric("acc", 0.9)
    deep = "(" * 32 + "metrics.acc > 0.5" + ")" * 32
    wide = " or ".join(f"metrics.m{i} > 0.5" for i in range(255)) + " or metrics.acc > 0.5"
    listed = "params.seed in (" + ",".join(f"'{i}'" for i in range(10_000)) + ")"
    for text in (deep, wide, listed):
        assert [r.id for r in steward.search_runs(filter=text)] == [run.id]


# -- a full disk --------------------------------------------------------------------

FULL_DISK_SCRIPT = """
import json, os, subprocess, sys
import steward
from steward.errors import StorageFull

disk = os.environ["DISK"]
out = {}
with open(os.path.join(disk, "..", "small.csv"), "w") as handle:
    handle.write("a,b\\n" + "".join(f"{i},{i * 2}\\n" for i in range(1000)))
first = steward.data.add("d", os.path.join(disk, "..", "small.csv"))
big = os.path.join(disk, "..", "big.bin")
with open(big, "wb") as handle:
    handle.write(os.urandom(3 << 20))

def attempt(name, action):
    try:
        action()
        out[name] = "ok"
    except StorageFull as exc:
        out[name] = str(exc)

attempt("data.add", lambda: steward.data.add("d", big))
cli = subprocess.run([sys.executable, "-m", "steward.cli", "data", "add", "d", big],
                     capture_output=True, text=True)
out["cli"] = [cli.returncode, cli.stderr]
run = steward.start_run(name="on a full disk")
attempt("log_artifact", lambda: steward.log_artifact(big))
filler = os.path.join(disk, "filler")
try:  # fill what is left (opening fails when nothing is)
    with open(filler, "wb") as handle:
        while True:
            handle.write(b"x" * 65536)
except OSError:
    pass
for step in range(5000):
    steward.log_metric("loss", step / 5000, step=step)
attempt("flush", steward.flush)
steward.log_metric("last", 1.0)
attempt("end_run", steward.end_run)
out["status_while_full"] = steward.active_run() is not None
if os.path.exists(filler):
    os.unlink(filler)  # space again: the same calls now finish the job
steward.end_run()
stored = steward.get_run(run.id)
out["after"] = {
    "status": stored.status.value,
    "loss_points": len(steward.get_metric_history(run.id, "loss")),
    "last": stored.metrics.get("last"),
    "versions": [v.version for v in steward.data.log("d")],
    "first_rows": len(steward.data.get("d:1").to_pandas()),
    "leftover_temp_files": os.listdir(os.path.join(disk, "home", "blobs", "tmp")),
}
print(json.dumps(out))
"""


def test_a_full_disk_is_one_line_and_loses_nothing(isolation: list[str], tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    done = run_isolated(
        FULL_DISK_SCRIPT,
        tmp_path,
        tmpfs={disk: "2m"},
        env={"DISK": str(disk), "STEWARD_HOME": str(disk / "home")},
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    blobs, database = str(disk / "home" / "blobs"), str(disk / "home" / "steward.db")
    for step, where in [
        ("data.add", blobs),
        ("log_artifact", blobs),
        ("flush", database),
        ("end_run", database),
    ]:
        assert where in out[step] and ("space" in out[step] or "full" in out[step]), (step, out)
    code, stderr = out["cli"]
    assert code == 1 and stderr.startswith("error: no space left") and blobs in stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert out["status_while_full"]  # the run is still open after end_run failed
    assert out["after"] == {
        "status": "FINISHED",
        "loss_points": 5000,
        "last": 1.0,
        "versions": [1],
        "first_rows": 1000,
        "leftover_temp_files": [],
    }


def test_the_damaged_file_test_really_damages_it(tmp_path: Path) -> None:
    path = tmp_path / "home" / "steward.db"
    _damaged(tmp_path / "home")
    with pytest.raises(sqlite3.DatabaseError), sqlite3.connect(path) as connection:
        connection.execute("SELECT * FROM sqlite_master").fetchall()
