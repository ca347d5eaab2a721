"""Where a server's models log their predictions, and where feedback finds them.

A model from the registry logs to the current workspace; a bundle, served
with no store, to a workspace in its own ``predictions`` folder (or the
server's ``log_dir``). ``PredictionLogs`` opens each workspace once, keeps one
``PredictionLogWriter`` per workspace, and looks up feedback in every
workspace its models log to, so labels find their predictions wherever they
were written — also after a restart, before the model has answered again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from steward.serving.feedback import FeedbackResult, record_feedback

if TYPE_CHECKING:
    from collections.abc import Sequence

    from steward.serving.config import ServingConfig
    from steward.serving.prediction_log import PredictionLogWriter
    from steward.serving.spec import ModelSpec
    from steward.workspace import Workspace


class PredictionLogs:
    """The prediction-log workspaces and writers of one server."""

    def __init__(
        self,
        specs: Sequence[ModelSpec],
        config: ServingConfig,
        workspace: Workspace | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self._specs = list(specs)
        self._config = config
        self._workspace = workspace
        self._log_dir = log_dir
        self._workspaces: dict[str, Workspace] = {}
        self._writers: dict[str, PredictionLogWriter] = {}

    def _home(self, spec: ModelSpec) -> str:
        if self._workspace is not None:
            return "given"
        if spec.source.is_bundle:
            return str(self._log_dir or Path(spec.source.spec) / "predictions")
        return "current"

    def workspace_for(self, spec: ModelSpec) -> Workspace:
        """The workspace ``spec``'s predictions are logged to (opened on first use)."""
        home = self._home(spec)
        if home not in self._workspaces:
            if self._workspace is not None:
                self._workspaces[home] = self._workspace
            elif home == "current":
                from steward.workspace import current_workspace

                self._workspaces[home] = current_workspace()
            else:
                from steward.workspace import open_workspace

                self._workspaces[home] = open_workspace(home=home)
        return self._workspaces[home]

    def writer_for(self, spec: ModelSpec) -> PredictionLogWriter | None:
        """The writer of ``spec``'s predictions (None when it does not log them)."""
        if not spec.config.log_predictions:
            return None
        home = self._home(spec)
        if home not in self._writers:
            from steward.serving.prediction_log import PredictionLogWriter

            self._writers[home] = PredictionLogWriter(
                self.workspace_for(spec),
                max_queue=self._config.log_queue_size,
                flush_rows=self._config.log_flush_rows,
                flush_interval_s=self._config.log_flush_interval_s,
            )
        return self._writers[home]

    def writers(self) -> list[PredictionLogWriter]:
        """Every writer opened so far."""
        return list(self._writers.values())

    def record_feedback(self, labels: list[tuple[str, str]]) -> FeedbackResult:
        """Store labels in whichever workspace logged each request id; report the unknown."""
        accepted: list[str] = []
        remaining = labels
        homes = list(dict.fromkeys(self._home(spec) for spec in self._specs))
        for home in homes:
            spec = next(spec for spec in self._specs if self._home(spec) == home)
            writer = self._writers.get(home)
            if writer is not None and writer.pending([request_id for request_id, _ in remaining]):
                # A label for a prediction still queued: write the queue first, so the
                # label joins the prediction's indexed range (still queued after the
                # flush's wait: reported unknown, to be sent again).
                writer.flush()
            result = record_feedback(self.workspace_for(spec), remaining)
            accepted += result.accepted
            unknown = set(result.unknown)
            remaining = [
                (request_id, label) for request_id, label in remaining if request_id in unknown
            ]
            if not remaining:
                break
        unknown_ids = list(dict.fromkeys(request_id for request_id, _ in remaining))
        return FeedbackResult(accepted, unknown_ids)

    async def close(self) -> None:
        """Drain and stop every writer (the log is flushed)."""
        for writer in self._writers.values():
            await asyncio.to_thread(writer.close)
