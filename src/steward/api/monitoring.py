"""Monitors, their results, alerts and the event log over HTTP.

A monitor run computes on the client (it reads prediction logs through the
blob routes) and records its window, the rule state and the alerts it fires
here; operators list and acknowledge alerts. Names and statuses are checked
on the server, since the SDK's own checks are the caller's to skip.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from steward.api.endpoint import Endpoint, Repository
from steward.auth import Role
from steward.blobs.digest import parse_digest
from steward.errors import InvalidInput
from steward.store.monitoring import MonitoringStore
from steward.store.validation import check_name

ALERT_STATUSES = ("firing", "resolved")
DELIVERY_STATUSES = ("delivered", "failed")


def _one_of(arguments: dict[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    value = arguments.get(name)
    if value is not None and value not in allowed:
        raise InvalidInput(f"{name} must be one of {allowed}, not {str(value)[:40]!r}.")


def _check_monitor(arguments: dict[str, Any]) -> None:
    check_name("monitor", arguments["name"])
    if arguments["model"]:  # empty for a monitor that watches a table
        check_name("model", arguments["model"])


def _check_result(arguments: dict[str, Any]) -> None:
    parse_digest(arguments["blob_digest"])
    if arguments["window_end"] < arguments["window_start"]:
        raise InvalidInput("a window cannot end before it starts.")
    if min(arguments["row_count"], arguments["label_count"]) < 0:
        raise InvalidInput("row and label counts cannot be negative.")


def _check_alert(arguments: dict[str, Any]) -> None:
    from steward.monitoring.alerts.rules import SEVERITIES  # loads NumPy: only when used

    _one_of(arguments, "severity", SEVERITIES)


def _check_listing(arguments: dict[str, Any]) -> None:
    _one_of(arguments, "status", ALERT_STATUSES)


def _check_delivery(arguments: dict[str, Any]) -> None:
    _one_of(arguments, "status", DELIVERY_STATUSES)
    if arguments["attempts"] < 0:
        raise InvalidInput("attempts cannot be negative.")


def _check_breaches(arguments: dict[str, Any]) -> None:
    if arguments["breaches"] < 0:
        raise InvalidInput("breaches cannot be negative.")


_monitoring = partial(Endpoint, "monitoring")
_read, _write = Role.VIEWER, Role.EDITOR
_monitor = "/monitors/{name}"
_alert = "/alerts/{alert_id}"

MONITORING = Repository(
    "monitoring",
    (
        _monitoring(
            MonitoringStore.create_monitor, "POST", "/monitors", _write, _check_monitor, 201
        ),
        _monitoring(MonitoringStore.list_monitors, "GET", "/monitors", _read),
        _monitoring(MonitoringStore.get_monitor, "GET", _monitor, _read),
        _monitoring(MonitoringStore.delete_monitor, "DELETE", _monitor, _write),
        _monitoring(
            MonitoringStore.add_monitor_result,
            "POST",
            "/monitors/{monitor}/results",
            _write,
            _check_result,
            201,
        ),
        _monitoring(MonitoringStore.monitor_results, "GET", "/monitors/{monitor}/results", _read),
        _monitoring(MonitoringStore.rule_breaches, "GET", "/alert-rules/breaches", _read),
        _monitoring(
            MonitoringStore.set_rule_breaches,
            "PUT",
            "/alert-rules/breaches",
            _write,
            _check_breaches,
        ),
        _monitoring(MonitoringStore.open_alert, "GET", "/alert-rules/open-alert", _read),
        _monitoring(MonitoringStore.fire, "POST", "/alerts", _write, _check_alert, 201),
        _monitoring(MonitoringStore.list_alerts, "GET", "/alerts", _read, _check_listing),
        _monitoring(MonitoringStore.update, "POST", _alert + "/update", _write),
        _monitoring(MonitoringStore.resolve, "POST", _alert + "/resolve", _write),
        _monitoring(MonitoringStore.acknowledge, "POST", _alert + "/acknowledge", _write),
        _monitoring(
            MonitoringStore.record_delivery,
            "POST",
            "/alert-deliveries",
            _write,
            _check_delivery,
            201,
        ),
        _monitoring(
            MonitoringStore.update_delivery,
            "POST",
            "/alert-deliveries/{pk}",
            _write,
            _check_delivery,
        ),
        _monitoring(MonitoringStore.deliveries, "GET", "/alert-deliveries", _read),
        _monitoring(MonitoringStore.latest_event_pk, "GET", "/events/latest", _read),
        _monitoring(MonitoringStore.events, "GET", "/events", _read),
        # POST: a tuple of topics does not fit a query string.
        _monitoring(MonitoringStore.events_in, "POST", "/events/search", _read),
    ),
)
