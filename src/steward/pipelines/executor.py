"""Executors: where steps run, behind one small protocol, registered by name.

``inline`` runs each step in the calling process, one after another, and
hands outputs to the next step in memory. ``process`` runs independent steps
side by side in a pool of local worker processes. ``ray`` runs them on a Ray
cluster (``pip install "mlsteward[ray]"``). Implementations are imported only
when chosen, so neither the process pool nor Ray is loaded by ``import steward``.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol

from steward.errors import InvalidInput

if TYPE_CHECKING:
    from steward.blobs import BlobWriter
    from steward.pipelines.worker import StepResult, StepTask
    from steward.store.pipeline_records import StepOutput
    from steward.tracking.backend import TrackingBackend

EXECUTORS: dict[str, str] = {
    "inline": "steward.pipelines.executor:InlineExecutor",
    "process": "steward.pipelines.process:ProcessExecutor",
    "ray": "steward.pipelines.ray:RayExecutor",
}
"""Executors by name, as ``module:Class``."""


class Executor(Protocol):
    """Runs step tasks; a finished task's future holds its ``StepResult``.

    ``submit`` may run the task before returning (inline). A worker that dies
    sets an exception on its future (``WorkerLost``); the step's own errors
    are results, never exceptions.
    """

    name: str
    in_memory: bool
    """Whether results carry values in memory (and inputs may be handed over in memory)."""

    def open(self) -> None:
        """Get ready to run (start workers, connect to a cluster)."""

    def submit(self, task: StepTask) -> Future[StepResult]:
        """Start running ``task``."""

    def close(self) -> None:
        """Release workers and connections."""


class WorkerLost(Exception):
    """The process running a step died (killed, out of memory) or its cluster went away."""


def create_executor(name: str, **options: Any) -> Executor:
    """The executor registered as ``name``, built with ``options``.

    Raises:
        InvalidInput: no executor has that name.
    """
    target = EXECUTORS.get(name)
    if target is None:
        raise InvalidInput(
            f"unknown executor {name!r}; choose one of {', '.join(sorted(EXECUTORS))}."
        )
    module_name, class_name = target.split(":")
    factory: Callable[..., Executor] = getattr(importlib.import_module(module_name), class_name)
    return factory(**options)


class InlineExecutor:
    """Runs each step in this process as it is submitted; values stay in memory."""

    name = "inline"
    in_memory = True

    def __init__(
        self,
        load_input: Callable[[StepOutput], Any] | None = None,
        writer: BlobWriter | None = None,
        tracking: TrackingBackend | None = None,
        store_run: Callable[[str], None] | None = None,
    ) -> None:
        self.load_input = load_input
        self.writer = writer
        self.tracking = tracking
        self.store_run = store_run

    def bind(
        self,
        load_input: Callable[[StepOutput], Any],
        writer: BlobWriter,
        tracking: TrackingBackend | None = None,
        store_run: Callable[[str], None] | None = None,
    ) -> None:
        """Where inputs come from, outputs go and step runs are stored (set by the runner
        for each run); ``store_run(step)`` writes a step's run whose creation the runner
        deferred, before the step's code uses it."""
        self.load_input = load_input
        self.writer = writer
        self.tracking = tracking
        self.store_run = store_run

    def open(self) -> None:
        """Nothing to start."""

    def submit(self, task: StepTask) -> Future[StepResult]:
        """Run the task now; the returned future is already done."""
        from steward.pipelines.worker import execute

        assert self.load_input is not None and self.writer is not None
        future: Future[StepResult] = Future()
        store_run = self.store_run
        store_first = None if store_run is None else functools.partial(store_run, task.node)
        future.set_result(execute(task, self.load_input, self.writer, self.tracking, store_first))
        return future

    def close(self) -> None:
        """Nothing to release."""
