"""Where alerts go: a small protocol and implementations registered by name.

``channel("webhook", url=...)``, ``channel("slack", url=...)``,
``channel("email", host=..., port=..., sender=..., recipients=[...])`` and
``channel("log")``. A channel's ``send`` raises on failure; retrying with
backoff and recording the outcome is the caller's job (``alerts/manager.py``).
Third-party channels register with ``register_channel("pager", "pkg.mod:Pager")``.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Any, Protocol, runtime_checkable

from steward.errors import InvalidInput
from steward.monitoring.alerts.rules import SEVERITIES
from steward.monitoring.alerts.targets import (
    PinnedSMTP,
    TargetRefused,
    check_target,
    post_json,
    resolve_target,
    split_url,
)

_REGISTRY: dict[str, str | type] = {
    "webhook": "steward.monitoring.alerts.channels:WebhookChannel",
    "slack": "steward.monitoring.alerts.channels:SlackChannel",
    "email": "steward.monitoring.alerts.channels:EmailChannel",
    "log": "steward.monitoring.alerts.channels:LogChannel",
}


@dataclass(frozen=True)
class AlertNotice:
    """What a channel is told: one event (fired, worsened, reminder, resolved) of an alert."""

    alert_id: str
    event: str
    source: str
    rule: str
    expression: str
    severity: str
    metric: str
    value: float | None
    threshold: float
    message: str
    at: str

    @property
    def title(self) -> str:
        """A one-line summary for subjects and chat messages."""
        verb = {
            "fired": "FIRING",
            "worsened": "WORSENED",
            "reminder": "STILL FIRING",
            "resolved": "RESOLVED",
        }.get(self.event, self.event.upper())
        return f"[{self.severity}] {verb}: {self.rule} ({self.source})"

    def shown_value(self, digits: int = 6) -> str:
        """The figure for people: ``digits`` significant digits, ``-`` when there is none."""
        return "-" if self.value is None else f"{self.value:.{digits}g}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertNotice:
        """Rebuild a notice stored by ``to_dict`` (for retried deliveries)."""
        return cls(**{key: data[key] for key in cls.__dataclass_fields__})


@runtime_checkable
class AlertChannel(Protocol):
    """Something that can be told about an alert."""

    name: str
    min_severity: str

    def send(self, notice: AlertNotice) -> None:
        """Deliver the notice or raise."""


class _Base:
    def __init__(self, name: str, min_severity: str = "info", timeout: float = 10.0) -> None:
        if min_severity not in SEVERITIES:
            raise InvalidInput(
                f"min_severity must be one of {', '.join(SEVERITIES)}, not {min_severity!r}."
            )
        self.name = name
        self.min_severity = min_severity
        self.timeout = timeout


def _post_json(url: str, body: dict[str, Any], timeout: float, headers: dict[str, str]) -> None:
    post_json(url, json.dumps(body, default=str).encode(), timeout, headers)


class WebhookChannel(_Base):
    """POSTs the notice as JSON to a URL.

    The URL's host is checked when the channel is made and again at each
    delivery (``targets.py``): link-local and cloud metadata addresses are
    refused, the allow-list applies, redirects are not followed.
    """

    def __init__(
        self,
        url: str,
        name: str = "webhook",
        headers: dict[str, str] | None = None,
        min_severity: str = "info",
        timeout: float = 10.0,
    ) -> None:
        super().__init__(name, min_severity, timeout)
        _, host, port, _, _ = split_url(url)
        check_target(host, port)
        self.url = url
        self.headers = dict(headers or {})

    def send(self, notice: AlertNotice) -> None:
        """POST ``{"title": ..., **notice}``."""
        _post_json(
            self.url, {"title": notice.title, **notice.to_dict()}, self.timeout, self.headers
        )


class SlackChannel(WebhookChannel):
    """POSTs a Slack-compatible message (``text`` and ``blocks``) to an incoming webhook."""

    def __init__(self, url: str, name: str = "slack", **options: Any) -> None:
        super().__init__(url, name=name, **options)

    def send(self, notice: AlertNotice) -> None:
        """POST ``{"text": ..., "blocks": [...]}``."""
        value = notice.shown_value(4)
        details = f"*{notice.metric}* = {value} (rule: `{notice.expression}`)\n{notice.message}"
        body = {
            "text": f"{notice.title}: {notice.metric} = {value}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": notice.title[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": details}},
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": f"alert {notice.alert_id} at {notice.at}"}
                    ],
                },
            ],
        }
        _post_json(self.url, body, self.timeout, self.headers)


class EmailChannel(_Base):
    """Sends an e-mail over SMTP (STARTTLS and login when asked).

    The SMTP host is checked like a webhook's (``targets.py``), when the
    channel is made and again at each delivery.
    """

    def __init__(
        self,
        host: str,
        sender: str,
        recipients: Sequence[str],
        port: int = 25,
        name: str = "email",
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        min_severity: str = "info",
        timeout: float = 10.0,
    ) -> None:
        super().__init__(name, min_severity, timeout)
        if not recipients:
            raise InvalidInput("an e-mail channel needs at least one recipient.")
        if not 0 < port < 65536:
            raise InvalidInput(f"SMTP port must be between 1 and 65535, not {port!r}.")
        check_target(host, port)
        self.host, self.port = host, port
        self.sender, self.recipients = sender, list(recipients)
        self.username, self.password, self.starttls = username, password, starttls

    def send(self, notice: AlertNotice) -> None:
        """Send one message to every recipient."""
        message = EmailMessage()
        message["Subject"] = notice.title
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        value = notice.shown_value()
        message.set_content(
            f"{notice.title}\n\nmetric: {notice.metric} = {value}\n"
            f"rule: {notice.expression}\nthreshold: {notice.threshold}\n"
            f"alert: {notice.alert_id}\nat: {notice.at}\n\n{notice.message}\n"
        )
        target = resolve_target(self.host, self.port)
        with PinnedSMTP(target, self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


class LogChannel(_Base):
    """Writes the notice to the ``steward.alerts`` logger."""

    def __init__(
        self, name: str = "log", min_severity: str = "info", logger: str = "steward.alerts"
    ) -> None:
        super().__init__(name, min_severity)
        self.logger = logging.getLogger(logger)

    def send(self, notice: AlertNotice) -> None:
        """Log at WARNING (critical: ERROR, resolved and info: INFO)."""
        level = {"critical": logging.ERROR, "warning": logging.WARNING}.get(
            notice.severity, logging.INFO
        )
        if notice.event == "resolved":
            level = logging.INFO
        value = notice.shown_value()
        self.logger.log(
            level, "%s: %s = %s (%s)", notice.title, notice.metric, value, notice.expression
        )


class UnavailableChannel(_Base):
    """A channel that could not be made when a monitor ran (its target is refused now).

    Its sends fail with the reason, so each delivery is recorded as failed and
    the monitor's other channels and its stored result are unaffected.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name)
        self.reason = reason

    def send(self, notice: AlertNotice) -> None:
        """Raise the reason the channel could not be made."""
        raise TargetRefused(self.reason)


def register_channel(kind: str, target: str | type) -> None:
    """Register a channel class under ``kind`` (a class or ``"module:Class"``)."""
    _REGISTRY[kind] = target


def channel(kind: str, **options: Any) -> AlertChannel:
    """Create a channel of a registered kind.

    Raises:
        InvalidInput: no channel of this kind is registered, or an option is wrong.
    """
    target = _REGISTRY.get(kind)
    if target is None:
        raise InvalidInput(
            f"no alert channel kind {kind!r}; known: {', '.join(sorted(_REGISTRY))}."
        )
    if isinstance(target, str):
        module, _, attribute = target.partition(":")
        target = getattr(importlib.import_module(module), attribute)
    try:
        instance = target(**options)
    except TypeError as exc:
        raise InvalidInput(f"alert channel {kind!r}: {exc}") from exc
    return instance
