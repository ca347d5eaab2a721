"""Data suites: expectations validated through pandera, suites from profiles and files,
results stored against dataset versions, and the CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import steward
from steward import checks
from steward.checks import Column, Custom, Freshness, RowCount, Suite, UniqueTogether
from steward.cli import app
from steward.errors import InvalidInput, NotFound


def _visits(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "patient_id": np.arange(rows),
            "age": rng.integers(0, 100, rows),
            "sex": rng.choice(["F", "M"], rows),
            "temp": rng.normal(37, 0.5, rows),
            "seen_at": pd.Timestamp.now(tz="UTC") - pd.to_timedelta(rng.integers(0, 48, rows), "h"),
        }
    )


def _by_name(report: checks.CheckReport) -> dict[str, checks.CheckResult]:
    return {result.name: result for result in report.results}


def test_a_clean_table_passes_every_expectation() -> None:
    suite = Suite(
        "visits",
        [
            Column("patient_id", dtype="int", nullable=False, unique=True),
            Column("age", dtype="int64", min=0, max=120),
            Column("sex", dtype="string", allowed=["F", "M"]),
            Column("temp", dtype="number", min=30, max=45),
            Column("seen_at", dtype="datetime"),
            RowCount(min=100, max=1000),
            Freshness("3d", column="seen_at"),
            UniqueTogether(["patient_id", "sex"]),
        ],
        strict=True,
    )
    report = suite.run(_visits())
    assert report.passed, [r for r in report.results if not r.passed]
    assert len(report.results) == 19


def test_failures_are_counted_and_failing_rows_sampled() -> None:
    data = _visits()
    data.loc[[3, 7, 9], "age"] = [130, -1, 150]
    data.loc[5, "sex"] = "unknown"
    data.loc[[11, 12], "patient_id"] = 1
    data.loc[20, "temp"] = np.nan
    suite = Suite(
        "visits",
        [
            Column("patient_id", unique=True),
            Column("age", min=0, max=120),
            Column("sex", allowed=["F", "M"]),
            Column("temp", nullable=False, mostly=0.99),
            Column("weight"),
        ],
    )
    results = _by_name(suite.run(data))
    age = results["age: in range [0, 120]"]
    assert not age.passed and age.details["failing"] == 3
    assert age.value == pytest.approx(3 / 400)
    assert sorted(row["_row"] for row in age.details["sample"]) == [3, 7, 9]
    assert {row["age"] for row in age.details["sample"]} == {130, -1, 150}
    assert results["sex: in {'F', 'M'}"].details["sample"][0]["sex"] == "unknown"
    unique = results["patient_id: unique"]
    assert not unique.passed and unique.details["failing"] == 3  # 1, 1 and 1 again
    # One null in 400 rows is within mostly=0.99.
    assert results["temp: not null"].passed and results["temp: not null"].value == 1 / 400
    assert not results["weight: present"].passed
    assert results["weight: present"].details["notes"] == ["column 'weight' is missing"]


def test_dtype_families_and_unexpected_columns() -> None:
    data = _visits().assign(extra=1)
    suite = Suite("t", [Column("age", dtype="float"), Column("sex", dtype="string")], strict=True)
    results = _by_name(suite.run(data))
    assert not results["age: dtype float"].passed
    assert results["age: dtype float"].details["actual"] == "int64"
    assert results["sex: dtype string"].passed
    strict = results["no unexpected columns"]
    assert not strict.passed and "extra" in strict.details["notes"]


def test_row_count_freshness_and_custom_functions() -> None:
    data = _visits(50)
    stale = data.assign(seen_at=data["seen_at"] - pd.Timedelta(days=10))

    def ages_plausible(frame: pd.DataFrame) -> pd.Series:
        return frame["age"] < 90

    suite = Suite(
        "t",
        [
            RowCount(min=100),
            Freshness(timedelta(days=2), column="seen_at"),
            Custom("ages plausible", ages_plausible, mostly=0.95, severity="warning"),
            Custom("mean temp", lambda frame: frame["temp"].mean(), min=36, max=38),
            Custom("explodes", lambda frame: 1 / 0),
        ],
    )
    results = _by_name(suite.run(stale))
    assert not results["rows: at least 100"].passed and results["rows: at least 100"].value == 50
    fresh = results["seen_at: newest within 2d"]
    assert not fresh.passed and fresh.value > 8 * 86400
    plausible = results["ages plausible"]
    assert plausible.severity == "warning"
    assert all(row["age"] >= 90 for row in plausible.details["sample"])
    assert results["mean temp"].passed
    assert "ZeroDivisionError" in results["explodes"].details["error"]
    assert Suite("ok", [Freshness("2d", column="seen_at")]).run(data).passed


def test_warnings_do_not_fail_a_report() -> None:
    data = _visits()
    data.loc[0, "age"] = 500
    report = Suite("t", [Column("age", max=120, severity="warning")]).run(data)
    assert report.passed and len(report.failed) == 1


def test_bad_expectations_are_refused() -> None:
    with pytest.raises(InvalidInput, match="mostly"):
        Column("a", mostly=1.5)
    with pytest.raises(InvalidInput, match="described twice"):
        Suite("t", [Column("a"), Column("a")])
    with pytest.raises(InvalidInput, match="duration"):
        Freshness("soon")
    with pytest.raises(InvalidInput, match="regex"):
        Column("a", regex="(")


def test_suite_files_round_trip_and_refuse_bad_content(tmp_path: Path) -> None:
    suite = Suite(
        "visits",
        [
            Column("age", dtype="int", min=0, max=120, mostly=0.9),
            RowCount(min=1),
            Freshness("7d"),
            UniqueTogether(["age", "sex"]),
        ],
        strict=True,
    )
    for name in ("suite.yaml", "suite.json"):
        loaded = checks.load_suite(suite.save(tmp_path / name))
        assert loaded.to_dict() == suite.to_dict()
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns:\n  age: {minimum: 3}\n")
    with pytest.raises(InvalidInput, match="unknown key"):
        checks.load_suite(bad)
    bad.write_text("columns: [\n")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        checks.load_suite(bad)
    code = tmp_path / "code.yaml"
    code.write_text("custom:\n  - {name: c, function: 'os:getcwd'}\n")
    with pytest.raises(InvalidInput, match="trust_code"):
        checks.load_suite(code)
    trusted = checks.load_suite(code, trust_code=True)
    assert trusted.spec.custom[0].function.__name__ == "getcwd"
    with pytest.raises(NotFound):
        checks.load_suite(tmp_path / "absent.yaml")


def test_a_suggested_suite_holds_on_its_own_version(workspace: Any) -> None:
    data = _visits(300)
    data.loc[4, "temp"] = np.nan
    version = steward.data.add("visits", data)
    suite = checks.suggest_suite(version)
    columns = {column.name: column for column in suite.spec.columns}
    assert columns["patient_id"].unique and columns["patient_id"].dtype == "int"
    assert columns["sex"].allowed == ("F", "M")
    assert columns["temp"].nullable is None and columns["age"].nullable is False
    assert columns["age"].min == data["age"].min() and columns["age"].max == data["age"].max()
    assert columns["seen_at"].dtype == "datetime"
    report = suite.run(version)
    assert report.passed, [r for r in report.failed]
    worse = data.assign(age=data["age"] + 500)
    assert not suite.run(worse).passed


def test_results_are_stored_with_the_version(any_workspace: Any) -> None:
    version = steward.data.add("visits", _visits(120))
    suite = Suite("basic", [Column("age", max=50), RowCount(min=1)])
    report, stored = checks.run_suite(suite, version.ref)
    assert not report.passed and stored is not None
    history = checks.check_history(dataset=version.ref)
    assert [run.id for run in history] == [stored.id]
    assert history[0].dataset == version.ref and not history[0].passed
    results = checks.as_results(history[0])
    assert [r.passed for r in results] == [r.passed for r in report.results]
    assert results[1].details["sample"] == report.results[1].details["sample"]
    event = steward.governance.audit_events(action="checks.record")[0]
    assert event.subject == f"dataset:{version.ref}" and event.to_state == "failed"


def test_cli_suggest_run_and_history(workspace: Any, tmp_path: Path) -> None:
    steward.data.add("visits", _visits(200))
    runner = CliRunner()
    suite_file = tmp_path / "visits.yaml"
    done = runner.invoke(app, ["checks", "suggest", "visits", "-o", str(suite_file)])
    assert done.exit_code == 0, done.output
    passed = runner.invoke(app, ["checks", "run", str(suite_file), "visits:1", "--json"])
    assert passed.exit_code == 0, passed.output
    body = json.loads(passed.stdout)
    assert body["passed"] and body["subject"] == "visits:1" and body["stored_as"]
    broken = _visits(200)
    broken.loc[0, "sex"] = "?"
    steward.data.add("visits", broken)
    failed = runner.invoke(app, ["checks", "run", str(suite_file), "visits"])
    assert failed.exit_code == 1
    assert "FAIL" in failed.output and "sex" in failed.output
    listed = runner.invoke(app, ["checks", "history", "-d", "visits:2", "--json"])
    assert [run["passed"] for run in json.loads(listed.stdout)] == [False]
    missing = runner.invoke(app, ["checks", "run", str(tmp_path / "nope.yaml"), "visits"])
    assert missing.exit_code == 1 and isinstance(missing.exception, NotFound)
