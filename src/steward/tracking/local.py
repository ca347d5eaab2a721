"""The tracking backend that talks to the stores directly."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from steward.blobs import BlobStore
from steward.errors import NotFound
from steward.store.metadata import MetadataStore
from steward.store.records import Artifact, Experiment, Metric, Run, RunPage, RunStatus
from steward.store.validation import check_artifact_path


def _system_info_payload(system_info: dict[str, Any]) -> bytes:
    """The system-info blob's bytes: one serialisation, whichever path stores it, so
    the same facts always get the same digest."""
    return json.dumps(system_info, sort_keys=True, default=str).encode()


class LocalTrackingBackend:
    """Tracking on a local or database-backed store, writing as ``actor``."""

    def __init__(
        self, store: MetadataStore, blobs: BlobStore, actor: str, defers_run_start: bool = False
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.actor = actor
        self.defers_run_start = defers_run_start
        """Whether ``steward.start_run`` creates runs with their first write (a server)."""
        self._system_info: dict[str, Any] | None = None
        self._system_info_digest_value = ""
        self._system_info_lock = threading.Lock()
        self._preparing: tuple[dict[str, Any], str, ExitStack] | None = None
        """System info whose blob is written and on its way to disk (``prepare_system_info``)."""
        self._experiments: dict[str, Experiment] = {}

    def create_experiment(self, name: str, description: str | None = None) -> Experiment:
        """Create an experiment (Conflict if the name is taken)."""
        return self.store.tracking.create_experiment(name, self.actor, description)

    def get_experiment(self, name_or_id: str) -> Experiment:
        """Fetch an experiment by name or id."""
        return self.store.tracking.get_experiment(name_or_id)

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment called ``name``, created if missing (cached: ids never change)."""
        experiment = self._experiments.get(name)
        if experiment is None:
            experiment = self.store.tracking.get_or_create_experiment(name, self.actor)
            self._experiments[name] = experiment
        return experiment

    def list_experiments(self) -> list[Experiment]:
        """All active experiments."""
        return self.store.tracking.list_experiments()

    def prepare_system_info(self, system_info: dict[str, Any]) -> None:
        """Write the system-info blob now and fsync it in the background (its batch is
        published by the next ``create_run`` / ``record_run``, before the run is)."""
        with self._system_info_lock:
            if self._system_info is system_info or self._preparing is not None:
                return
            payload = _system_info_payload(system_info)
            stack = ExitStack()
            batch = stack.enter_context(self.blobs.batch(sync_early=True))
            try:
                digest = batch.put_bytes(payload).digest
            except BaseException:
                stack.close()
                raise
            self._preparing = (system_info, digest, stack)

    def _system_info_digest(self, system_info: dict[str, Any]) -> str:
        # The SDK passes the same (cached) dict for every run of a process.
        with self._system_info_lock:
            if self._preparing is not None:
                prepared, digest, stack = self._preparing
                self._preparing = None
                stack.close()  # durable, then visible: before the run that names it
                if prepared is system_info:
                    self._system_info, self._system_info_digest_value = prepared, digest
            if self._system_info is not system_info:
                payload = _system_info_payload(system_info)
                self._system_info_digest_value = self.blobs.put_bytes(payload).digest
                self._system_info = system_info
            return self._system_info_digest_value

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
        if params:  # the write that creates a run with its params: a new id of ours
            return self.record_run(
                uuid.uuid4().hex, experiment_id, name, tags, parent_id, system_info,
                alive_ms=alive_ms, params=params,
            )  # fmt: skip
        digest = self._system_info_digest(system_info) if system_info else None
        return self.store.tracking.create_run(
            experiment_id, name, self.actor, tags, parent_id, digest, alive_ms=alive_ms
        )

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
        """Create run ``run_id`` with its first params, tags and metrics, and end it with
        ``status`` if given: one write."""
        digest = self._system_info_digest(system_info) if system_info else None
        return self.store.tracking.record_run(
            run_id,
            experiment_id,
            self.actor,
            name,
            tags,
            parent_id,
            digest,
            start_time_ms,
            alive_ms,
            params,
            metrics,
            status,
        )

    def attach_run(self, run_id: str, alive_ms: int | None = None) -> bool:
        """Make a run RUNNING for another writer; True if it was running already."""
        return self.store.tracking.attach_run(run_id, alive_ms, self.actor)

    def heartbeat(self, run_ids: Sequence[str], alive_ms: int) -> None:
        """Say that these runs' process is alive, for ``alive_ms`` more."""
        self.store.tracking.heartbeat(run_ids, alive_ms)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Write metrics, params and tags of one run at once."""
        self.store.tracking.log_batch(run_id, self.actor, metrics, params, tags)

    def end_run(self, run_id: str, status: RunStatus, metrics: Sequence[Metric] = ()) -> None:
        """Write a run's last metrics and mark it ended, at once."""
        self.store.tracking.end_run(run_id, status, actor=self.actor, metrics=metrics)

    def get_run(self, run_id: str) -> Run:
        """Fetch a run."""
        return self.store.tracking.get_run(run_id)

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
        return self.store.tracking.search_runs(
            experiments, filter, order_by, max_results, page_token, include_deleted
        )

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        """All points of one metric of one run."""
        return self.store.tracking.metric_history(run_id, key)

    def delete_runs(self, run_ids: Sequence[str]) -> int:
        """Hide runs from searches (kept in the store)."""
        return self.store.tracking.set_lifecycle(run_ids, "deleted", self.actor)

    def restore_runs(self, run_ids: Sequence[str]) -> int:
        """Undo ``delete_runs``."""
        return self.store.tracking.set_lifecycle(run_ids, "active", self.actor)

    def log_artifacts(self, run_id: str, files: Sequence[tuple[Path, str]]) -> list[Artifact]:
        """Store local files as artifacts under validated relative paths."""
        checked = [(Path(local), check_artifact_path(path)) for local, path in files]
        self.store.tracking.get_run(run_id)  # fail on an unknown run before uploading
        entries = []
        for local, path in checked:
            ref = self.blobs.put_file(local)
            entries.append((path, ref.digest, ref.size))
        self.store.tracking.add_artifacts(run_id, self.actor, entries)
        wanted = {path for path, _, _ in entries}
        return [item for item in self.list_artifacts(run_id) if item.path in wanted]

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        """The artifacts of a run."""
        return self.store.tracking.list_artifacts(run_id)

    def download_artifact(
        self, run_id: str, path: str, destination: str | os.PathLike[str]
    ) -> Path:
        """Write one verified artifact to a local file."""
        wanted = check_artifact_path(path)
        for artifact in self.list_artifacts(run_id):
            if artifact.path == wanted:
                return self.blobs.get_file(artifact.digest, destination)
        raise NotFound(f"run {run_id} has no artifact {wanted!r}.")

    def system_info(self, run_id: str) -> dict[str, Any]:
        """The system facts recorded when the run started."""
        digest = self.get_run(run_id).system_info_digest
        if digest is None:
            return {}
        result: dict[str, Any] = json.loads(self.blobs.get_bytes(digest))
        return result
