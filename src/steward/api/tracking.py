"""The tracking repository over HTTP: experiments, runs, metrics, params, tags, artifacts.

The store trusts its callers to have validated names and values (the SDK
does, in ``ActiveRun``); over HTTP the caller may be anyone, so the checks
below run on the server first.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from steward.api.endpoint import Endpoint, Repository
from steward.auth import Role
from steward.blobs.digest import parse_digest
from steward.errors import InvalidInput
from steward.store.records import Metric
from steward.store.tracking import TrackingStore
from steward.store.validation import (
    check_artifact_path,
    check_name,
    check_param_value,
    check_tag_value,
)

_LIFECYCLES = ("active", "deleted")
MAX_TIME_MS = 253_402_300_799_999
"""The last millisecond of the year 9999: later times cannot become datetimes."""
MAX_ALIVE_MS = 86_400_000
"""The longest a run may count as alive without a heartbeat, through the server."""


def _check_metrics(metrics: list[Metric]) -> None:
    for key in {point.key for point in metrics}:
        check_name("metric", key)


def check_batch(arguments: dict[str, Any]) -> None:
    """Check the names and values of params, tags and metrics a caller sent.

    Raises:
        InvalidInput: a name or value the SDK would have refused.
    """
    _check_metrics(arguments.get("metrics") or [])
    for key, value in (arguments.get("params") or {}).items():
        check_name("param", key)
        check_param_value(key, value)
    for key, value in (arguments.get("tags") or {}).items():
        check_name("tag", key)
        check_tag_value(key, value)


def _check_new_run(arguments: dict[str, Any]) -> None:
    for key, value in (arguments.get("tags") or {}).items():
        check_tag_value(key, value)
    digest = arguments.get("system_info_digest")
    if digest is not None:
        parse_digest(digest)
    check_time(arguments, "start_time_ms")
    _check_alive(arguments)


def _check_recorded_run(arguments: dict[str, Any]) -> None:
    _check_new_run(arguments)
    check_batch(arguments)
    check_time(arguments, "end_time_ms")


def check_time(arguments: dict[str, Any], name: str) -> None:
    """Refuse a time argument (ms since 1970) that no datetime can hold."""
    value = arguments.get(name)
    if value is not None and not 0 < value <= MAX_TIME_MS:
        raise InvalidInput(f"{name} must be milliseconds since 1970 before the year 10000.")


def _check_end(arguments: dict[str, Any]) -> None:
    _check_metrics(arguments.get("metrics") or [])
    check_time(arguments, "end_time_ms")


def _check_alive(arguments: dict[str, Any]) -> None:
    alive_ms = arguments.get("alive_ms")
    if alive_ms is not None and not 0 < alive_ms <= MAX_ALIVE_MS:
        raise InvalidInput(f"alive_ms must be between 1 and {MAX_ALIVE_MS} (a day).")


def _check_lifecycle(arguments: dict[str, Any]) -> None:
    if arguments["lifecycle"] not in _LIFECYCLES:
        raise InvalidInput(f"lifecycle must be one of {_LIFECYCLES}.")


def check_artifact_entries(
    entries: Iterable[tuple[str, str, int]],
) -> list[tuple[str, str, int]]:
    """Artifact ``(path, digest, size)`` entries with their paths normalised.

    Raises:
        InvalidInput: a path outside the run, a malformed digest or a negative size.
    """
    checked = []
    for path, digest, size in entries:
        parse_digest(digest)
        if size < 0:
            raise InvalidInput(f"artifact {path!r} has a negative size.")
        checked.append((check_artifact_path(path), digest, size))
    return checked


def _check_artifacts(arguments: dict[str, Any]) -> None:
    arguments["entries"] = check_artifact_entries(arguments["entries"])


_tracking = partial(Endpoint, "tracking")
_read, _write = Role.VIEWER, Role.EDITOR

TRACKING = Repository(
    "tracking",
    (
        _tracking(TrackingStore.create_experiment, "POST", "/experiments", _write, status=201),
        _tracking(TrackingStore.list_experiments, "GET", "/experiments", _read),
        _tracking(TrackingStore.get_experiment, "GET", "/experiments/{name_or_id:path}", _read),
        _tracking(TrackingStore.get_or_create_experiment, "POST", "/experiments/ensure", _write),
        _tracking(TrackingStore.create_run, "POST", "/runs", _write, _check_new_run, status=201),
        _tracking(TrackingStore.record_run, "PUT", "/runs/{run_id}", _write, _check_recorded_run),
        _tracking(TrackingStore.search_runs, "POST", "/runs/search", _read),
        _tracking(TrackingStore.set_lifecycle, "POST", "/runs/lifecycle", _write, _check_lifecycle),
        _tracking(TrackingStore.get_run, "GET", "/runs/{run_id}", _read),
        _tracking(TrackingStore.log_batch, "POST", "/runs/{run_id}/batch", _write, check_batch),
        _tracking(TrackingStore.end_run, "POST", "/runs/{run_id}/end", _write, _check_end),
        _tracking(TrackingStore.attach_run, "POST", "/runs/{run_id}/attach", _write, _check_alive),
        _tracking(TrackingStore.heartbeat, "POST", "/runs/heartbeat", _write, _check_alive),
        _tracking(TrackingStore.metric_history, "GET", "/runs/{run_id}/metric-history", _read),
        _tracking(TrackingStore.list_artifacts, "GET", "/runs/{run_id}/artifacts", _read),
        _tracking(
            TrackingStore.add_artifacts,
            "POST",
            "/runs/{run_id}/artifacts",
            _write,
            _check_artifacts,
        ),
    ),
)
