"""Heartbeats: a run whose process died does not stay RUNNING forever.

While a process has runs open, one daemon thread tells the store every
``interval`` seconds (``STEWARD_HEARTBEAT_INTERVAL``, default 30) that they
are alive for ``MISSED_BEATS`` intervals more. A RUNNING run past that is
marked KILLED, ended at its last heartbeat, by whoever next reads it (a
listing, ``get_run``, a search). A process that was only asleep (a laptop
lid, ``SIGSTOP``) revives its runs with its next heartbeat or write.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence

from steward.errors import InvalidInput
from steward.tracking.backend import TrackingBackend

INTERVAL_ENV = "STEWARD_HEARTBEAT_INTERVAL"
DEFAULT_INTERVAL_S = 30.0
MISSED_BEATS = 10
"""A run is presumed dead after this many intervals without a heartbeat."""

logger = logging.getLogger("steward.tracking")

OpenRuns = Callable[[], Sequence[tuple[TrackingBackend, str]]]


def interval_s() -> float:
    """Seconds between heartbeats, from ``STEWARD_HEARTBEAT_INTERVAL``.

    Raises:
        InvalidInput: the variable is not a positive number.
    """
    text = os.environ.get(INTERVAL_ENV)
    if not text:
        return DEFAULT_INTERVAL_S
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise InvalidInput(f"{INTERVAL_ENV} must be a positive number of seconds, not {text!r}.")
    return value


def alive_ms() -> int:
    """How long a run counts as alive after a heartbeat, in milliseconds."""
    return int(interval_s() * MISSED_BEATS * 1000)


class Heartbeat:
    """One daemon thread per process beating for the runs ``open_runs`` returns."""

    def __init__(self, open_runs: OpenRuns) -> None:
        self._open_runs = open_runs
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def ensure_started(self) -> None:
        """Start the thread unless it runs (again after a fork, which keeps no threads)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="steward-heartbeat", daemon=True
                )
                self._thread.start()

    def beat(self) -> None:
        """Beat once now, for every open run (failures are logged, never raised)."""
        by_backend: dict[int, tuple[TrackingBackend, list[str]]] = {}
        for backend, run_id in self._open_runs():
            by_backend.setdefault(id(backend), (backend, []))[1].append(run_id)
        for backend, run_ids in by_backend.values():
            try:
                backend.heartbeat(run_ids, alive_ms())
            except Exception as exc:  # a missed beat is retried at the next interval
                logger.warning("steward: heartbeat of runs %s failed: %s", run_ids, exc)

    def _run(self) -> None:
        while True:
            self._wake.wait(interval_s())
            self._wake.clear()
            if not self._open_runs():
                with self._lock:
                    self._thread = None
                return
            self.beat()
