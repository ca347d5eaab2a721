"""The prediction log: every prediction recorded off the request path.

Handlers put one ``LogEntry`` per answered request group on a bounded queue
and return at once; a background thread turns entries into Parquet segments
(one per model, version and UTC day), stores each in the blob store and
indexes it in the metadata store by its request ids' ranges (one index row
per entry, however many rows it holds). When the queue is
full the entry is shed (counted, with a warning), never the request.
``close`` drains the queue, so a clean shutdown loses nothing acknowledged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from steward.serving import arrow_columns
from steward.serving.ids import request_ranges
from steward.serving.segments import store_segment

if TYPE_CHECKING:
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
    """Ids that fill whole ranges (``new_request_ids``; a shadow's: those of its request)."""
    inputs: Any
    predictions: Any
    probabilities: Any = None
    entity_ids: list[str | None] | None = None
    correlation_id: str | None = None
    input_names: list[str] | None = None
    """The names of an array's columns (None: numbered from 0)."""
    input_dtypes: list[str] | None = None
    """Their types in the signature (an array holds them in one common type)."""

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
        self._writing = 0
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
        """Entries not yet written: queued, or taken by the writer thread and being written."""
        return len(self._entries) + self._writing

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
                self._writing = len(batch)
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
                self._writing -= len(entries)
                for entry in entries:
                    self._pending_ids.difference_update(entry.request_ids)

    def _write_segment(
        self, model: str, version: int | None, day: str, entries: list[LogEntry]
    ) -> None:
        write_segment(self.workspace, model, version, day, entries)


def write_segment(
    workspace: Workspace, model: str, version: int | None, day: str, entries: list[LogEntry]
) -> None:
    """Store entries of one model version and UTC day as one segment, indexed by the ranges
    of their request ids (one index row per entry's row group, not one per id).

    Raises:
        ValueError: an entry's request ids do not fill whole ranges (``new_request_ids``).
    """
    ranges = [
        (prefix, count, entry.time_ms)
        for entry in entries
        for prefix, count in request_ranges(entry.request_ids)
    ]
    store_segment(workspace, model, version, day, entries_table(entries), ranges)


def _array_table(array: Any, names: list[str] | None, dtypes: list[str] | None) -> Any:
    """A 2-D array as Arrow columns ``input.<name>`` of the signature's types, without pandas."""
    import numpy as np
    import pyarrow as pa

    array = np.asarray(array)
    array = array.reshape(len(array), -1)
    width = array.shape[1]
    named = names is not None and len(names) == width
    labels = names if names is not None and named else [str(i) for i in range(width)]
    types = dtypes if named and dtypes is not None else [None] * width
    return pa.Table.from_arrays(
        [
            arrow_columns.numbers(array[:, i] if dtype is None else array[:, i].astype(dtype))
            for i, dtype in enumerate(types)
        ],
        names=[f"{INPUT_PREFIX}{name}" for name in labels],
    )


def _inputs_table(entries: list[LogEntry]) -> Any:
    """All entries' inputs as one Arrow table, built once (not one table per row)."""
    import numpy as np
    import pyarrow as pa

    arrays = [entry for entry in entries if isinstance(entry.inputs, np.ndarray)]
    numeric = all(entry.inputs.dtype.kind in "biuf" for entry in arrays)
    same_columns = {
        (
            np.shape(entry.inputs)[1:],
            tuple(entry.input_names or ()),
            tuple(entry.input_dtypes or ()),
        )
        for entry in arrays
    }
    if len(arrays) == len(entries) and numeric and len(same_columns) == 1:
        # Numeric rows (MLflow "instances", v2 tensors): one array, one table, no pandas.
        stacked = np.concatenate([entry.inputs.reshape(entry.rows, -1) for entry in arrays])
        return _array_table(stacked, entries[0].input_names, entries[0].input_dtypes)
    import pandas as pd

    frames = []
    for entry in entries:
        if isinstance(entry.inputs, pd.DataFrame):
            frame = entry.inputs.reset_index(drop=True)
        else:
            rows = np.asarray(entry.inputs).reshape(entry.rows, -1)
            names = entry.input_names
            frame = pd.DataFrame(
                rows, columns=names if names and len(names) == rows.shape[1] else None
            )
        frame.columns = [f"{INPUT_PREFIX}{column}" for column in frame.columns]
        frames.append(frame)
    return pa.Table.from_pandas(pd.concat(frames, ignore_index=True), preserve_index=False)


def entries_table(entries: list[LogEntry]) -> Any:
    """The log rows of ``entries`` as one Arrow table (inputs as ``input.<column>``).

    Built column by column from arrays (``arrow_columns``), each entry's constant
    columns as runs: the writer thread shares the interpreter with the request
    handlers, so per-row Python work here slows serving down, and numeric models
    never load pandas.
    """
    import numpy as np
    import pyarrow as pa

    counts = [entry.rows for entry in entries]
    rows = sum(counts)
    request_ids = [request_id for entry in entries for request_id in entry.request_ids]
    entity_ids: list[str | None] = []
    for entry in entries:
        entity_ids += entry.entity_ids or [None] * entry.rows
    versions = [entry.version for entry in entries]
    columns = {
        "request_id": arrow_columns.strings(request_ids),
        "timestamp": arrow_columns.timestamps_ms(
            np.repeat(np.array([entry.time_ms for entry in entries], dtype=np.int64), counts)
        ),
        "model": arrow_columns.string_runs([entries[0].model], [rows]),
        "version": arrow_columns.numbers(
            np.repeat(np.array([version or 0 for version in versions], dtype=np.int64), counts),
            np.repeat(np.array([version is not None for version in versions]), counts),
        ),
        "route": arrow_columns.string_runs([entry.route for entry in entries], counts),
        "protocol": arrow_columns.string_runs([entry.protocol for entry in entries], counts),
        "latency_ms": arrow_columns.numbers(
            np.repeat(np.array([entry.latency_ms for entry in entries], dtype=np.float64), counts)
        ),
        "entity_id": arrow_columns.strings(entity_ids)
        if any(entry.entity_ids for entry in entries)
        else arrow_columns.string_runs([None], [rows]),
        "correlation_id": arrow_columns.string_runs(
            [entry.correlation_id for entry in entries], counts
        ),
        "prediction": arrow_columns.outputs([np.asarray(entry.predictions) for entry in entries]),
        "probabilities": arrow_columns.float_rows(
            [
                None
                if entry.probabilities is None
                else np.asarray(entry.probabilities, dtype=np.float64).reshape(entry.rows, -1)
                for entry in entries
            ],
            counts,
        ),
    }
    meta = pa.Table.from_arrays(list(columns.values()), names=list(columns))
    inputs = _inputs_table(entries)
    for name, column in zip(inputs.column_names, inputs.columns, strict=True):
        meta = meta.append_column(name, column)
    return meta
