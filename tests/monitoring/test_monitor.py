"""Monitors on a real served model: windows from the prediction log, references from lineage."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import steward
from steward.cli import app
from steward.errors import Conflict, InvalidInput, NotFound
from steward.monitoring import (
    create_monitor,
    drift,
    get_monitor,
    list_monitors,
    monitor_results,
    parse_cron,
    parse_window,
    run_monitor,
    summary_from_profile,
    write_monitor_report,
)
from steward.monitoring.monitors.reference import dataset_reference
from tests.monitoring.test_alerts import Receiver
from tests.monitoring.test_report import ARGS, CHROMIUM

FEATURES = ["age", "dose", "weight", "score"]


def frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Four standard-normal features; ``shift`` moves age and weight by that many sd."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    X[["age", "weight"]] += shift
    return X


def truth(X: pd.DataFrame) -> pd.Series:
    return (X["age"] + X["dose"] > 0).astype(int)


class Served:
    """A registered, lineage-linked classifier served on loopback."""

    def __init__(self, url: str) -> None:
        import httpx

        self.client = httpx.Client(base_url=url)
        self.sent = 0

    def send(self, X: pd.DataFrame) -> list[str]:
        ids: list[str] = []
        for start in range(0, len(X), 25):
            reply = self.client.post(
                "/predict", json={"inputs": X.iloc[start : start + 25].to_dict(orient="records")}
            )
            reply.raise_for_status()
            ids += reply.json()["request_ids"]
        self.sent += len(ids)
        deadline = time.monotonic() + 10
        while len(steward.serving.read_predictions("clf")) < self.sent:
            assert time.monotonic() < deadline, "the prediction log was not flushed"
            time.sleep(0.05)
        return ids

    def feedback(self, ids: list[str], labels: pd.Series) -> None:
        body = [{"request_id": i, "label": int(v)} for i, v in zip(ids, labels, strict=True)]
        self.client.post("/feedback", json={"feedback": body}).raise_for_status()


@pytest.fixture
def served(workspace: Any) -> Iterator[Served]:
    from sklearn.ensemble import RandomForestClassifier

    from steward.serving import ServingConfig
    from steward.serving.app import create_app
    from steward.serving.server import BackgroundServer

    X = frame(400, seed=0)
    y = truth(X)
    train = steward.data.add("clinic-train", X.assign(target=y))
    test = steward.data.add("clinic-test", frame(100, seed=9).assign(target=0))
    with steward.start_run():
        steward.data.use(train)
        steward.data.use(test)
        model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
        info = steward.models.log(model, input_example=X.head(5), register="clf")
    steward.models.set_alias("clf", "champion", info.version.version)
    config = ServingConfig(reload_interval_s=0, log_flush_interval_s=0.05)
    server = BackgroundServer(create_app("models:/clf@champion", config=config)).start()
    server.wait_ready()
    try:
        yield Served(server.url)
    finally:
        server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_drift_injected_partway_is_flagged_and_alerts_the_webhook(
    served: Served, receiver: Receiver
) -> None:
    create_monitor(
        "clinic",
        model="clf@champion",
        window="200 rows",
        schedule="0 * * * *",
        rules=["drift.share > 0.2"],
        channels=[f"webhook:{receiver.url}"],
    )
    served.send(frame(200, seed=1))
    calm = run_monitor("clinic")
    assert calm.status == "ok" and calm.rows == 200
    assert not calm.dataset_drift and calm.drifted == []
    assert calm.alerts == () and receiver.bodies == []
    assert any("through lineage" in note for note in calm.notes)
    assert calm.details["reference"]["description"] == "dataset clinic-train:1 (stored profile)"

    served.send(pd.concat([frame(100, seed=2), frame(100, seed=3, shift=1.5)]))
    drifted = run_monitor("clinic")
    assert drifted.dataset_drift is True
    assert {"age", "weight"} <= set(drifted.drifted)
    assert drifted.metrics["drift.share"] >= 0.5
    assert [n.event for n in drifted.alerts] == ["fired"]
    assert [body["event"] for body in receiver.bodies] == ["fired"]
    assert receiver.bodies[0]["source"] == "monitor:clinic"
    assert "performance.estimated.accuracy" in drifted.metrics

    history = monitor_results("clinic")
    assert [r.dataset_drift for r in history] == [False, True]
    stored = history[-1].drift()
    assert stored is not None and stored.drifted == drifted.drifted
    assert stored.reference_summary is not None and stored.current_summary is not None
    topics = [e.topic for e in steward.open_workspace().store.monitoring.events()]
    assert topics.count("monitor.evaluated") == 2 and "alert.fired" in topics


def test_alert_fires_once_across_runs_and_resolves(served: Served, receiver: Receiver) -> None:
    create_monitor(
        "dedup", model="clf@champion", window="150 rows", rules=["drift.share > 0.2"],
        channels=[f"webhook:{receiver.url}"],
    )  # fmt: skip
    served.send(frame(150, seed=4, shift=2.0))
    events = [[n.event for n in run_monitor("dedup").alerts] for _ in range(3)]
    assert events == [["fired"], [], []]
    served.send(frame(150, seed=5))
    resolved = run_monitor("dedup")
    assert [n.event for n in resolved.alerts] == ["resolved"]
    assert [b["event"] for b in receiver.bodies] == ["fired", "resolved"]
    assert steward.monitoring.list_alerts(source="monitor:dedup")[0].status == "resolved"


def test_labels_arriving_later_bring_realised_performance(served: Served) -> None:
    create_monitor("labels", model="clf@champion", window="1h")
    X = frame(120, seed=6)
    ids = served.send(X)
    before = run_monitor("labels")
    assert before.labels == 0 and before.performance() is None
    assert before.estimated() is not None
    assert "performance.accuracy" not in before.metrics
    assert any("no labels" in note for note in before.notes)

    served.feedback(ids, truth(X))
    after = run_monitor("labels")
    assert after.labels == 120
    realised = after.performance()
    assert realised is not None and realised.overall.rows == 120
    assert 0.7 < after.metrics["performance.accuracy"] <= 1.0
    # labels flipped for the first half: the realised accuracy drops, the estimate cannot see it
    served.feedback(ids[:60], 1 - truth(X).iloc[:60])
    flipped = run_monitor("labels")
    assert flipped.metrics["performance.accuracy"] < after.metrics["performance.accuracy"] - 0.3
    assert flipped.metrics["performance.estimated.accuracy"] == pytest.approx(
        after.metrics["performance.estimated.accuracy"]
    )
    assert flipped.drift() is not None and flipped.drift().target_drift is not None  # type: ignore[union-attr]


def test_explicit_dataset_and_window_references(served: Served) -> None:
    served.send(frame(100, seed=7))
    middle = datetime.now(UTC)
    time.sleep(0.01)
    served.send(frame(100, seed=8, shift=2.0))
    create_monitor("by-dataset", model="clf/1", reference="clinic-train:1", window="100 rows")
    by_dataset = run_monitor("by-dataset")
    assert by_dataset.dataset_drift
    assert not any("lineage" in note for note in by_dataset.notes)

    start = datetime(2000, 1, 1, tzinfo=UTC).isoformat()
    create_monitor(
        "by-window", model="clf@champion", reference=f"window:{start}/{middle.isoformat()}",
        window="100 rows",
    )  # fmt: skip
    by_window = run_monitor("by-window")
    assert by_window.dataset_drift and {"age", "weight"} <= set(by_window.drifted)
    description = by_window.details["reference"]["description"]
    assert description.startswith("the prediction log of clf@champion from")


def test_profile_reference_agrees_with_raw_data(workspace: Any) -> None:
    X = frame(800, seed=10).assign(flag=lambda d: (d["score"] > 0).astype(int))
    version = steward.data.add("ref", X)
    columns = [*FEATURES, "flag"]
    from_profile = dataset_reference(version, columns)
    from_table = dataset_reference(version, columns, use_profile=False)
    assert from_profile.from_profile and not from_table.from_profile
    assert from_profile.summary.columns["flag"].kind == "categorical"
    for seed, shift in [(11, 0.0), (12, 0.3), (13, 1.0), (14, 0.05)]:
        current = frame(300, seed=seed, shift=shift).assign(
            flag=lambda d: (d["score"] > 0.2).astype(int)
        )
        a = drift(from_profile.summary, current)
        b = drift(from_table.summary, current)
        c = drift(X, current)
        verdicts = {name: c.feature(name).drifted for name in columns}
        assert {n: a.feature(n).drifted for n in columns} == verdicts
        assert {n: b.feature(n).drifted for n in columns} == verdicts
        assert a.dataset_drift == c.dataset_drift
    summary, lacking = summary_from_profile(version.profile(), ["age", "nope"])  # type: ignore[arg-type]
    assert lacking == ["nope"] and summary.columns["age"].count == 800  # type: ignore[union-attr]


def test_bad_input_is_refused_or_reported(served: Served) -> None:
    with pytest.raises(NotFound):
        create_monitor("x", model="no-such-model@champion")
    with pytest.raises(InvalidInput, match="cron"):
        create_monitor("x", model="clf@champion", schedule="61 * * * *")
    with pytest.raises(InvalidInput, match="cron"):
        create_monitor("x", model="clf@champion", schedule="every hour")
    with pytest.raises(InvalidInput, match="alert rule"):
        create_monitor("x", model="clf@champion", rules=["drift.share >> 0.3"])
    with pytest.raises(InvalidInput, match="window"):
        create_monitor("x", model="clf@champion", window="fortnightly")
    with pytest.raises(InvalidInput, match="window"):
        create_monitor("x", model="clf@champion", window="0 rows")
    with pytest.raises(InvalidInput, match="channel"):
        create_monitor("x", model="clf@champion", channels=["pager:123"])
    with pytest.raises(InvalidInput, match="webhook URL"):
        create_monitor("x", model="clf@champion", channels=["webhook:ftp://x"])
    with pytest.raises(InvalidInput, match="window:START/END"):
        create_monitor("x", model="clf@champion", reference="window:yesterday")
    assert list_monitors() == []

    create_monitor("empty", model="clf@champion", window="1h", rules=["drift.share > 0.2"])
    with pytest.raises(Conflict):
        create_monitor("empty", model="clf@champion")
    empty = run_monitor("empty")
    assert empty.status == "empty" and empty.rows == 0 and empty.alerts == ()
    assert "no rows of the prediction log" in empty.notes[0]
    with pytest.raises(InvalidInput, match="no evaluated window"):
        write_monitor_report("empty", "r.html")

    # What a monitor names must exist when it is made; found missing later, a run
    # stores an error (see the table monitors' tests).
    with pytest.raises(NotFound, match="no dataset named 'nope'"):
        create_monitor("lost", model="clf@champion", reference="nope:3", window="10 rows")
    with pytest.raises(NotFound, match=r"has no version 99"):
        create_monitor("lost", model="clf/99")
    with pytest.raises(NotFound, match="no monitor"):
        run_monitor("never-made")


def test_cron_and_window_specs() -> None:
    hourly = parse_cron("0 * * * *")
    assert hourly.next_after(datetime(2026, 3, 1, 10, 15, tzinfo=UTC)) == datetime(
        2026, 3, 1, 11, 0, tzinfo=UTC
    )
    weekdays = parse_cron("30 9 * * mon-fri")
    saturday = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    assert weekdays.next_after(saturday) == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert parse_cron("@daily").next_after(saturday) == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    assert parse_cron("*/15 0 1 jan *").next_after(saturday) == datetime(2027, 1, 1, tzinfo=UTC)
    for bad in ["* * * *", "5-1 * * * *", "*/0 * * * *", "* 24 * * *", "* * * foo *"]:
        with pytest.raises(InvalidInput):
            parse_cron(bad)
    assert parse_window("1h").duration is not None and parse_window("1h").duration.seconds == 3600
    assert parse_window("2d").duration.days == 2  # type: ignore[union-attr]
    assert parse_window("500 rows").rows == 500 and parse_window("500").rows == 500
    for bad in ["", "1y", "-3h", "h", "1.5h", "0h"]:
        with pytest.raises(InvalidInput):
            parse_window(bad)


def test_cli_round_trip(served: Served, tmp_path: Path) -> None:
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result

    invoke(
        "monitor", "create", "cli", "--model", "clf@champion", "--window", "100 rows",
        "--schedule", "*/5 * * * *", "--rule", "drift.share > 0.2", "--channel", "log",
    )  # fmt: skip
    served.send(frame(100, seed=16, shift=2.0))
    ran = json.loads(invoke("monitor", "run", "cli", "--json").stdout)  # alerts log to stderr
    assert ran["dataset_drift"] is True and ran["alerts"][0]["event"] == "fired"
    assert "dataset drift" in invoke("monitor", "run", "cli").output
    listed = json.loads(invoke("monitor", "list", "--json").stdout)
    assert listed[0]["name"] == "cli" and listed[0]["latest"]["rows"] == 100
    assert "cli" in invoke("monitor", "list").output
    shown = json.loads(invoke("monitor", "show", "cli", "--json").stdout)
    assert shown["monitor"]["schedule"] == "*/5 * * * *" and len(shown["results"]) == 2
    assert "drifted" in invoke("monitor", "show", "cli").output
    out = tmp_path / "cli.html"
    assert "wrote" in invoke("monitor", "report", "cli", "--out", str(out)).output
    assert out.stat().st_size > 100_000
    bad = runner.invoke(
        app, ["monitor", "create", "bad", "--model", "clf@champion", "--window", "x"]
    )
    assert bad.exit_code != 0
    invoke("monitor", "delete", "cli")
    with pytest.raises(NotFound):
        get_monitor("cli")


@pytest.mark.slow
def test_monitor_report_renders_trends_in_chromium(served: Served, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    create_monitor("page", model="clf@champion", window="100 rows", rules=["drift.share > 0.2"])
    X = frame(100, seed=17)
    ids = served.send(X)
    served.feedback(ids, truth(X))
    run_monitor("page")
    served.send(frame(100, seed=18, shift=2.0))
    run_monitor("page")
    path = write_monitor_report("page", tmp_path / "page.html")
    text = path.read_text()
    assert "<script src=" not in text and "Trend over 2 window(s)" in text
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(offline=True).new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(path.as_uri())
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
            plots = page.locator(".js-plotly-plot")
            # 5 distributions (4 features, prediction), 4 trends (drift, rows, quality, performance)
            assert plots.count() == 9
            for i in range(plots.count()):
                assert plots.nth(i).locator("g.point, path.point, .bars path, g.trace").count() > 0
            assert page.locator("tr.drifted").count() >= 2  # drifted features and the window row
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []


def test_scheduled_monitors_run_once_per_firing(served: Served) -> None:
    from datetime import timedelta

    from steward.monitoring.monitors.scheduler import due_monitors, run_due

    create_monitor("hourly", model="clf@champion", window="100 rows", schedule="0 * * * *")
    create_monitor("unscheduled", model="clf@champion", window="100 rows")
    served.send(frame(100, seed=11))
    created = get_monitor("hourly").created_at
    next_hour = created.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)

    assert due_monitors(now=next_hour - timedelta(seconds=1)) == []
    assert [m.name for m in due_monitors(now=next_hour)] == ["hourly"]
    first = run_due(now=next_hour + timedelta(minutes=1))
    assert [result.monitor for result in first] == ["hourly"]
    assert run_due(now=next_hour + timedelta(minutes=2)) == []  # already evaluated this hour
    second = run_due(now=next_hour + timedelta(hours=1, minutes=1))
    assert [result.monitor for result in second] == ["hourly"]
    assert len(monitor_results("hourly")) == 2
    assert monitor_results("unscheduled") == []

    result = CliRunner().invoke(app, ["monitor", "watch", "--once"], catch_exceptions=False)
    assert result.exit_code == 0 and "monitor(s) were due" in result.output
