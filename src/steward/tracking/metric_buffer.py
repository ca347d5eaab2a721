"""Metrics are queued in memory and written in batches off the caller's thread.

``log_metric`` costs a lock and a list extend; a background writer drains
the queue every ``interval`` seconds (or sooner when it grows past
``batch_points``) into one ``log_batch`` per run. ``flush()`` drains in the
caller's thread and returns only once everything queued before it is
committed. A bounded queue keeps memory flat: past ``max_pending`` points the
caller waits for the writer.

A write that fails because the store cannot be written now (a full disk, a
store that cannot be reached: ``StorageError``) puts its points back in front
of the queue, so a later flush writes them once the cause is fixed; the error
is reported by the next ``flush`` (or ``add`` when the queue is full) instead
of blocking. Other failures (the run has ended) drop the points they concern.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from steward.errors import StewardError, StorageError
from steward.store.records import Metric

WriteBatch = Callable[[str, Sequence[Metric]], None]


class MetricBuffer:
    """A per-process queue of metric points, kept per run, with one background writer."""

    def __init__(
        self,
        interval: float = 0.5,
        batch_points: int = 20_000,
        max_pending: int = 1_000_000,
    ) -> None:
        self.interval = interval
        self.batch_points = batch_points
        self.max_pending = max_pending
        self._pending: dict[str, tuple[WriteBatch, list[Metric]]] = {}
        self._count = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._write_lock = threading.Lock()
        self._errors: list[BaseException] = []
        self._writer: threading.Thread | None = None
        self._closed = False
        self._retrying = False

    def add(self, run_id: str, write: WriteBatch, points: list[Metric]) -> None:
        """Queue points of ``run_id``, to be written with ``write``."""
        with self._lock:
            while self._count >= self.max_pending:
                if self._errors:  # writes keep failing: say why instead of waiting forever
                    self._raise_errors_locked()
                self._room.wait(timeout=1.0)
            queued = self._pending.get(run_id)
            if queued is None:
                self._pending[run_id] = (write, points)
            else:
                queued[1].extend(points)
            self._count += len(points)
            if self._writer is None:
                self._start_writer()
            if self._count >= self.batch_points:
                self._wake.notify()

    def take(self, run_id: str) -> list[Metric]:
        """Remove and return the points of ``run_id`` not written yet, once any
        write in progress has finished (so the caller can write them itself,
        e.g. together with the run's end). Background failures are left for
        ``raise_errors``."""
        with self._write_lock, self._lock:
            queued = self._pending.pop(run_id, None)
            if queued is not None:
                self._count -= len(queued[1])
                self._room.notify_all()
        return [] if queued is None else queued[1]

    def _start_writer(self) -> None:
        self._writer = threading.Thread(target=self._run, name="steward-metrics", daemon=True)
        self._writer.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if (not self._pending or self._retrying) and not self._closed:
                    self._wake.wait(timeout=self.interval)  # a kept batch waits before retrying
                if self._closed and (not self._pending or self._retrying):
                    return
            self._retrying = self._drain(record_errors=True)

    def _drain(self, record_errors: bool) -> bool:
        """Write what is queued; returns whether points were kept for a later try."""
        with self._write_lock:
            with self._lock:
                taken, self._pending, self._count = self._pending, {}, 0
                self._room.notify_all()
            failures = [
                (run_id, write, points, error)
                for run_id, (write, points) in taken.items()
                if (error := self._write(write, run_id, points)) is not None
            ]
            kept = False
            with self._lock:
                for run_id, write, points, error in failures:
                    if isinstance(error, StorageError):  # kept, in order, for a later try
                        queued = self._pending.pop(run_id, None)
                        self._pending[run_id] = (write, points + (queued[1] if queued else []))
                        self._count += len(points)
                        kept = True
                    if not self._errors:  # the first failure is the one reported
                        self._errors.append(error)
        if failures and not record_errors:
            self.raise_errors()
        return kept

    @staticmethod
    def _write(write: WriteBatch, run_id: str, points: list[Metric]) -> BaseException | None:
        try:
            write(run_id, points)
        except Exception as exc:
            return exc
        return None

    def flush(self) -> None:
        """Write everything queued so far; return once it is committed.

        Raises:
            StewardError: a background write failed since the last flush.
        """
        self._drain(record_errors=False)
        self.raise_errors()

    def raise_errors(self) -> None:
        """Raise the first background write failure since the last call, if any.

        Raises:
            StewardError: a background write failed.
        """
        with self._lock:
            self._raise_errors_locked()

    def _raise_errors_locked(self) -> None:
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
