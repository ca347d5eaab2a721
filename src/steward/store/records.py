"""Plain records of tracked entities, as the store hands them across seams."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from steward.store.validation import check_name

if TYPE_CHECKING:
    import pandas as pd


_R = TypeVar("_R")


def record_builder(cls: type[_R]) -> Callable[[dict[str, Any]], _R]:
    """A fast way to build records of dataclass ``cls`` from field values by name (the
    caller passes field names only: the codec checks them against the fields first).

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``
    (5 µs for a ``Run``); a page of runs read from the store or off the wire builds
    hundreds. A plain frozen record (no ``__post_init__``, no slots, every field in
    ``__init__``) is built here by filling its ``__dict__`` — fields left out take
    their defaults — which gives the same object. Any other class is built by calling it.
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    plain = (
        not hasattr(cls, "__post_init__")
        and "__slots__" not in vars(cls)
        and all(item.init for item in fields)
    )
    if not plain:
        return lambda values: cls(**values)
    defaults = {
        item.name: item.default for item in fields if item.default is not dataclasses.MISSING
    }
    factories = [
        (item.name, item.default_factory)
        for item in fields
        if item.default_factory is not dataclasses.MISSING
    ]
    required = frozenset(
        item.name
        for item in fields
        if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
    )
    new = object.__new__

    count = len(fields)

    def build(values: dict[str, Any]) -> _R:
        record = new(cls)
        state = record.__dict__
        if len(values) != count:  # some fields left out: their defaults first
            if not required <= values.keys():
                return cls(**values)  # raises TypeError naming what is missing
            state.update(defaults)
            for name, factory in factories:
                if name not in values:
                    state[name] = factory()
        state.update(values)
        return record

    return build


def now_ms() -> int:
    """The current time as integer milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def ms_to_datetime(value: int | None) -> datetime | None:
    """Milliseconds since the epoch to an aware UTC datetime (None stays None)."""
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def datetime_to_ms(value: datetime) -> int:
    """An aware datetime to milliseconds since the epoch (naive means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


class RunStatus(StrEnum):
    """Where a run is in its life."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


class Metric(NamedTuple):
    """One metric point. A NamedTuple because runs log them by the hundred thousand."""

    key: str
    value: float
    step: int
    timestamp_ms: int

    @property
    def timestamp(self) -> datetime:
        """When the point was logged (aware UTC)."""
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)


@dataclass(frozen=True)
class Experiment:
    """A named group of runs."""

    id: str
    name: str
    description: str | None
    lifecycle: str
    created_at: datetime
    created_by: str
    run_count: int = 0


@dataclass(frozen=True)
class Artifact:
    """A file a run logged, stored as a blob."""

    path: str
    digest: str
    size: int
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class Run:
    """A tracked run with its params, latest metric values and tags."""

    id: str
    name: str
    experiment: str
    experiment_id: str
    status: RunStatus
    start_time: datetime
    end_time: datetime | None
    created_by: str
    lifecycle: str = "active"
    parent_id: str | None = None
    system_info_digest: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    last_heartbeat: datetime | None = None
    """When the run's process last said it was alive (None: it never did)."""
    heartbeat_lost: bool = False
    """KILLED because its heartbeat stopped (the process died); it runs again if it speaks."""

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end, or None while running."""
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict of the run (times as ISO 8601; NaN/inf as strings)."""
        return {
            "id": self.id,
            "name": self.name,
            "experiment": self.experiment,
            "experiment_id": self.experiment_id,
            "status": self.status.value,
            "start_time": self.start_time.isoformat(),
            "end_time": self.end_time.isoformat() if self.end_time else None,
            "created_by": self.created_by,
            "lifecycle": self.lifecycle,
            "parent_id": self.parent_id,
            "params": dict(self.params),
            "metrics": {key: json_number(value) for key, value in self.metrics.items()},
            "tags": dict(self.tags),
            "last_heartbeat": self.last_heartbeat.isoformat() if self.last_heartbeat else None,
            "heartbeat_lost": self.heartbeat_lost,
        }


def json_number(value: float) -> float | str:
    """A float as JSON allows it: NaN and infinities become strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


@dataclass(frozen=True)
class RunStart:
    """What a new run is created with, checked when made: its id (made by whoever
    starts it), experiment, name (default ``run-<id prefix>``), first tags, parent,
    system facts, start time (default now) and how long it counts as alive without a
    heartbeat. The store writes it; a client holding a run back builds its record."""

    run_id: str
    experiment_id: str
    given_name: str | None
    given_tags: dict[str, str] | None
    parent_id: str | None
    system_info_digest: str | None
    start_time_ms: int | None
    alive_ms: int | None
    name: str = field(init=False)
    tags: dict[str, str] = field(init=False)
    start_time: int = field(init=False)

    def __post_init__(self) -> None:
        name = check_name("run", self.given_name) if self.given_name else None
        object.__setattr__(self, "name", name or f"run-{self.run_id[:8]}")
        tags = dict(self.given_tags or {})
        for key in tags:
            check_name("tag", key)
        object.__setattr__(self, "tags", tags)
        object.__setattr__(self, "start_time", self.start_time_ms or now_ms())

    def record(self, experiment_name: str, actor: str) -> Run:
        """The run as this start makes it (no read back on the hot path)."""
        started = ms_to_datetime(self.start_time)
        return Run(
            id=self.run_id,
            name=self.name,
            experiment=experiment_name,
            experiment_id=self.experiment_id,
            status=RunStatus.RUNNING,
            start_time=started,  # type: ignore[arg-type]
            end_time=None,
            created_by=actor,
            parent_id=self.parent_id,
            system_info_digest=self.system_info_digest,
            tags=self.tags,
            last_heartbeat=started,
        )


@dataclass(frozen=True)
class RunPage:
    """One page of a run search; ``next_page_token`` is None on the last page."""

    runs: list[Run]
    next_page_token: str | None = None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __getitem__(self, index: int) -> Run:
        return self.runs[index]

    def to_pandas(self) -> pd.DataFrame:
        """One row per run: attributes, then ``params.*``, ``metrics.*``, ``tags.*``."""
        return runs_to_pandas(self.runs)


def runs_to_pandas(runs: list[Run]) -> pd.DataFrame:
    """A DataFrame of runs with MLflow-style column names (built column by column)."""
    import pandas as pd

    columns: dict[str, list[Any]] = {
        "run_id": [run.id for run in runs],
        "run_name": [run.name for run in runs],
        "experiment": [run.experiment for run in runs],
        "status": [run.status.value for run in runs],
        "start_time": [run.start_time for run in runs],
        "end_time": [run.end_time for run in runs],
        "created_by": [run.created_by for run in runs],
        "parent_id": [run.parent_id for run in runs],
    }
    for prefix, missing in (("metrics", math.nan), ("params", None), ("tags", None)):
        keys = sorted({key for run in runs for key in getattr(run, prefix)})
        for key in keys:
            columns[f"{prefix}.{key}"] = [getattr(run, prefix).get(key, missing) for run in runs]
    return pd.DataFrame(columns)
