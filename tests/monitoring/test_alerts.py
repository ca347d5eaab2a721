"""Alerts end to end: rules, de-duplication, cool-down, resolution, delivery to real
loopback receivers (HTTP webhooks and an aiosmtpd SMTP server), retries and events."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from steward.cli import app
from steward.monitoring import AlertManager, ack, channel, list_alerts, parse_rule
from steward.monitoring.alerts.manager import RetryPolicy
from tests.services import Receiver

FAST = RetryPolicy(attempts=3, initial_delay_s=0.0)


@pytest.fixture
def smtp_messages() -> Iterator[tuple[int, list[Any]]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    messages: list[Any] = []

    class Collect(Message):
        def handle_message(self, message: Any) -> None:
            messages.append(message)

    with socket.socket() as probe:  # aiosmtpd cannot take port 0: find a free one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, messages
    finally:
        controller.stop()


def test_persisting_condition_alerts_once_then_on_worsening_cooldown_and_resolution(
    any_workspace: Any, receiver: Receiver
) -> None:
    manager = AlertManager(
        [parse_rule("drift.share > 0.3", severity="critical")],
        [channel("webhook", url=receiver.url)],
        source="clinic-model",
        cooldown=timedelta(hours=6),
        retry=FAST,
    )
    start = datetime.now(UTC)
    events = [
        manager.evaluate({"drift.share": value}, now=start + timedelta(minutes=minute))
        for minute, value in [(0, 0.1), (60, 0.4), (120, 0.41), (180, 0.42), (240, 0.6)]
    ]
    assert [[n.event for n in e] for e in events] == [[], ["fired"], [], [], ["worsened"]]
    later = manager.evaluate({"drift.share": 0.6}, now=start + timedelta(hours=12))
    assert [n.event for n in later] == ["reminder"]
    resolved = manager.evaluate({"drift.share": 0.2}, now=start + timedelta(hours=13))
    assert [n.event for n in resolved] == ["resolved"]
    assert [b["event"] for b in receiver.bodies] == ["fired", "worsened", "reminder", "resolved"]
    assert receiver.bodies[0]["severity"] == "critical"
    assert receiver.bodies[0]["title"].startswith("[critical] FIRING")

    (alert,) = list_alerts()
    assert alert.status == "resolved" and alert.worst_value == 0.6
    store = any_workspace.store.monitoring
    topics = [event.topic for event in store.events()]
    assert topics == ["alert.fired", "alert.worsened", "alert.resolved"]
    assert store.events(topic="alert.resolved")[0].payload["id"] == alert.id
    assert all(d.status == "delivered" for d in store.deliveries())


def test_for_n_windows_needs_consecutive_breaches(any_workspace: Any) -> None:
    manager = AlertManager(["performance.f1 < 0.8 for 2 windows"], retry=FAST)
    assert manager.evaluate({"performance.f1": 0.7}) == []
    assert manager.evaluate({"performance.f1": 0.9}) == []
    assert manager.evaluate({"performance.f1": 0.7}) == []
    assert [n.event for n in manager.evaluate({"performance.f1": 0.7})] == ["fired"]
    assert manager.evaluate({"drift.share": 1.0}) == []  # the rule's metric is absent


def test_failed_deliveries_are_retried_recorded_and_redelivered(
    any_workspace: Any, receiver: Receiver
) -> None:
    sleeps: list[float] = []
    manager = AlertManager(
        ["quality.missing.age > 0.05"],
        [channel("slack", url=receiver.url)],
        retry=RetryPolicy(attempts=3, initial_delay_s=0.5),
        sleep=sleeps.append,
    )
    receiver.fail_next = 2
    manager.evaluate({"quality.missing.age": 0.2})
    assert sleeps == [0.5, 1.0]  # exponential backoff
    assert receiver.bodies[0]["text"].startswith("[warning] FIRING")
    assert receiver.bodies[0]["blocks"][0]["type"] == "header"

    receiver.fail_next = 10
    manager.evaluate({"quality.missing.age": 0.01})  # resolution: every try fails
    store = any_workspace.store.monitoring
    (failed,) = store.deliveries(status="failed")
    assert failed.event == "resolved" and failed.attempts == 3 and "503" in failed.last_error
    receiver.fail_next = 0
    assert manager.retry_failed() == 1
    assert store.deliveries(status="failed") == []
    assert receiver.bodies[-1]["text"].startswith("[warning] RESOLVED")


def test_unreachable_webhook_is_recorded_not_raised(any_workspace: Any) -> None:
    manager = AlertManager(
        ["drift.share > 0.3"], [channel("webhook", url="http://127.0.0.1:9/none")], retry=FAST
    )
    (notice,) = manager.evaluate({"drift.share": 0.5})
    (delivery,) = any_workspace.store.monitoring.deliveries(alert_id=notice.alert_id)
    assert delivery.status == "failed" and delivery.attempts == 3


def test_email_and_log_channels_and_severity_routing(
    workspace: Any, smtp_messages: tuple[int, list[Any]], caplog: pytest.LogCaptureFixture
) -> None:
    port, messages = smtp_messages
    email = channel(
        "email",
        host="127.0.0.1",
        port=port,
        sender="steward@clinic.example",
        recipients=["oncall@clinic.example"],
        min_severity="critical",
    )
    manager = AlertManager(
        [
            parse_rule("drift.share > 0.3", severity="critical", name="drift"),
            parse_rule("quality.duplicates > 0.1", severity="info", name="dupes"),
        ],
        [email, channel("log")],
        retry=FAST,
    )
    with caplog.at_level(logging.INFO, logger="steward.alerts"):
        manager.evaluate({"drift.share": 0.5, "quality.duplicates": 0.2})
    assert len(messages) == 1  # the info alert is below the e-mail channel's severity
    assert messages[0]["Subject"] == "[critical] FIRING: drift (default)"
    assert "drift.share = 0.5" in messages[0].get_payload()
    assert sum("FIRING" in record.getMessage() for record in caplog.records) == 2


def test_cli_lists_and_acknowledges(any_workspace: Any) -> None:
    AlertManager(["drift.share > 0.3"], retry=FAST).evaluate({"drift.share": 0.5})
    (alert,) = list_alerts(status="firing")
    runner = CliRunner()
    listed = runner.invoke(app, ["alerts", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)[0]["id"] == alert.id
    acked = runner.invoke(app, ["alerts", "ack", alert.id[:8]])
    assert acked.exit_code == 0, acked.output
    assert list_alerts()[0].acknowledged_by == "tester"
    assert any_workspace.store.monitoring.events()[-1].topic == "alert.acknowledged"
    table = runner.invoke(app, ["alerts", "list", "--status", "firing"])
    assert table.exit_code == 0 and "Alerts" in table.output
    missing = runner.invoke(app, ["alerts", "ack", "nope"])
    assert missing.exit_code != 0
    with pytest.raises(Exception, match="no alert"):
        ack("nope")


def test_events_of_several_topics(any_workspace: Any) -> None:
    """A tuple of topics filters events the same way locally and through a server
    (the agent reads ``("monitor.evaluated", "alert.fired")``)."""
    AlertManager(["drift.share > 0.3"], retry=FAST).evaluate({"drift.share": 0.5})
    (alert,) = list_alerts(status="firing")
    CliRunner().invoke(app, ["alerts", "ack", alert.id[:8]])
    monitoring = any_workspace.store.monitoring
    every = [event.topic for event in monitoring.events()]
    assert {"alert.fired", "alert.acknowledged"} <= set(every)
    picked = [event.topic for event in monitoring.events_in(("alert.acknowledged", "nothing"))]
    assert picked == ["alert.acknowledged"]
    assert [event.topic for event in monitoring.events("alert.*")] == [
        topic for topic in every if topic.startswith("alert.")
    ]


def test_the_log_channel_shows_a_missing_value_as_a_dash(caplog: pytest.LogCaptureFixture) -> None:
    """A notice without a figure (a retraining budget's skip) logs ``-``, never ``None``."""
    from steward.monitoring.alerts.channels import AlertNotice, LogChannel

    notice = AlertNotice(
        alert_id="a", event="skipped", source="trigger:t", rule="retraining budget",
        expression="min interval", severity="warning", metric="retrains", value=None,
        threshold=0.0, message="skipped", at=datetime.now(UTC).isoformat(),
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="steward.alerts"):
        LogChannel().send(notice)
        LogChannel().send(dataclasses.replace(notice, value=0.123456789))
    assert "retrains = - (min interval)" in caplog.messages[0]
    assert "retrains = 0.123457 (min interval)" in caplog.messages[1]
