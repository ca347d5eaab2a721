"""Plain records of the agent's state: triggers, firings, the lease and budgets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class FiringState(StrEnum):
    """Where a firing is: written ``planned`` before its pipeline starts."""

    PLANNED = "planned"
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


UNFINISHED = (FiringState.PLANNED, FiringState.STARTED)
"""States of a firing an agent still owes an outcome."""

SPENT = (FiringState.PLANNED, FiringState.STARTED, FiringState.SUCCEEDED, FiringState.FAILED)
"""States of a firing that count against a budget (it ran, runs, or is about to)."""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class TriggerRecord:
    """A stored trigger: what starts its pipeline, and how far it has looked."""

    id: str
    name: str
    pipeline: str
    params: dict[str, Any]
    kind: str
    spec: dict[str, Any]
    model: str | None
    paused: bool
    cursor: int
    created_at: datetime
    created_by: str
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (times as ISO 8601)."""
        return {
            **self.__dict__,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@dataclass(frozen=True)
class FiringRecord:
    """One firing of a trigger: its idempotency key, cause, state and spend."""

    id: str
    trigger: str
    model: str | None
    key: str
    cause: dict[str, Any]
    state: FiringState
    reason: str | None
    pipeline_run_id: str | None
    planned_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    cpu_seconds: float | None
    agent: str

    @property
    def wall_seconds(self) -> float | None:
        """Seconds from the pipeline's start to the firing's end (None until both)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (times as ISO 8601)."""
        return {
            **self.__dict__,
            "state": self.state.value,
            "planned_at": _iso(self.planned_at),
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "wall_seconds": self.wall_seconds,
        }


@dataclass(frozen=True)
class LeaseRecord:
    """Who runs the workspace's agent, since when, and until when unless renewed."""

    holder: str
    host: str
    pid: int
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime
    last_tick_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (times as ISO 8601)."""
        return {
            **self.__dict__,
            "acquired_at": _iso(self.acquired_at),
            "renewed_at": _iso(self.renewed_at),
            "expires_at": _iso(self.expires_at),
            "last_tick_at": _iso(self.last_tick_at),
        }


@dataclass(frozen=True)
class BudgetRecord:
    """A model's retraining budget; a None limit is no limit."""

    model: str
    max_per_day: int | None
    max_per_week: int | None
    max_cpu_seconds: float | None
    period: str
    min_interval_s: int | None
    persistence: int
    channels: tuple[str, ...]
    updated_at: datetime
    updated_by: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (times as ISO 8601)."""
        return {
            **self.__dict__,
            "channels": list(self.channels),
            "updated_at": _iso(self.updated_at),
        }
