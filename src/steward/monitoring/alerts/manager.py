"""Alerting: evaluate rules on a window's numbers, de-duplicate, notify, record.

A persisting condition alerts once; it notifies again only when it worsens
or after the cool-down, and its resolution is announced. Every state change
is stored (``store/monitoring.py``) with an event for later consumers
(``alert.fired``, ``alert.resolved``…). Deliveries are retried with
exponential backoff; the outcome of each is recorded, and failed ones stay
``failed`` until ``retry_failed`` delivers them, so nothing is lost silently.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from steward.errors import InvalidInput
from steward.monitoring.alerts.channels import AlertChannel, AlertNotice
from steward.monitoring.alerts.rules import SEVERITIES, Rule, parse_rule
from steward.monitoring.alerts.targets import TargetRefused
from steward.store.monitoring import Alert

if TYPE_CHECKING:
    from steward.store.monitoring import MonitoringStore
    from steward.workspace import Workspace

logger = logging.getLogger("steward.alerts")

__all__ = ["Alert", "AlertManager", "AlertNotice", "ack", "list_alerts"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a delivery is retried."""

    attempts: int = 4
    initial_delay_s: float = 0.5
    factor: float = 2.0
    max_delay_s: float = 30.0


def _store(workspace: Workspace | None) -> tuple[MonitoringStore, str]:
    from steward.workspace import current_workspace

    ws = workspace or current_workspace()
    return ws.store.monitoring, ws.actor


class AlertManager:
    """Rules, channels and de-duplication state for one monitored source.

    Args:
        rules: rules as ``Rule`` objects or expressions (severity ``warning``).
        channels: where to send notices; each has a ``min_severity``.
        source: what is watched (a monitor or model name); state is kept per source and rule.
        cooldown: how long a persisting, not worsening alert stays quiet.
        retry: how deliveries are retried.
        workspace: the workspace holding alert state (default: the current one).
    """

    def __init__(
        self,
        rules: Sequence[Rule | str],
        channels: Sequence[AlertChannel] = (),
        source: str = "default",
        cooldown: timedelta = timedelta(hours=6),
        retry: RetryPolicy | None = None,
        workspace: Workspace | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rules = [parse_rule(rule) if isinstance(rule, str) else rule for rule in rules]
        keys = [rule.key for rule in self.rules]
        if len(set(keys)) != len(keys):
            raise InvalidInput("two alert rules share a name; give each a distinct name.")
        self.channels = list(channels)
        self.source = source
        self.cooldown = cooldown
        self.retry = retry or RetryPolicy()
        self._workspace = workspace
        self._sleep = sleep

    def evaluate(
        self, metrics: Mapping[str, float], now: datetime | None = None
    ) -> list[AlertNotice]:
        """Check every rule against one window's numbers and notify as needed.

        Args:
            metrics: flat numbers, e.g. ``{**drift.metrics(), **performance.metrics()}``.
            now: the window's time (default: now, UTC).

        Returns:
            The notices sent (or attempted) for this window.
        """
        store, actor = _store(self._workspace)
        now = now or datetime.now(UTC)
        notices = []
        for rule in self.rules:
            value = metrics.get(rule.metric)
            if value is None:
                logger.debug("rule %r: no metric %r in this window", rule.key, rule.metric)
                continue
            breached = rule.breached(value)
            breaches = store.rule_breaches(self.source, rule.key) + 1 if breached else 0
            store.set_rule_breaches(self.source, rule.key, breaches)
            open_alert = store.open_alert(self.source, rule.key)
            notice = None
            if breached and breaches >= rule.windows:
                if open_alert is None:
                    alert = self._fire(store, rule, value, _message(rule, value, breaches), actor)
                    notice = _notice(alert, "fired", value, now)
                else:
                    worse = rule.worse(value, open_alert.worst_value)
                    remind = not worse and now - open_alert.notified_at >= self.cooldown
                    alert = store.update(
                        open_alert.id,
                        value=value,
                        worst_value=value if worse else open_alert.worst_value,
                        notified=worse or remind,
                        topic="alert.worsened" if worse else None,
                        actor=actor,
                    )
                    if worse or remind:
                        notice = _notice(alert, "worsened" if worse else "reminder", value, now)
            elif not breached and open_alert is not None:
                alert = store.resolve(open_alert.id, value, actor)
                notice = _notice(alert, "resolved", value, now)
            if notice is not None:
                self._deliver(store, notice, rule)
                notices.append(notice)
        return notices

    def _fire(
        self, store: MonitoringStore, rule: Rule, value: float, message: str, actor: str
    ) -> Alert:
        return store.fire(
            source=self.source,
            rule=rule.key,
            expression=rule.expression,
            severity=rule.severity,
            metric=rule.metric,
            value=value,
            threshold=rule.threshold,
            message=message,
            actor=actor,
        )

    def _rule(self, key: str) -> Rule:
        for rule in self.rules:
            if rule.key == key:
                return rule
        raise InvalidInput(f"no alert rule named {key!r}; known: {[r.key for r in self.rules]}.")

    def announce(self, key: str, value: float, message: str) -> AlertNotice:
        """Alert about an event rather than a window's number (a retrain that failed, a
        challenger awaiting approval): fire the rule's alert with ``message``, or, while
        it is still firing, notify again as ``worsened``; deliver either way.

        Raises:
            InvalidInput: no rule named ``key``.
        """
        rule = self._rule(key)
        store, actor = _store(self._workspace)
        now = datetime.now(UTC)
        open_alert = store.open_alert(self.source, rule.key)
        if open_alert is None:
            alert = self._fire(store, rule, value, message, actor)
            event = "fired"
        else:
            alert = store.update(
                open_alert.id,
                value=value,
                worst_value=value,
                notified=True,
                topic="alert.worsened",
                actor=actor,
            )
            event = "worsened"
        notice = replace(_notice(alert, event, value, now), message=message)
        self._deliver(store, notice, rule)
        return notice

    def settle(self, key: str, message: str) -> AlertNotice | None:
        """Resolve the rule's firing alert, if any, and announce it with ``message``."""
        rule = self._rule(key)
        store, actor = _store(self._workspace)
        open_alert = store.open_alert(self.source, rule.key)
        if open_alert is None:
            return None
        alert = store.resolve(open_alert.id, 0.0, actor)
        notice = replace(_notice(alert, "resolved", 0.0, datetime.now(UTC)), message=message)
        self._deliver(store, notice, rule)
        return notice

    def _deliver(self, store: MonitoringStore, notice: AlertNotice, rule: Rule) -> None:
        for channel in self.channels:
            if rule.channels is not None and channel.name not in rule.channels:
                continue
            if SEVERITIES.index(notice.severity) < SEVERITIES.index(channel.min_severity):
                continue
            attempts, error = self._send_with_retry(channel, notice, self.retry.attempts)
            store.record_delivery(
                notice.alert_id,
                channel.name,
                notice.event,
                notice.to_dict(),
                "failed" if error else "delivered",
                attempts,
                error,
            )

    def _send_with_retry(
        self, channel: AlertChannel, notice: AlertNotice, attempts: int
    ) -> tuple[int, str | None]:
        delay = self.retry.initial_delay_s
        error = None
        for attempt in range(1, attempts + 1):
            try:
                channel.send(notice)
                return attempt, None
            except Exception as exc:  # any failure of a channel is retried, then recorded
                error = f"{type(exc).__name__}: {exc}"
                logger.warning(
                    "alert %s to %s failed (attempt %d of %d): %s",
                    notice.alert_id,
                    channel.name,
                    attempt,
                    attempts,
                    error,
                )
                if isinstance(exc, TargetRefused):
                    return attempt, error  # a refused target stays refused: no retry
                if attempt < attempts:
                    self._sleep(delay)
                    delay = min(delay * self.retry.factor, self.retry.max_delay_s)
        return attempts, error

    def retry_failed(self) -> int:
        """Retry every failed delivery to this manager's channels; returns how many now went."""
        store, _ = _store(self._workspace)
        by_name = {channel.name: channel for channel in self.channels}
        delivered = 0
        for delivery in store.deliveries(status="failed"):
            channel = by_name.get(delivery.channel)
            if channel is None:
                continue
            notice = AlertNotice.from_dict(delivery.payload)
            tries, error = self._send_with_retry(channel, notice, self.retry.attempts)
            store.update_delivery(
                delivery.pk,
                "failed" if error else "delivered",
                delivery.attempts + tries,
                error,
            )
            delivered += error is None
        return delivered


def _message(rule: Rule, value: float, breaches: int) -> str:
    held = f" for {breaches} windows" if rule.windows > 1 else ""
    return f"{rule.metric} is {value:.6g}, past {rule.op} {rule.threshold:g}{held}."


def _notice(alert: Alert, event: str, value: float, now: datetime) -> AlertNotice:
    message = alert.message
    if event == "resolved":
        message = f"{alert.metric} is back at {value:.6g} (rule {alert.expression})."
    elif event == "worsened":
        message = f"{alert.metric} worsened to {value:.6g} (rule {alert.expression})."
    return AlertNotice(
        alert_id=alert.id,
        event=event,
        source=alert.source,
        rule=alert.rule,
        expression=alert.expression,
        severity=alert.severity,
        metric=alert.metric,
        value=value,
        threshold=alert.threshold,
        message=message,
        at=now.isoformat(),
    )


def list_alerts(
    status: str | None = None,
    source: str | None = None,
    limit: int = 100,
    workspace: Workspace | None = None,
) -> list[Alert]:
    """Stored alerts, newest first (``status``: ``firing`` or ``resolved``)."""
    if status not in (None, "firing", "resolved"):
        raise InvalidInput(f"status must be 'firing' or 'resolved', not {status!r}.")
    store, _ = _store(workspace)
    return store.list_alerts(status=status, source=source, limit=limit)


def ack(alert_id: str, workspace: Workspace | None = None) -> Alert:
    """Acknowledge an alert by id (or a unique prefix of it)."""
    store, actor = _store(workspace)
    return store.acknowledge(alert_id, actor)
