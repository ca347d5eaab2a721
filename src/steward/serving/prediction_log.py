"""The prediction log: every prediction recorded off the request path.

Handlers put one ``LogEntry`` per answered request group on a bounded queue
and return at once; a background thread turns entries into Parquet segments
(one per model, version and UTC day), stores each in the blob store and
indexes it, with its request ids, in the metadata store. When the queue is
full the entry is shed (counted, with a warning), never the request.
``close`` drains the queue, so a clean shutdown loses nothing acknowledged.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from steward.workspace import Workspace

logger = logging.getLogger("steward.serving")

INPUT_PREFIX = "input."
_SHED_WARNING_INTERVAL_S = 10.0
_WRITE_ATTEMPTS = 3


@dataclass
class LogEntry:
    """The predictions answered for one request by one model version."""

    model: str
    version: int | None
    route: str
    protocol: str
    time_ms: int
    latency_ms: float
    request_ids: list[str]
    inputs: Any
    predictions: Any
    probabilities: Any = None
    entity_ids: list[str | None] | None = None
    correlation_id: str | None = None

    @property
    def rows(self) -> int:
        """How many predictions the entry holds."""
        return len(self.request_ids)


class PredictionLogWriter:
    """A bounded queue of entries and the thread that writes them as Parquet segments.

    Args:
        workspace: the stores the segments go to (a bundle server opens one in its log folder).
        max_queue: entries held in memory before new ones are shed.
        flush_rows: rows that trigger a segment write.
        flush_interval_s: the longest an entry waits before it is written.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        max_queue: int = 10_000,
        flush_rows: int = 5_000,
        flush_interval_s: float = 1.0,
    ) -> None:
        self.workspace = workspace
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self.max_queue = max_queue
        # A plain list swapped out whole by the writer: a queue.Queue's lock
        # and condition per entry cost the event loop more than the write did.
        self._entries: list[LogEntry] = []
        self._queued_rows = 0
        self._pending_ids: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._flush_requested = threading.Event()
        self._flushed = threading.Condition()
        self._last_warning = 0.0
        self.shed_rows = 0
        self.written_rows = 0
        self.failed_rows = 0
        self.segments = 0
        self._thread = threading.Thread(
            target=self._loop, name="steward-prediction-log", daemon=True
        )
        self._thread.start()

    @property
    def queue_depth(self) -> int:
        """Entries waiting to be written."""
        return len(self._entries)

    def submit(self, entry: LogEntry) -> bool:
        """Queue an entry for writing; False (and counted) when the queue is full."""
        with self._lock:
            accepted = len(self._entries) < self.max_queue
            if accepted:
                self._entries.append(entry)
                self._pending_ids.update(entry.request_ids)
                self._queued_rows += entry.rows
                if self._queued_rows >= self.flush_rows:
                    self._wake.notify()
        if accepted:
            return True
        self.shed_rows += entry.rows
        now = time.monotonic()
        if now - self._last_warning > _SHED_WARNING_INTERVAL_S:
            self._last_warning = now
            logger.warning(
                "prediction log queue is full: shedding log entries (%d rows so far); "
                "requests are still answered",
                self.shed_rows,
            )
        return False

    def pending(self, request_ids: list[str]) -> set[str]:
        """The ids among ``request_ids`` that are queued but not yet written."""
        with self._lock:
            return {request_id for request_id in request_ids if request_id in self._pending_ids}

    def flush(self, timeout: float = 30.0) -> bool:
        """Write everything queued so far; True once it is stored (False on timeout)."""
        with self._lock:
            waiting = set(self._pending_ids)
            if not waiting:
                return True
            self._flush_requested.set()
            self._wake.notify()
        with self._flushed:
            return self._flushed.wait_for(
                lambda: not self._thread.is_alive() or not self.pending(list(waiting)), timeout
            )

    def close(self, timeout: float = 30.0) -> None:
        """Drain the queue, write it, and stop the writer thread."""
        with self._lock:
            self._stop.set()
            self._wake.notify()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not (
                    self._stop.is_set()
                    or self._flush_requested.is_set()
                    or self._queued_rows >= self.flush_rows
                ):
                    self._wake.wait(timeout=self.flush_interval_s)
                batch, self._entries, self._queued_rows = self._entries, [], 0
                self._flush_requested.clear()
                stopping = self._stop.is_set()
            if batch:
                self._write(batch)
            with self._flushed:
                self._flushed.notify_all()
            if stopping:
                with self._lock:
                    if not self._entries:
                        return

    def _write(self, batch: list[LogEntry]) -> None:
        groups: dict[tuple[str, int | None, str], list[LogEntry]] = defaultdict(list)
        for entry in batch:
            day = datetime.fromtimestamp(entry.time_ms / 1000, UTC).strftime("%Y-%m-%d")
            groups[(entry.model, entry.version, day)].append(entry)
        for (model, version, day), entries in groups.items():
            row_count = sum(entry.rows for entry in entries)
            for attempt in range(_WRITE_ATTEMPTS):
                try:
                    self._write_segment(model, version, day, entries)
                    self.written_rows += row_count
                    self.segments += 1
                    break
                except Exception:
                    if attempt == _WRITE_ATTEMPTS - 1:
                        self.failed_rows += row_count
                        logger.exception(
                            "could not write %d prediction-log rows of %s", row_count, model
                        )
                    else:
                        time.sleep(0.2 * (attempt + 1))
            with self._lock:
                for entry in entries:
                    self._pending_ids.difference_update(entry.request_ids)

    def _write_segment(
        self, model: str, version: int | None, day: str, entries: list[LogEntry]
    ) -> None:
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(entries_table(entries), buffer)
        ref = self.workspace.blobs.put_bytes(buffer.getvalue())
        requests = [
            (request_id, entry.time_ms) for entry in entries for request_id in entry.request_ids
        ]
        self.workspace.store.serving.add_segment(model, version, day, ref.digest, requests)


def _inputs_frame(entries: list[LogEntry]) -> pd.DataFrame:
    """All entries' inputs as one frame, concatenated once (not one frame per row)."""
    import numpy as np
    import pandas as pd

    arrays = [entry.inputs for entry in entries if not isinstance(entry.inputs, pd.DataFrame)]
    if len(arrays) == len(entries) and len({np.shape(part)[1:] for part in arrays}) == 1:
        # Tensor inputs (MLflow "instances", v2 tensors): one array, one frame.
        frame = pd.DataFrame(
            np.concatenate([np.asarray(part).reshape(len(part), -1) for part in arrays])
        )
    else:
        frames = [
            entry.inputs
            if isinstance(entry.inputs, pd.DataFrame)
            else pd.DataFrame(np.asarray(entry.inputs).reshape(entry.rows, -1))
            for entry in entries
        ]
        frame = pd.concat(frames, ignore_index=True)
    frame.columns = [f"{INPUT_PREFIX}{column}" for column in frame.columns]
    return frame


def entries_table(entries: list[LogEntry]) -> Any:
    """The log rows of ``entries`` as one Arrow table (inputs as ``input.<column>``).

    Built column by column from plain lists: the writer thread shares the
    interpreter with the request handlers, so per-row pandas work here would
    slow serving down.
    """
    import numpy as np
    import pyarrow as pa

    request_ids: list[str] = []
    times: list[int] = []
    versions: list[int | None] = []
    routes: list[str] = []
    protocols: list[str] = []
    latencies: list[float] = []
    entity_ids: list[str | None] = []
    correlation_ids: list[str | None] = []
    predictions: list[Any] = []
    probabilities: list[Any] = []
    for entry in entries:
        rows = entry.rows
        request_ids += entry.request_ids
        times += [entry.time_ms] * rows
        versions += [entry.version] * rows
        routes += [entry.route] * rows
        protocols += [entry.protocol] * rows
        latencies += [entry.latency_ms] * rows
        entity_ids += entry.entity_ids or [None] * rows
        correlation_ids += [entry.correlation_id] * rows
        predictions += np.asarray(entry.predictions).tolist()
        probabilities += (
            np.asarray(entry.probabilities, dtype="float64").tolist()
            if entry.probabilities is not None
            else [None] * rows
        )
    meta = pa.table(
        {
            "request_id": pa.array(request_ids, pa.string()),
            "timestamp": pa.array(times, pa.timestamp("ms", tz="UTC")),
            "model": pa.array([entries[0].model] * len(request_ids), pa.string()),
            "version": pa.array(versions, pa.int64()),
            "route": pa.array(routes, pa.string()),
            "protocol": pa.array(protocols, pa.string()),
            "latency_ms": pa.array(latencies, pa.float64()),
            "entity_id": pa.array(entity_ids, pa.string()),
            "correlation_id": pa.array(correlation_ids, pa.string()),
            "prediction": pa.array(predictions),
            "probabilities": pa.array(probabilities, pa.list_(pa.float64())),
        }
    )
    inputs = pa.Table.from_pandas(_inputs_frame(entries), preserve_index=False)
    for name, column in zip(inputs.column_names, inputs.columns, strict=True):
        meta = meta.append_column(name, column)
    return meta
