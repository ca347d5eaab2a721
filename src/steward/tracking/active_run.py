"""The handle of a run in progress: what ``steward.start_run()`` returns."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from steward.errors import InvalidInput, NotFound, StorageError
from steward.paths import list_folder
from steward.store.records import Artifact, Metric, Run, RunStatus, datetime_to_ms, now_ms
from steward.store.validation import (
    check_artifact_path,
    check_metric_value,
    check_name,
    check_param_value,
    check_step,
    check_tag_value,
    param_conflict,
)
from steward.tracking.backend import TrackingBackend
from steward.tracking.metric_buffer import MetricBuffer


def _timestamp_ms(timestamp: int | datetime | None) -> int:
    if timestamp is None:
        return now_ms()
    if isinstance(timestamp, datetime):
        return datetime_to_ms(timestamp)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise InvalidInput(
            "timestamp must be integer milliseconds since the epoch or a datetime, "
            f"got {timestamp!r}."
        )
    return timestamp


@dataclass
class UnsentStart:
    """What creates a run started through a server, kept until its first write, with
    the params and tags logged meanwhile."""

    tags: dict[str, str]
    system_info: dict[str, Any] | None
    start_time_ms: int
    alive_ms: int | None
    params: dict[str, str] = field(default_factory=dict)


class ActiveRun:
    """A run that is being logged to. Use as a context manager or call ``end()``.

    Leaving a ``with`` block normally ends the run FINISHED; an exception ends
    it FAILED, KeyboardInterrupt KILLED. A handle that joined a run another
    process is logging to (``start_run(run_id=...)`` on a RUNNING run) only
    detaches when its block or process ends: its metrics are written and the
    run goes on; ``end()`` ends it for everyone.

    A run started through a server (``unsent``) is created together with its
    first write: its params and tags wait in memory and travel with its first
    metrics, at the latest when the metric writer next drains (``interval``,
    0.5 s) or when the run ends — a short run is one request. Anything that
    needs the run stored (artifacts, ``info``, a child run) sends it first.
    An inline pipeline step's run, stored by its pipeline with its end, is
    likewise written first (``store_first``) by whatever needs it stored.
    """

    def __init__(
        self,
        backend: TrackingBackend,
        record: Run,
        buffer: MetricBuffer,
        on_end: Callable[[ActiveRun], None] | None = None,
        joined: bool = False,
        unsent: UnsentStart | None = None,
        store_first: Callable[[], None] | None = None,
    ) -> None:
        self._backend = backend
        self._store_first = store_first
        self._record = record
        self._buffer = buffer
        self._unsent = unsent
        self._start_lock = threading.Lock()
        if unsent is not None:  # the metric writer sends it if nothing else does first
            buffer.add(record.id, self._write_points, [])
        self._next_step: dict[str, int] = {}
        self._known_keys: set[str] = set()
        self._lock = threading.Lock()
        self._status: RunStatus | None = None
        self._detached = False
        self._on_end = on_end
        self.joined = joined
        """Whether this handle joined a run that was already running elsewhere."""

    @property
    def id(self) -> str:
        """The run's id. A run started through a server is sent first, so that whoever
        is handed the id (a model's source run, a dataset read's lineage, a child run)
        finds the run stored."""
        self.send_start()
        return self._record.id

    @property
    def sent(self) -> bool:
        """Whether the run is stored (False only for a run started through a server
        that nothing has sent yet)."""
        return self._unsent is None and self._store_first is None

    @property
    def name(self) -> str:
        """The run's name."""
        return self._record.name

    @property
    def experiment(self) -> str:
        """The name of the run's experiment."""
        return self._record.experiment

    @property
    def experiment_id(self) -> str:
        """The id of the run's experiment."""
        return self._record.experiment_id

    @property
    def parent_id(self) -> str | None:
        """The id of the parent run, for nested runs."""
        return self._record.parent_id

    @property
    def backend(self) -> TrackingBackend:
        """Where the run is stored."""
        return self._backend

    @property
    def ended(self) -> bool:
        """Whether ``end()`` (or, for a joined run, ``detach()``) has been called."""
        return self._status is not None or self._detached

    @property
    def info(self) -> Run:
        """The run as stored now (pending metrics are flushed first)."""
        self.flush()
        return self._backend.get_run(self._record.id)

    def send_start(self, metrics: Sequence[Metric] = (), status: RunStatus | None = None) -> bool:
        """Create a run started through a server, with what waited for it, ``metrics``
        and its end ``status`` if given; False (nothing sent) if it is stored already.
        A pipeline step's run held back is written first (by its pipeline, without
        ``metrics`` or ``status``: False).

        Raises:
            StewardError: the creation failed (the run stays unsent, to be sent again).
        """
        with self._start_lock:
            if self._store_first is not None:
                self._store_first()  # a pipeline step's run: its pipeline writes it
                self._store_first = None
            unsent = self._unsent
            if unsent is None:
                return False
            self._backend.record_run(
                self._record.id,
                self.experiment_id,
                name=self.name,
                tags=unsent.tags,
                parent_id=self.parent_id,
                system_info=unsent.system_info,
                start_time_ms=unsent.start_time_ms,
                alive_ms=unsent.alive_ms,
                params=unsent.params,
                metrics=metrics,
                status=status,
            )
            self._unsent = None
            return True

    def _check_open(self) -> None:
        if self._detached:
            raise InvalidInput(
                f"this process detached from run {self._record.id}; attach again with "
                f"steward.start_run(run_id={self._record.id!r}) to log more."
            )
        if self._status is not None:
            raise InvalidInput(
                f"run {self._record.id} has ended ({self._status.value}); "
                "start a new run to log more."
            )

    def _key(self, kind: str, key: str) -> str:
        if key not in self._known_keys:
            check_name(kind, key)
            self._known_keys.add(key)
        return key

    def log_param(self, key: str, value: Any) -> None:
        """Log one param (immutable: a different value later is refused)."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log several params in one write."""
        self._check_open()
        checked = {self._key("param", k): check_param_value(k, v) for k, v in params.items()}
        with self._start_lock:
            if self._unsent is not None:
                waiting = self._unsent.params
                for key, value in checked.items():
                    if waiting.get(key, value) != value:
                        raise param_conflict(self._record.id, key, waiting[key], value)
                waiting.update(checked)
                return
        self._backend.log_batch(self._record.id, params=checked)

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag (tags can be overwritten)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags in one write."""
        self._check_open()
        checked = {self._key("tag", k): check_tag_value(k, v) for k, v in tags.items()}
        with self._start_lock:
            if self._unsent is not None:
                self._unsent.tags.update(checked)
                return
        self._backend.log_batch(self._record.id, tags=checked)

    def _points(
        self, metrics: Mapping[str, Any], step: int | None, timestamp_ms: int
    ) -> list[Metric]:
        """Validated points, all checks done before any is queued (all or nothing).

        The hot loop of ``log_metrics``: floats skip the generic number check,
        known keys skip the name check, and the step counters are updated once
        per call.
        """
        known = self._known_keys
        values = [
            (
                key if key in known else self._key("metric", key),
                value if type(value) is float else check_metric_value(key, value),
            )
            for key, value in metrics.items()
        ]
        next_step = self._next_step
        with self._lock:
            if step is None:
                points = [Metric(k, v, next_step.get(k, 0), timestamp_ms) for k, v in values]
                next_step.update({point.key: point.step + 1 for point in points})
            else:
                step = check_step(next(iter(metrics), "metric"), step)
                points = [Metric(k, v, step, timestamp_ms) for k, v in values]
                next_step.update(dict.fromkeys(metrics, step + 1))
        return points

    def _write_points(self, run_id: str, points: Sequence[Metric]) -> None:
        if not self.send_start(points) and points:
            self._backend.log_batch(run_id, metrics=points)

    def log_metric(
        self,
        key: str,
        value: float,
        step: int | None = None,
        timestamp: int | datetime | None = None,
    ) -> None:
        """Queue one metric point; without ``step`` the key's next step (0, 1, 2…) is used."""
        self._check_open()
        self._buffer.add(
            self._record.id,
            self._write_points,
            self._points({key: value}, step, _timestamp_ms(timestamp)),
        )

    def log_metrics(
        self,
        metrics: Mapping[str, float],
        step: int | None = None,
        timestamp: int | datetime | None = None,
    ) -> None:
        """Queue several metric points sharing a step and timestamp."""
        self._check_open()
        self._buffer.add(
            self._record.id,
            self._write_points,
            self._points(metrics, step, _timestamp_ms(timestamp)),
        )

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None) -> Artifact:
        """Store a local file as an artifact, under ``name`` (default: the file name)."""
        self._check_open()
        local = Path(path)
        if not local.is_file():
            raise NotFound(f"cannot log artifact {local}: no such file.")
        artifact_path = check_artifact_path(name or local.name)
        self.send_start()
        return self._backend.log_artifacts(self._record.id, [(local, artifact_path)])[0]

    def log_artifacts(
        self,
        directory: str | os.PathLike[str],
        prefix: str | None = None,
        follow_links: bool = False,
    ) -> list[Artifact]:
        """Store every file under ``directory``, keeping relative paths (under ``prefix``).

        Links follow the rule of ``steward.paths``: one pointing inside
        ``directory`` is stored as what it points to; one pointing outside is
        refused unless ``follow_links``; a dangling one is an error.

        Raises:
            NotFound: ``directory`` is not a folder.
            InvalidInput: a link breaks the rule, or a folder cannot be read (names it).
        """
        self._check_open()
        root = Path(directory)
        if not root.is_dir():
            raise NotFound(f"cannot log artifacts from {root}: no such folder.")
        files = [
            (
                Path(file.path),
                check_artifact_path(f"{prefix}/{file.relpath}" if prefix else file.relpath),
            )
            for file in list_folder(root, follow_links)
        ]
        self.send_start()
        return self._backend.log_artifacts(self._record.id, files)

    def flush(self) -> None:
        """Block until the run and every metric queued so far are durable."""
        self.send_start()
        self._buffer.flush()

    def end(self, status: RunStatus | str = RunStatus.FINISHED) -> None:
        """Flush pending metrics and mark the run ended (a second call does nothing).

        Raises:
            StorageError: the store cannot be written now (a full disk): the run
                stays active with its pending metrics, so ``end()`` can be called
                again once the cause is fixed.
        """
        if self.ended:
            return
        final = RunStatus(status) if isinstance(status, str) else status
        self._status = final
        pending = self._buffer.take(self._record.id)
        # The run's last metrics and its end are one transaction (with its creation
        # too, for a run started through a server that nothing has sent yet).
        try:
            if not self.send_start(pending, final):
                self._backend.end_run(self._record.id, final, metrics=pending)
        except StorageError:
            self._status = None
            if pending:
                self._buffer.add(self._record.id, self._write_points, pending)
            raise
        except BaseException:
            if self._on_end is not None:
                self._on_end(self)
            raise
        if self._on_end is not None:
            self._on_end(self)
        # Only now report an earlier background failure: the run is ended either way.
        self._buffer.raise_errors()

    def detach(self) -> None:
        """Write this process's pending metrics and stop logging to the run, leaving it
        running for the other processes that log to it (a second call does nothing)."""
        if self.ended:
            return
        pending = self._buffer.take(self._record.id)
        if pending:
            try:
                self._write_points(self._record.id, pending)
            except StorageError:
                self._buffer.add(self._record.id, self._write_points, pending)
                raise
        self._detached = True
        if self._on_end is not None:
            self._on_end(self)
        self._buffer.raise_errors()

    def leave(self, status: RunStatus) -> None:
        """The block or process using the run is over: end it with ``status`` if this
        handle owns it, detach if it joined a run that others are logging to."""
        if self.joined:
            self.detach()
        else:
            self.end(status)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.leave(RunStatus.FINISHED)
        elif issubclass(exc_type, KeyboardInterrupt):
            self.leave(RunStatus.KILLED)
        else:
            self.leave(RunStatus.FAILED)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.name!r} id={self._record.id} experiment={self.experiment!r}>"
