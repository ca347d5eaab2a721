"""The tracking seam: what the SDK, CLI and server need from a store.

Two implementations: ``LocalTrackingBackend`` (direct store access) and, with
the server, an HTTP one. Calls are coarse on purpose: a batch of metrics,
params and tags is one call, a search returns whole runs, so an HTTP backend
never needs a round trip per row.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from steward.store.records import Artifact, Experiment, Metric, Run, RunPage, RunStatus


class TrackingBackend(Protocol):
    """Experiments, runs and their data, wherever they are stored."""

    defers_run_start: bool
    """Whether ``steward.start_run`` creates a run with its first write instead of at
    once (through a server, where it saves round trips; see ``ActiveRun``)."""

    def create_experiment(self, name: str, description: str | None = None) -> Experiment:
        """Create an experiment (Conflict if the name is taken)."""

    def get_experiment(self, name_or_id: str) -> Experiment:
        """Fetch an experiment by name or id (NotFound if missing)."""

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment called ``name``, created if missing."""

    def list_experiments(self) -> list[Experiment]:
        """All active experiments."""

    def prepare_system_info(self, system_info: dict[str, Any]) -> None:
        """Start storing ``system_info`` for the runs about to be created with it, so that
        making it durable overlaps what comes before them; ``create_run`` and
        ``record_run`` wait for it (a run never names a blob that is not durable)."""

    def create_run(
        self,
        experiment_id: str,
        name: str | None = None,
        tags: dict[str, str] | None = None,
        parent_id: str | None = None,
        system_info: dict[str, Any] | None = None,
        alive_ms: int | None = None,
        params: dict[str, str] | None = None,
    ) -> Run:
        """Start a run (alive for ``alive_ms`` without a heartbeat; None: always), with
        its first ``params`` in the same write."""

    def record_run(
        self,
        run_id: str,
        experiment_id: str,
        name: str | None = None,
        tags: dict[str, str] | None = None,
        parent_id: str | None = None,
        system_info: dict[str, Any] | None = None,
        start_time_ms: int | None = None,
        alive_ms: int | None = None,
        params: dict[str, str] | None = None,
        metrics: Sequence[Metric] = (),
        status: RunStatus | None = None,
    ) -> Run:
        """Create run ``run_id`` (made by the caller) with its first params, tags and
        metrics, and end it with ``status`` if given: one write."""

    def attach_run(self, run_id: str, alive_ms: int | None = None) -> bool:
        """Make a run RUNNING for another writer; True if it was running already."""

    def heartbeat(self, run_ids: Sequence[str], alive_ms: int) -> None:
        """Say that these runs' process is alive, for ``alive_ms`` more."""

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Write metrics, params and tags of one run at once."""

    def end_run(self, run_id: str, status: RunStatus, metrics: Sequence[Metric] = ()) -> None:
        """Write a run's last metrics and mark it ended, at once."""

    def get_run(self, run_id: str) -> Run:
        """Fetch a run (NotFound if missing)."""

    def search_runs(
        self,
        experiments: Sequence[str] | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> RunPage:
        """Search runs with a filter expression."""

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        """All points of one metric of one run."""

    def delete_runs(self, run_ids: Sequence[str]) -> int:
        """Hide runs from searches (kept in the store); returns how many."""

    def restore_runs(self, run_ids: Sequence[str]) -> int:
        """Undo ``delete_runs``."""

    def log_artifacts(self, run_id: str, files: Sequence[tuple[Path, str]]) -> list[Artifact]:
        """Store local files as artifacts of a run, under the given relative paths."""

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        """The artifacts of a run."""

    def download_artifact(
        self, run_id: str, path: str, destination: str | os.PathLike[str]
    ) -> Path:
        """Write one verified artifact to a local file."""

    def system_info(self, run_id: str) -> dict[str, Any]:
        """The system facts recorded when the run started."""
