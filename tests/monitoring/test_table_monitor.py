"""Monitors of tables (files and datasets) instead of a served model's log; events; workspaces."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import steward
from steward.cli import app
from steward.errors import InvalidInput, NotFound
from steward.monitoring import (
    create_monitor,
    events,
    monitor_results,
    run_monitor,
    write_monitor_report,
)
from steward.workspace import open_workspace
from tests.monitoring.test_monitor import frame, truth

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def scored(rows: int, seed: int, start: datetime, shift: float = 0.0) -> pd.DataFrame:
    """A batch job's output: features, a timestamp, a prediction, a probability and labels."""
    X = frame(rows, seed=seed, shift=shift)
    rng = np.random.default_rng(seed + 100)
    probability = 1 / (1 + np.exp(-2 * (X["age"] + X["dose"])))
    return X.assign(
        scored_at=[start + timedelta(minutes=i) for i in range(rows)],
        prediction=(probability > 0.5).astype(int),
        p_positive=probability,
        label=np.where(rng.random(rows) < 0.9, truth(X), 1 - truth(X)),
    )


def test_monitor_of_parquet_files_without_a_model(workspace: Any, tmp_path: Path) -> None:
    steward.data.add("train", frame(600, seed=0).assign(target=lambda d: truth(d)))
    folder = tmp_path / "scores"
    folder.mkdir()
    scored(300, seed=1, start=NOW - timedelta(hours=30)).to_parquet(folder / "day1.parquet")
    create_monitor(
        "nightly",
        table=str(folder),
        timestamp_column="scored_at",
        probability_column="p_positive",
        reference="train:1",
        window="1d",
        rules=["drift.share > 0.3"],
    )
    calm = run_monitor("nightly", now=NOW - timedelta(hours=25))
    assert calm.status == "ok" and calm.rows == 300 and not calm.dataset_drift, calm.notes
    assert calm.model_version is None
    assert "performance.estimated.accuracy" in calm.metrics
    assert 0.8 < calm.metrics["performance.accuracy"] <= 1.0
    assert calm.drift().feature("target") is not None  # the table's "label" matched to it

    # The job writes another file with drifted inputs: the next run reads it.
    scored(200, seed=2, start=NOW - timedelta(hours=4), shift=2.0).to_parquet(
        folder / "day2.parquet"
    )
    moved = run_monitor("nightly", now=NOW)
    assert moved.status == "ok" and moved.rows == 200
    assert moved.dataset_drift and {"age", "weight"} <= set(moved.drifted)
    assert [a.event for a in moved.alerts] == ["fired"]
    assert moved.to_dict()["reference"] == "dataset train:1 (stored profile)"
    assert [r.rows for r in monitor_results("nightly")] == [300, 200]
    page = write_monitor_report("nightly", tmp_path / "nightly.html").read_text()
    assert f"<b>watches</b> table {folder}" in page and "(version" not in page


def test_monitor_of_a_dataset_follows_its_latest_version(workspace: Any, tmp_path: Path) -> None:
    steward.data.add("train", frame(400, seed=0).assign(target=lambda d: truth(d)))
    first = scored(150, seed=3, start=NOW).drop(columns=["scored_at"])
    steward.data.add("scores", first)
    create_monitor(
        "scores", table="dataset:scores", reference="train:1", window="100 rows",
        target_column="label", features=["age", "dose", "weight"],
    )  # fmt: skip
    assert not run_monitor("scores").dataset_drift
    steward.data.add("scores", pd.concat([first, scored(100, seed=4, start=NOW, shift=3.0)]))
    latest = run_monitor("scores")
    assert latest.rows == 100 and latest.dataset_drift
    assert set(latest.drifted) >= {"age", "weight"} and "score" not in latest.drifted

    # A CSV file, a window of rows, and the table's own first rows as the reference.
    path = tmp_path / "scores.csv"
    scored(120, seed=5, start=NOW - timedelta(hours=5)).to_csv(path, index=False)
    start, end = NOW - timedelta(hours=6), NOW - timedelta(hours=4)
    create_monitor(
        "csv", table=str(path), timestamp_column="scored_at",
        reference=f"window:{start.isoformat()}/{end.isoformat()}", window="1h",
    )  # fmt: skip
    own = run_monitor("csv", now=NOW - timedelta(hours=3))
    assert own.status == "ok" and own.rows == 60 and not own.dataset_drift, own.notes
    assert "rows of table" in own.notes[0]


def test_table_sources_refuse_or_report_bad_input(workspace: Any, tmp_path: Path) -> None:
    steward.data.add("train", frame(100, seed=0).assign(target=0))
    with pytest.raises(InvalidInput, match="--model NAME@ALIAS\\) or a table"):
        create_monitor("x")
    with pytest.raises(InvalidInput, match="lineage; give a reference"):
        create_monitor("x", table=str(tmp_path))
    with pytest.raises(InvalidInput, match="needs its timestamp column"):
        create_monitor("x", table=str(tmp_path), reference="train:1", window="1h")
    with pytest.raises(InvalidInput, match="names no dataset"):
        create_monitor("x", table="dataset:", reference="train:1", window="5 rows")
    assert steward.monitoring.list_monitors() == []

    # What a monitor names must exist when it is made; gone later, a run stores an error.
    with pytest.raises(InvalidInput, match="no files match the monitored table"):
        create_monitor("nothing", table=str(tmp_path / "none-*.parquet"), reference="train:1",
                       window="5 rows")  # fmt: skip
    with pytest.raises(NotFound, match="no dataset named 'nope'"):
        create_monitor("nothing", table="dataset:nope", reference="train:1", window="5 rows")
    gone = tmp_path / "gone" / "part-0.parquet"
    gone.parent.mkdir()
    scored(10, seed=1, start=NOW).to_parquet(gone)
    with pytest.raises(NotFound, match="no version 9"):
        create_monitor("nothing", table=str(gone), reference="train:9", window="5 rows")
    assert steward.monitoring.list_monitors() == []
    create_monitor("nothing", table=str(gone.parent / "*.parquet"), reference="train:1",
                   window="5 rows")  # fmt: skip
    gone.unlink()
    nothing = run_monitor("nothing")
    assert nothing.status == "error" and "no files match" in nothing.notes[0]

    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    create_monitor("bad", table=str(bad), reference="train:1", window="5 rows")
    assert "cannot be read as a table" in run_monitor("bad").notes[0]

    good = tmp_path / "good.parquet"
    scored(10, seed=1, start=NOW).to_parquet(good)
    create_monitor("untimed", table=str(good), timestamp_column="when", reference="train:1",
                   window="1d")  # fmt: skip
    assert "no timestamp column 'when'" in run_monitor("untimed", now=NOW).notes[0]
    numeric = tmp_path / "numeric" / "part-0.parquet"
    numeric.parent.mkdir()
    scored(10, seed=1, start=NOW).assign(epoch=1_700_000_000).to_parquet(numeric)
    (numeric.parent / "_SUCCESS").write_text("")  # a Spark-style marker, not a table
    create_monitor("epoch", table=f"{numeric.parent}/*", timestamp_column="epoch",
                   reference="train:1", window="1d")  # fmt: skip
    assert "holds numbers, not times" in run_monitor("epoch", now=NOW).notes[0]
    mixed = tmp_path / "mixed.csv"
    scored(4, seed=1, start=NOW).assign(
        at=["2026-06-01T10:00:00Z", "2026-06-01 10:30", "2026-06-01T11:00:00+00:00", "2026-06-02"]
    ).to_csv(mixed, index=False)
    create_monitor("iso", table=str(mixed), timestamp_column="at", reference="train:1",
                   window="1d")  # fmt: skip
    assert run_monitor("iso", now=NOW).rows == 3  # the last is after the window's end
    (tmp_path / "notes.txt").write_text("no table here")
    steward.data.add("notes", tmp_path / "notes.txt")  # a dataset without a table
    create_monitor("no-table", table="dataset:notes", reference="train:1", window="5 rows")
    no_table = run_monitor("no-table")
    assert no_table.status == "error" and "cannot be read" in no_table.notes[0]
    create_monitor("quiet", table=str(good), timestamp_column="scored_at", reference="train:1",
                   window="1h")  # fmt: skip
    quiet = run_monitor("quiet", now=NOW - timedelta(days=1))
    assert quiet.status == "empty" and "Has the job that writes the table run?" in quiet.notes[0]
    assert len(monitor_results("quiet")) == 1


def test_events_are_offsets_a_consumer_can_follow(workspace: Any, tmp_path: Path) -> None:
    steward.data.add("train", frame(300, seed=0).assign(target=lambda d: truth(d)))
    path = tmp_path / "s.parquet"
    scored(100, seed=6, start=NOW, shift=3.0).to_parquet(path)
    create_monitor("ev", table=str(path), reference="train:1", window="100 rows",
                   rules=["drift.share > 0.3"])  # fmt: skip
    run_monitor("ev")
    everything = events()
    assert [e.topic for e in everything] == ["alert.fired", "monitor.evaluated"]
    assert everything[0].pk < everything[1].pk
    alerts = events("alert.*")
    assert [e.topic for e in alerts] == ["alert.fired"]
    assert alerts[0].payload["rule"] == "drift.share > 0.3"
    evaluated = everything[1].payload
    assert evaluated["monitor"] == "ev" and evaluated["dataset_drift"] is True
    assert events(after=everything[-1].pk) == []
    steward.monitoring.ack(alerts[0].payload["id"])
    assert [e.topic for e in events(after=everything[-1].pk)] == ["alert.acknowledged"]
    with pytest.raises(InvalidInput):
        events(after=-1)

    runner = CliRunner()
    listed = runner.invoke(app, ["monitor", "events", "--topic", "monitor.*", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [e["topic"] for e in json.loads(listed.stdout)] == ["monitor.evaluated"]


def test_monitors_honour_the_workspace_they_are_given(workspace: Any, tmp_path: Path) -> None:
    other = open_workspace(home=tmp_path / "other", actor="other-team")
    from steward.workspace import workspace_scope

    with workspace_scope(other):
        steward.data.add("train", frame(300, seed=0).assign(target=lambda d: truth(d)))
    path = tmp_path / "s.parquet"
    scored(100, seed=7, start=NOW, shift=3.0).to_parquet(path)
    create_monitor("elsewhere", table=str(path), reference="train:1", window="100 rows",
                   workspace=other)  # fmt: skip
    result = run_monitor("elsewhere", workspace=other)
    assert result.status == "ok" and result.dataset_drift, result.notes
    assert result.drift().reference_summary is not None  # read from the other blob store
    assert steward.monitoring.list_monitors() == []  # nothing landed in the current one
    assert [m.name for m in steward.monitoring.list_monitors(workspace=other)] == ["elsewhere"]
    assert monitor_results("elsewhere", workspace=other)[0].created_at == result.created_at
    other.close()


def test_cli_creates_and_runs_a_table_monitor(workspace: Any, tmp_path: Path) -> None:
    steward.data.add("train", frame(300, seed=0).assign(target=lambda d: truth(d)))
    path = tmp_path / "s.parquet"
    scored(100, seed=8, start=NOW).to_parquet(path)
    runner = CliRunner()
    created = runner.invoke(
        app,
        ["monitor", "create", "cli-table", "--table", str(path), "--reference", "train:1",
         "--window", "50 rows", "--probability-column", "p_positive"],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert f"oftable{path}" in "".join(created.output.split())  # rich wraps long paths
    ran = runner.invoke(app, ["monitor", "run", "cli-table", "--json"])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["rows"] == 50
    refused = runner.invoke(app, ["monitor", "create", "x", "--table", str(path)])
    assert isinstance(refused.exception, InvalidInput)
    assert "give a reference" in str(refused.exception)


def test_monitor_of_files_on_s3(
    workspace: Any, s3_options: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import fsspec

    from tests.services import create_bucket

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_options["endpoint_url"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_options["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_options["secret"])
    steward.data.add("train", frame(300, seed=0).assign(target=lambda d: truth(d)))
    bucket = create_bucket(s3_options)
    fs = fsspec.filesystem("s3", **s3_options)
    with fs.open(f"{bucket}/scores/a.parquet", "wb") as out:
        scored(100, seed=9, start=NOW).to_parquet(out)
    create_monitor("s3", table=f"s3://{bucket}/scores/", reference="train:1", window="1000 rows")
    assert run_monitor("s3").rows == 100
    with fs.open(f"{bucket}/scores/b.parquet", "wb") as out:
        scored(50, seed=10, start=NOW, shift=3.0).to_parquet(out)
    both = run_monitor("s3")  # the new file is listed afresh
    assert both.rows == 150 and "age" in both.drifted
