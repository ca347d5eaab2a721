"""Metrics are queued in memory and written in batches off the caller's thread.

``log_metric`` costs a lock and an append; a background writer drains the
queue every ``interval`` seconds (or sooner when it grows past
``batch_points``) into one ``log_batch`` per run. ``flush()`` drains in the
caller's thread and returns only once everything queued before it is
committed. A bounded queue keeps memory flat: past ``max_pending`` points the
caller waits for the writer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from steward.errors import StewardError
from steward.store.records import Metric

WriteBatch = Callable[[str, Sequence[Metric]], None]


class MetricBuffer:
    """A per-process queue of metric points with one background writer."""

    def __init__(
        self,
        interval: float = 0.5,
        batch_points: int = 20_000,
        max_pending: int = 1_000_000,
    ) -> None:
        self.interval = interval
        self.batch_points = batch_points
        self.max_pending = max_pending
        self._pending: list[tuple[str, WriteBatch, Metric]] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._write_lock = threading.Lock()
        self._errors: list[BaseException] = []
        self._writer: threading.Thread | None = None
        self._closed = False

    def add(self, run_id: str, write: WriteBatch, point: Metric) -> None:
        """Queue one point of ``run_id``, to be written with ``write``."""
        with self._lock:
            while len(self._pending) >= self.max_pending:
                self._room.wait(timeout=1.0)
            self._pending.append((run_id, write, point))
            if self._writer is None:
                self._start_writer()
            if len(self._pending) >= self.batch_points:
                self._wake.notify()

    def add_many(self, run_id: str, write: WriteBatch, points: Sequence[Metric]) -> None:
        """Queue several points of ``run_id`` at once."""
        with self._lock:
            while len(self._pending) >= self.max_pending:
                self._room.wait(timeout=1.0)
            self._pending.extend((run_id, write, point) for point in points)
            if self._writer is None:
                self._start_writer()
            if len(self._pending) >= self.batch_points:
                self._wake.notify()

    def _start_writer(self) -> None:
        self._writer = threading.Thread(target=self._run, name="steward-metrics", daemon=True)
        self._writer.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._pending and not self._closed:
                    self._wake.wait(timeout=self.interval)
                if self._closed and not self._pending:
                    return
            self._drain(record_errors=True)

    def _drain(self, record_errors: bool) -> None:
        with self._write_lock:
            with self._lock:
                taken, self._pending = self._pending, []
                self._room.notify_all()
            if not taken:
                return
            by_run: dict[str, tuple[WriteBatch, list[Metric]]] = {}
            for run_id, write, point in taken:
                by_run.setdefault(run_id, (write, []))[1].append(point)
            for run_id, (write, points) in by_run.items():
                try:
                    write(run_id, points)
                except BaseException as exc:
                    if not record_errors:
                        raise
                    self._errors.append(exc)

    def flush(self) -> None:
        """Write everything queued so far; return once it is committed.

        Raises:
            StewardError: a background write failed since the last flush.
        """
        self._drain(record_errors=False)
        if self._errors:
            errors, self._errors = self._errors, []
            first = errors[0]
            if isinstance(first, StewardError):
                raise first
            raise StewardError(f"writing metrics in the background failed: {first}") from first

    def close(self) -> None:
        """Flush and stop the writer."""
        with self._lock:
            self._closed = True
            self._wake.notify()
        self.flush()
        if self._writer is not None:
            self._writer.join(timeout=5)
            self._writer = None
        self._closed = False
