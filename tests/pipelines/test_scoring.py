"""Batch scoring: inputs of every kind, outputs, the prediction log, labels, faults, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import steward
from steward.errors import Conflict, InvalidInput, NotFound

REPO = Path(__file__).resolve().parents[2]


def make_model(onnx: bool = False) -> pd.DataFrame:
    """Register ``triage`` (a logistic regression on a, b, c) as champion; its training data."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    labels = (frame["a"] + frame["b"] > 0).astype(int)
    with steward.start_run():
        info = steward.models.log(
            LogisticRegression().fit(frame, labels),
            "model",
            input_example=frame.head(5),
            register="triage",
            onnx=onnx,
        )
    assert info.version is not None
    steward.models.set_alias("triage", "champion", info.version.version)
    return frame


def inputs(folder: Path, rows: int = 1000, seed: int = 1) -> pd.DataFrame:
    """Rows with an ``id`` column, split over a Parquet file (row groups of 150) and a CSV."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 3)), columns=["a", "b", "c"])
    frame.insert(0, "id", np.arange(rows))
    folder.mkdir(parents=True, exist_ok=True)
    half = rows * 6 // 10
    frame.iloc[:half].to_parquet(folder / "part-a.parquet", row_group_size=150, index=False)
    frame.iloc[half:].to_csv(folder / "part-b.csv", index=False)
    return frame


def test_files_are_scored_into_parquet_and_the_prediction_log(
    workspace: Any, tmp_path: Path
) -> None:
    make_model()
    frame = inputs(tmp_path / "in")
    result = steward.pipelines.score(
        "models:/triage@champion", str(tmp_path / "in" / "*"), str(tmp_path / "out"),
        chunk_rows=100,
    )  # fmt: skip
    assert (result.rows, result.rows_skipped, result.version) == (1000, 0, 1)
    assert result.units == 4 + 1  # four row groups and one CSV
    out = pd.read_parquet(tmp_path / "out").sort_values("id").reset_index(drop=True)
    assert list(out.columns) == [
        "id", "a", "b", "c", "request_id", "model", "model_version", "scored_at", "prediction",
    ]  # fmt: skip
    assert out["id"].tolist() == list(range(1000)) and out["request_id"].is_unique
    assert set(out["model_version"]) == {1} and set(out["model"]) == {"triage"}
    expected = steward.models.load("models:/triage/1").predict(frame[["a", "b", "c"]])
    assert np.array_equal(out["prediction"].to_numpy(), expected)
    assert str(out["scored_at"].dtype).startswith("datetime64[ms, UTC]")

    log = steward.serving.read_predictions("triage")
    assert len(log) == 1000 and set(log["route"]) == {"batch"}
    assert set(log["request_id"]) == set(out["request_id"])
    assert "input.a" in log.columns and "input.id" not in log.columns
    # Late labels join batch rows by request id, as they join served ones.
    labels = out.head(10).assign(label=1)[["request_id", "label"]]
    fed = steward.serving.log_feedback(labels)
    assert len(fed.accepted) == 10 and fed.unknown == []
    assert steward.serving.log_feedback({"no-such-id": 0}).unknown == ["no-such-id"]
    joined = steward.serving.read_predictions("triage")
    assert joined["label"].notna().sum() == 10

    with pytest.raises(Conflict, match="holds the finished scoring job"):
        steward.pipelines.score(
            "models:/triage@champion", str(tmp_path / "in"), str(tmp_path / "out")
        )


def test_the_log_keeps_the_inputs_and_indexes_each_chunk_as_one_range(
    any_workspace: Any, stored_metadata: Any, tmp_path: Path
) -> None:
    """Scored rows are logged with the model's inputs even when the output leaves them
    out; their ids are indexed a chunk at a time, yet labels, joins and lineage work
    per id, and an id past a chunk's end is unknown."""
    from sqlalchemy import func, select

    from steward.governance.lineage import trained_on
    from steward.store import schema as t

    make_model()
    frame = inputs(tmp_path / "in", rows=1000)
    steward.pipelines.score(
        "models:/triage@champion", str(tmp_path / "in" / "part-a.parquet"),
        str(tmp_path / "out"), chunk_rows=100, keep_inputs=False,
    )  # fmt: skip
    out = pd.read_parquet(tmp_path / "out")
    assert "a" not in out.columns and len(out) == 600
    log = steward.serving.read_predictions("triage").set_index("request_id")
    row = log.loc[out["request_id"]]
    assert np.array_equal(row["input.a"].to_numpy(), frame["a"].iloc[:600].to_numpy())
    with stored_metadata.engine.connect() as connection:
        ranges = connection.execute(select(func.count()).select_from(t.prediction_request_ranges))
        singles = connection.execute(select(func.count()).select_from(t.prediction_requests))
        assert (ranges.scalar(), singles.scalar()) == (8, 0)  # 4 row groups of 100 + 50

    first = sorted(out["request_id"])[0]
    prefix = first.rsplit("-", 1)[0] + "-"  # the first chunk: rows 0 to 99
    fed = steward.serving.log_feedback({prefix + "99": 1, prefix + "100": 0, prefix + "099": 0})
    assert fed.accepted == [prefix + "99"]
    assert fed.unknown == [prefix + "100", prefix + "099"]
    joined = steward.serving.read_predictions("triage")
    assert joined.set_index("request_id")["label"].dropna().to_dict() == {prefix + "99": 1}
    (answer,) = trained_on(prefix + "7")
    assert (answer.model, answer.version) == ("triage", 1)
    (labelled,) = trained_on(prefix + "99")  # indexed alone now, not twice
    assert labelled.version == 1
    with pytest.raises(NotFound):
        trained_on(prefix + "100")


def test_a_dataset_is_scored_through_onnx_into_a_new_dataset_version(
    workspace: Any, tmp_path: Path
) -> None:
    make_model(onnx=True)
    frame = inputs(tmp_path / "in", rows=300)
    steward.data.add("intake", str(tmp_path / "in"))
    result = steward.pipelines.score(
        "models:/triage@champion", "dataset:intake", "dataset:intake-scores",
        backend="onnx", chunk_rows=64, log_predictions=False,
    )  # fmt: skip
    assert result.dataset == "intake-scores:1" and result.rows == 300
    scored = steward.data.get("intake-scores").to_pandas().sort_values("id")
    native = steward.models.load("models:/triage/1").predict(frame[["a", "b", "c"]])
    assert np.array_equal(scored["prediction"].to_numpy(), native)
    assert steward.serving.read_predictions("triage").empty


def test_input_of_the_wrong_schema_is_refused_before_scoring(
    workspace: Any, tmp_path: Path
) -> None:
    make_model()
    folder = tmp_path / "in"
    folder.mkdir()
    pd.DataFrame({"a": [1.0], "b": [2.0], "c": [3.0]}).to_parquet(folder / "good.parquet")
    pd.DataFrame({"a": [1.0], "c": [3.0]}).to_parquet(folder / "lacking.parquet")
    with pytest.raises(InvalidInput, match=r"lacking\.parquet: column 'b' is missing"):
        steward.pipelines.score("models:/triage@champion", str(folder), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    (folder / "lacking.parquet").unlink()
    (folder / "words.csv").write_text("a,b,c\n1.0,two,3.0\n")
    with pytest.raises(InvalidInput, match=r"words\.csv: column 'b' holds text"):
        steward.pipelines.score("models:/triage@champion", str(folder), str(tmp_path / "out"))
    with pytest.raises(NotFound, match="no Parquet or CSV files match"):
        steward.pipelines.score(
            "models:/triage@champion", str(tmp_path / "none*"), str(tmp_path / "out")
        )
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    (folder / "words.csv").unlink()
    with pytest.raises(Conflict, match="not empty and holds no Steward scoring job"):
        steward.pipelines.score("models:/triage@champion", str(folder), str(tmp_path / "busy"))


def test_s3_inputs_and_outputs(workspace: Any, s3_options: dict[str, str], tmp_path: Path) -> None:
    import fsspec

    from tests.services import create_bucket

    make_model()
    frame = inputs(tmp_path / "in", rows=200)
    bucket = create_bucket(s3_options)
    fs = fsspec.filesystem("s3", **s3_options)
    for name in ("part-a.parquet", "part-b.csv"):
        fs.put(str(tmp_path / "in" / name), f"{bucket}/incoming/{name}")
    result = steward.pipelines.score(
        "models:/triage@champion", f"s3://{bucket}/incoming/", f"s3://{bucket}/scored",
        chunk_rows=50, storage_options=s3_options,
    )  # fmt: skip
    assert result.rows == 200
    parts = fs.glob(f"{bucket}/scored/part-*.parquet")
    scored = pd.concat(pd.read_parquet(fs.open(part)) for part in parts)
    assert sorted(scored["id"]) == frame["id"].tolist()


def test_an_interrupted_job_resumes_without_scoring_a_row_twice(
    workspace: Any, tmp_path: Path
) -> None:
    make_model()
    inputs(tmp_path / "in", rows=3000)
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "steward.cli", "score", "models:/triage@champion",
        str(tmp_path / "in"), "--output", str(out), "--chunk-rows", "20", "--json",
    ]  # fmt: skip
    env = {**os.environ, "STEWARD_HOME": str(workspace.settings.home), "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while len(list(out.glob("part-*.parquet"))) < 5 and time.time() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(list(out.glob("part-*.parquet")))
    assert 5 <= done_before < 150, "the job was not interrupted mid-way"

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["resumed"] and result["rows_skipped"] >= done_before * 20 - 20
    assert result["rows"] + result["rows_skipped"] == 3000
    scored = pd.read_parquet(out)
    assert sorted(scored["id"]) == list(range(3000))  # every row once
    log = steward.serving.read_predictions("triage")
    assert len(log) == 3000 and log["request_id"].is_unique
    assert set(log["request_id"]) == set(scored["request_id"])


def test_a_failed_log_write_fails_the_job_cleanly_and_a_rerun_logs_every_row_once(
    workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log is written beside the scoring of the next chunks: when a write fails (a
    full disk), the job stops with an error naming the part, keeps what it scored, and
    the same call again logs the parts whose log was not written, each row once."""
    import steward.serving.batch_log as batch_log
    from steward.errors import StorageError

    make_model()
    inputs(tmp_path / "in", rows=1000)
    source, out = str(tmp_path / "in" / "part-a.parquet"), str(tmp_path / "out")
    real_store, calls = batch_log.store_segment, []

    def failing_third(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_store(*args, **kwargs)

    monkeypatch.setattr(batch_log, "store_segment", failing_third)
    with pytest.raises(StorageError, match=r"prediction log of part-\d+-\d+\.parquet.*resume"):
        steward.pipelines.score("models:/triage@champion", source, out, chunk_rows=50)
    parts = sorted(Path(out).glob("part-*.parquet"))
    assert 3 <= len(parts) <= 5, "the job went on scoring after the log failed"
    failed = pd.read_parquet(parts[2])["request_id"]
    logged = set(steward.serving.read_predictions("triage")["request_id"])
    # The chunks before the failed one are logged; a chunk queued behind it may be.
    assert set(pd.read_parquet(parts[0])["request_id"]) <= logged
    assert set(pd.read_parquet(parts[1])["request_id"]) <= logged
    assert not logged & set(failed)

    monkeypatch.setattr(batch_log, "store_segment", real_store)
    result = steward.pipelines.score("models:/triage@champion", source, out, chunk_rows=50)
    assert result.resumed and result.rows + result.rows_skipped == 600
    assert result.rows_skipped == 50 * len(parts)
    scored = pd.read_parquet(out)
    log = steward.serving.read_predictions("triage")
    assert len(scored) == len(log) == 600 and log["request_id"].is_unique
    assert set(log["request_id"]) == set(scored["request_id"])
