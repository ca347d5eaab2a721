"""Plain records of pipeline runs, their steps and cache entries, as the store hands them out.

Kept apart from the SQL (``steward.store.pipelines``) so the pipeline SDK can
name them without importing SQLAlchemy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from steward.errors import NotFound
from steward.store.records import Metric, RunStatus


class StepStatus(StrEnum):
    """Where a step of a pipeline run is."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"


DONE_STATUSES = frozenset({StepStatus.COMPLETED, StepStatus.CACHED})


INLINE_LIMIT = 512
"""JSON outputs up to this many bytes live in the step's record, not in a blob: a blob
costs a file and its fsync, more than a small step itself."""


@dataclass(frozen=True)
class StepOutput:
    """One stored output of a step: a blob and how to read it back."""

    name: str
    kind: str
    """The codec: ``json``, ``pandas``, ``polars``, ``arrow``, ``numpy``, ``bytes`` or ``model``."""
    digest: str
    size: int
    type: str
    """The Python type the step returned (``pandas.DataFrame``…)."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Codec details: a model's run, artifact path and flavor."""
    inline: str | None = None
    """A small JSON output's text, kept in the metadata store beside its digest instead of
    in a blob (no blob is written)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        found = {
            "name": self.name,
            "kind": self.kind,
            "digest": self.digest,
            "size": self.size,
            "type": self.type,
            "meta": self.meta,
        }
        if self.inline is not None:
            found["inline"] = self.inline
        return found

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> StepOutput:
        """The inverse of ``to_dict``."""
        return cls(
            raw["name"],
            raw["kind"],
            raw["digest"],
            raw["size"],
            raw["type"],
            raw.get("meta", {}),
            raw.get("inline"),
        )


def outputs_to_json(outputs: Sequence[StepOutput]) -> str:
    """Outputs as the JSON text stored in a step row or cache entry."""
    return json.dumps([output.to_dict() for output in outputs])


def outputs_from_json(text: str | None) -> tuple[StepOutput, ...]:
    """The inverse of ``outputs_to_json`` (None: no outputs)."""
    return tuple(StepOutput.from_dict(item) for item in json.loads(text)) if text else ()


@dataclass(frozen=True)
class StepRecord:
    """One step of a pipeline run, as stored."""

    name: str
    position: int
    function: str
    depends_on: tuple[str, ...]
    inputs: dict[str, Any]
    """Argument name -> the upstream output(s) it receives (``{"step", "output"}``)."""
    params: dict[str, Any]
    status: StepStatus
    run_id: str | None
    cache_key: str | None
    code_digest: str | None
    cached_from_run: str | None
    """For a cached step: the pipeline run whose step computed the outputs."""
    outputs: tuple[StepOutput, ...]
    error: str | None
    started_at: datetime | None
    ended_at: datetime | None
    cpu_seconds: float | None
    peak_memory_bytes: int | None
    worker: str | None

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end (None unless both are known)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def output(self, name: str = "output") -> StepOutput:
        """The output called ``name``.

        Raises:
            NotFound: the step has no such output (or none yet).
        """
        for output in self.outputs:
            if output.name == name:
                return output
        names = ", ".join(output.name for output in self.outputs) or "none"
        raise NotFound(f"step {self.name!r} has no output {name!r} (its outputs: {names}).")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "name": self.name,
            "position": self.position,
            "function": self.function,
            "depends_on": list(self.depends_on),
            "inputs": self.inputs,
            "params": self.params,
            "status": self.status.value,
            "run_id": self.run_id,
            "cache_key": self.cache_key,
            "code_digest": self.code_digest,
            "cached_from_run": self.cached_from_run,
            "outputs": [output.to_dict() for output in self.outputs],
            "error": self.error,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "duration_s": self.duration_s,
            "cpu_seconds": self.cpu_seconds,
            "peak_memory_bytes": self.peak_memory_bytes,
            "worker": self.worker,
        }


@dataclass(frozen=True)
class PipelineRunRecord:
    """A run of a pipeline: its tracking run's state plus the pipeline's own facts."""

    id: str
    """The id of the tracking run that is this pipeline run."""
    pipeline: str
    target: str
    experiment: str
    status: RunStatus
    start_time: datetime
    end_time: datetime | None
    params: dict[str, Any]
    result: Any
    """What the pipeline returns: an output reference, a list or dict of them, or None."""
    executor: str
    cache: bool
    resumed_from: str | None
    host: str
    pid: int
    created_by: str
    steps: tuple[StepRecord, ...]

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end, or None while running."""
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()

    def step(self, name: str) -> StepRecord:
        """The step called ``name``.

        Raises:
            NotFound: the pipeline has no such step.
        """
        for step in self.steps:
            if step.name == name:
                return step
        known = ", ".join(step.name for step in self.steps)
        raise NotFound(f"pipeline run {self.id} has no step {name!r} (its steps: {known}).")

    def counts(self) -> dict[str, int]:
        """How many steps are in each status."""
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.status.value] = counts.get(step.status.value, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict, steps included."""
        return {
            "id": self.id,
            "pipeline": self.pipeline,
            "target": self.target,
            "experiment": self.experiment,
            "status": self.status.value,
            "start_time": self.start_time.isoformat(),
            "end_time": self.end_time.isoformat() if self.end_time else None,
            "duration_s": self.duration_s,
            "params": self.params,
            "result": self.result,
            "executor": self.executor,
            "cache": self.cache,
            "resumed_from": self.resumed_from,
            "host": self.host,
            "pid": self.pid,
            "created_by": self.created_by,
            "counts": self.counts(),
            "steps": [step.to_dict() for step in self.steps],
        }


@dataclass(frozen=True)
class CacheEntry:
    """Outputs a step computed, found again by its cache key."""

    key: str
    function: str
    code_digest: str
    outputs: tuple[StepOutput, ...]
    step_pk: int
    created_at: datetime
    stale: bool = False
    """The step that computed it read a dataset version that is no longer the latest."""


@dataclass(frozen=True)
class NewStep:
    """A step row to create with its pipeline run."""

    name: str
    position: int
    function: str
    depends_on: tuple[str, ...]
    inputs: dict[str, Any]
    params: dict[str, Any]


@dataclass(frozen=True)
class StepStart:
    """A step about to run: its nested run is created as RUNNING (tags come with its end)."""

    step_pk: int
    name: str
    run_id: str
    started_at: int


@dataclass(frozen=True)
class StepOutcome:
    """Everything to record about a step that finished (or was cached, or skipped).

    ``run_id`` names the step's nested run: one ``StepStart`` created, or, with
    ``create_run``, one created now (a cache hit), or None (a skipped step).
    """

    step_pk: int
    name: str
    status: StepStatus
    run_id: str | None = None
    create_run: bool = False
    started_at: int | None = None
    ended_at: int | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: Sequence[Metric] = ()
    artifacts: Sequence[tuple[str, str, int]] = ()
    cache_key: str | None = None
    code_digest: str | None = None
    function: str = ""
    cached_from_pk: int | None = None
    outputs: Sequence[StepOutput] = ()
    error: str | None = None
    cpu_seconds: float | None = None
    peak_memory_bytes: int | None = None
    worker: str | None = None
    store_in_cache: bool = False


@dataclass(frozen=True)
class ReusableStep:
    """What resuming needs of a step of an earlier run."""

    step_pk: int
    status: StepStatus
    cache_key: str | None
    outputs: tuple[StepOutput, ...]
